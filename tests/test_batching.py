from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seq2seq.batching import (
    POOL_BATCHES,
    Batch,
    bucket_batches,
    collate,
    padding_ratio,
    sorted_batches,
)
from seq2seq.errors import UserError
from tests.helpers import shared_data_dir

PAD, BOS, EOS = 0, 1, 2


def example_batch() -> Batch:
    examples = [([5, 6, 7], [8]), ([9], [10, 11, 12]), ([13, 14], [])]
    return collate(examples, [4, 0, 2], pad_id=PAD, bos_id=BOS, eos_id=EOS)


def test_collate_pads_and_places_bos_eos():
    batch = example_batch()
    assert batch.src.tolist() == [[5, 6, 7], [9, PAD, PAD], [13, 14, PAD]]
    assert batch.src_lengths.tolist() == [3, 1, 2]
    assert batch.tgt_in.tolist() == [[BOS, 8, PAD, PAD], [BOS, 10, 11, 12], [BOS, PAD, PAD, PAD]]
    assert batch.tgt_out.tolist() == [[8, EOS, PAD, PAD], [10, 11, 12, EOS], [EOS, PAD, PAD, PAD]]
    assert batch.tgt_lengths.tolist() == [2, 4, 1]
    assert batch.indices.tolist() == [4, 0, 2]
    assert batch.target_tokens == 7
    for tensor in (batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out,
                   batch.tgt_lengths, batch.indices):
        assert tensor.dtype == torch.int64


def test_collate_lengths_match_non_pad_positions():
    batch = collate([([3] * 4, [4] * 2), ([5] * 7, [6] * 5)], [0, 1], pad_id=9, bos_id=1,
                    eos_id=2)
    assert batch.src.shape == (2, 7) and batch.tgt_in.shape == batch.tgt_out.shape == (2, 6)
    assert (batch.src != 9).sum(dim=1).tolist() == batch.src_lengths.tolist()
    assert (batch.tgt_out != 9).sum(dim=1).tolist() == batch.tgt_lengths.tolist()
    assert (batch.tgt_in != 9).sum(dim=1).tolist() == batch.tgt_lengths.tolist()


def test_collate_empty_source_becomes_eos():
    batch = collate([([], [7, 8]), ([], [])], [0, 1], pad_id=PAD, bos_id=BOS, eos_id=EOS)
    assert batch.src.tolist() == [[EOS], [EOS]]
    assert batch.src_lengths.tolist() == [1, 1]
    assert batch.tgt_out.tolist() == [[7, 8, EOS], [EOS, PAD, PAD]]


def test_collate_rejects_mismatched_indices():
    with pytest.raises(ValueError, match="2 examples but 1 indices"):
        collate([([1], [2]), ([3], [4])], [0], pad_id=PAD, bos_id=BOS, eos_id=EOS)


def test_batch_to_keeps_values():
    batch = example_batch()
    moved = batch.to("cpu")
    assert isinstance(moved, Batch)
    assert torch.equal(moved.tgt_out, batch.tgt_out) and torch.equal(moved.src, batch.src)


lengths_strategy = st.one_of(
    st.lists(st.integers(0, 40), max_size=300),
    st.lists(st.tuples(st.integers(0, 40), st.integers(1, 40)), max_size=300),
)


@settings(max_examples=60, deadline=None)
@given(lengths=lengths_strategy, batch_size=st.integers(1, 80),
       unit=st.sampled_from(["sentences", "tokens"]), seed=st.integers(0, 5),
       epoch=st.integers(0, 5), shuffle=st.booleans())
def test_bucket_batches_covers_every_index_once(lengths, batch_size, unit, seed, epoch,
                                                shuffle):
    batches = bucket_batches(lengths, batch_size, unit, seed=seed, epoch=epoch, shuffle=shuffle)
    assert Counter(i for batch in batches for i in batch) == Counter(range(len(lengths)))
    assert all(batches)
    if unit == "sentences":
        assert all(len(batch) <= batch_size for batch in batches)


def pair_lengths(count: int, seed: int = 3) -> list[tuple[int, int]]:
    generator = torch.Generator().manual_seed(seed)
    return [tuple(pair) for pair in torch.randint(1, 60, (count, 2), generator=generator).tolist()]


