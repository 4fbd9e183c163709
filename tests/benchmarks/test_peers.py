"""``seq2seq.benchmarks.peers``: the rounds' ratios, the length-sorted batches, and the
identical model built in OpenNMT-py (where its own environment is: make peers-venv)."""

import pytest


def test_peer_ratios_pair_the_rounds():
    from seq2seq.benchmarks.peers import median_ratio

    # round 2 was slow for both sides: the rounds' ratios are 2, 2 and 3 -> 2, where the
    # ratio of the medians (4 / 1) would be 4
    assert median_ratio([2.0, 40.0, 3.0], [1.0, 20.0, 1.0]) == 2.0
    with pytest.raises(ValueError):
        median_ratio([1.0, 2.0], [1.0])


def test_bench_peers_length_sorted_batches_hold_the_same_pairs_with_less_padding():
    import torch

    from seq2seq.benchmarks.peers import PAD, length_sorted, random_batches

    batches = random_batches(4, 8, torch.Generator().manual_seed(0))
    again = length_sorted(batches)

    def pairs(group):
        return sorted((tuple(src[i, : int(n)].tolist()), tuple(t for t in tgt[i].tolist() if t))
                      for src, lengths, tgt in group for i, n in enumerate(lengths))

    def padded(group):
        return sum(int((tgt == PAD).sum()) for _, _, tgt in group)

    assert pairs(again) == pairs(batches) and len(again) == len(batches)
    assert all(int((src != PAD).sum(1).ne(lengths).sum()) == 0 for src, lengths, _ in again)
    assert padded(again) < padded(batches) / 4


def test_bench_peers_builds_the_identical_model_in_opennmt():
    from seq2seq.benchmarks.peers import format_peer_table, import_opennmt, run_peer_benchmark
    from seq2seq.errors import UserError

    try:
        import_opennmt()
    except UserError:
        pytest.skip("OpenNMT-py lives in its own venv (make peers-venv)")

    result = run_peer_benchmark(sources=16, batch_size=8, train_batches=1, rounds=1,
                                threads=1)
    assert result["difference"] < 1e-5  # the same weights give the same logits
    assert result["agreement"]["greedy"] >= 14  # ties aside, the same argmax outputs
    table = format_peer_table(result)
    assert "beam 5, sentences/s" in table and "our model alone" in table
    assert set(result["alone"]) == {1, 5} and all(s > 0 for s in result["alone"].values())
    assert set(result["ratios"]) == {"train", "train sorted", "greedy", "beam 1", "beam 5"}
    assert result["bf16_speedup"] is None and "bf16" not in table


def test_bench_peers_trains_both_under_bf16_where_native():
    from seq2seq.benchmarks.peers import format_peer_table, import_opennmt, run_peer_benchmark
    from seq2seq.core import precision
    from seq2seq.errors import UserError

    try:
        import_opennmt()
    except UserError:
        pytest.skip("OpenNMT-py lives in its own venv (make peers-venv)")
    if not precision.bf16_native("cpu"):
        pytest.skip("this CPU has no native bf16")
    result = run_peer_benchmark(sources=8, batch_size=8, train_batches=1, rounds=1,
                                threads=1, bf16=True)
    assert set(result["seconds"]) == {"train", "train sorted", "train bf16", "greedy",
                                      "beam 1", "beam 5"}
    assert result["bf16_speedup"] > 0
    assert "training bf16, tok/s" in format_peer_table(result)