def test_bucket_batches_deterministic_per_epoch():
    lengths = pair_lengths(500)
    first = bucket_batches(lengths, 8, "sentences", seed=7, epoch=1)
    assert first == bucket_batches(lengths, 8, "sentences", seed=7, epoch=1)
    assert first != bucket_batches(lengths, 8, "sentences", seed=7, epoch=2)
    assert first != bucket_batches(lengths, 8, "sentences", seed=8, epoch=1)


def test_token_batches_respect_budget():
    lengths = pair_lengths(1000) + [(200, 3)]  # one example longer than the budget
    budget = 150
    batches = bucket_batches(lengths, budget, "tokens", seed=0, epoch=0)
    for batch in batches:
        longest = max(max(lengths[i]) for i in batch)
        assert len(batch) * longest <= budget or len(batch) == 1
    assert [1000] in batches
    assert sum(len(batch) for batch in batches) == len(lengths)


def test_no_shuffle_keeps_pools_in_order():
    lengths = [(count % 17 + 1, count % 5 + 1) for count in range(450)]
    batch_size = 2
    pool = POOL_BATCHES * batch_size
    batches = bucket_batches(lengths, batch_size, "sentences", seed=0, epoch=0, shuffle=False)
    flat = [i for batch in batches for i in batch]
    for start in range(0, len(lengths), pool):
        in_pool = flat[start:start + pool]
        assert sorted(in_pool) == list(range(start, min(start + pool, len(lengths))))
        keys = [(max(lengths[i]), lengths[i][1], lengths[i][0]) for i in in_pool]
        assert keys == sorted(keys)
    assert batches == bucket_batches(lengths, batch_size, "sentences", seed=9, epoch=4,
                                     shuffle=False)


def test_bucket_batches_rejects_bad_arguments():
    with pytest.raises(UserError, match="batch_size: expected a positive integer, got 0"):
        bucket_batches([1, 2], 0, "sentences", seed=0, epoch=0)
    with pytest.raises(UserError, match="expected 'sentences' or 'tokens', got 'words'"):
        bucket_batches([1, 2], 4, "words", seed=0, epoch=0)


def test_sorted_batches_longest_first():
    # pairs: by the longer side, then the target, then the source, ties by index
    lengths = [(3, 9), (5, 1), (1, 1), (5, 2), (4, 4)]
    assert sorted_batches(lengths, 2) == [[0, 3], [1, 4], [2]]
    assert sorted_batches([2, 7, 7], 5) == [[1, 2, 0]]


def test_padding_ratio_counts_both_sides():
    lengths = [(2, 3), (4, 3), (1, 1)]
    # batch [0, 1]: source 2 of 8 padded, target 0 of 6; batch [2]: nothing padded
    assert padding_ratio([[0, 1], [2]], lengths) == pytest.approx(2 / 16)
    assert padding_ratio([[0], [1], [2]], lengths) == 0.0
    assert padding_ratio([], lengths) == 0.0


def fra_eng_lengths(limit: int | None) -> list[tuple[int, int]]:
    data = shared_data_dir()
    path = data / "fra-eng" / "fra.txt" if data else None
    if path is None or not path.is_file():
        pytest.skip("fra-eng data not found (set SEQ2SEQ_SHARED_DATA)")
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = [line.split("\t") for line in lines[:limit] if line]
    return [(len(english), len(french) + 1) for english, french, *_ in pairs]  # +1: eos


@pytest.mark.parametrize("limit", [10_000, None], ids=["first-10k", "whole-file"])
def test_fra_eng_padding_under_ten_percent(limit):
    lengths = fra_eng_lengths(limit)
    bucketed = bucket_batches(lengths, 64, "sentences", seed=0, epoch=0)
    permutation = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0))
    unbucketed = [batch.tolist() for batch in permutation.split(64)]
    bucketed_ratio = padding_ratio(bucketed, lengths)
    unbucketed_ratio = padding_ratio(unbucketed, lengths)
    print(f"fra-eng {len(lengths)} pairs: padding {bucketed_ratio:.2%} bucketed, "
          f"{unbucketed_ratio:.2%} unbucketed")
    assert bucketed_ratio < 0.10
    assert unbucketed_ratio > 2 * bucketed_ratio
