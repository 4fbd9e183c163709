"""Ensembles (seq2seq.models.ensemble): several translators decoding as one, through every
search, checked against each member's own teacher-forced log-probabilities
(the command line's --ensemble: tests/cli/test_translation_ensemble.py)."""

import pytest
import torch

from seq2seq.errors import UserError
from seq2seq.models.encoder_decoder import EncoderDecoder
from seq2seq.models.ensemble import Ensemble
from seq2seq.search import (
    Hypothesis,
    SearchConfig,
    beam_search,
    greedy_search,
    max_lengths,
    sample,
)
from tests.helpers import (
    BOS,
    CONFIGS,
    EOS,
    parent_product,  # noqa: F401 - autouse: with and without the product per distinct parent
    teacher_forced_score,
    tiny_model,
    toy_batch,
)

# members that differ in cell, depth, encoder and attention: their states differ in length
MIXED = ["lstm", "dot-attention", "bahdanau-feeding-gru-2-layers",
         "general-feeding-bidirectional"]


def mixed_ensemble(seed: int) -> Ensemble:
    return Ensemble([tiny_model(seed + i, name) for i, name in enumerate(MIXED)]).eval()


def teacher_forced_ensemble_score(members, src, lengths, row, tokens, limit) -> float:
    """The log-probability of ``tokens`` (and eos, when it ended before ``limit``) under the
    renormalised mean of the members' log-probabilities, each member teacher-forced over
    the whole output in one call (its own fused path, not its steps)."""
    def mean_log_probs(*inputs):
        return torch.stack([m(*inputs).log_softmax(-1) for m in members]).mean(0)

    with torch.no_grad():
        return teacher_forced_score(mean_log_probs, src, lengths, row,
                                    Hypothesis(tokens, 0.0), limit)


def run_search(model, search: str, src, lengths):
    if search == "beam":
        return beam_search(model, src, lengths, BOS, EOS, SearchConfig(beam_size=3, nbest=3,
                                                                       alpha=0.6))
    return [[h] for h in greedy_search(model, src, lengths, BOS, EOS, SearchConfig())]


def assert_same_hypotheses(found, expected) -> None:
    for mine, theirs in zip(found, expected, strict=True):
        assert [h.tokens for h in mine] == [h.tokens for h in theirs]
        assert [h.score for h in mine] == pytest.approx([h.score for h in theirs], abs=1e-4)


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("search", ["beam", "greedy"])
def test_an_ensemble_of_one_model_or_of_its_copies_decodes_as_that_model(name, search):
    model = tiny_model(0, name)
    src, lengths = toy_batch()
    alone = run_search(model, search, src, lengths)
    for members in ([model], [model, model], [model, model, model]):
        assert_same_hypotheses(run_search(Ensemble(members).eval(), search, src, lengths),
                               alone)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("settings", [{"alpha": 0.0}, {"alpha": 0.6, "min_len": 2}])
def test_scores_are_the_teacher_forced_log_probabilities_of_the_members_mean(seed, settings):
    ensemble = mixed_ensemble(seed)
    src, lengths = toy_batch()
    config = SearchConfig(beam_size=4, nbest=4, max_len_ratio=1.0, max_len_offset=4,
                          **settings)
    limits = max_lengths(lengths, config).tolist()
    found = beam_search(ensemble, src, lengths, BOS, EOS, config)
    for row, nbest in enumerate(found):
        assert len(nbest) == 4
        for hypothesis in nbest:
            expected = teacher_forced_ensemble_score(ensemble.members, src, lengths, row,
                                                     hypothesis.tokens, limits[row])
            assert hypothesis.score == pytest.approx(expected, abs=1e-4)
    # the ensemble is its own model: no member alone finds all of its outputs
    for member in ensemble.members:
        alone = beam_search(member, src, lengths, BOS, EOS, config)
        assert [[h.tokens for h in nbest] for nbest in alone] \
            != [[h.tokens for h in nbest] for nbest in found]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("search", ["beam", "greedy"])
def test_an_ensemble_decodes_a_sentence_the_same_alone_or_in_any_batch(seed, search):
    ensemble = mixed_ensemble(seed)
    src, lengths = toy_batch()
    batched = run_search(ensemble, search, src, lengths)
    order = torch.tensor([2, 0, 3, 1])
    padded = torch.cat([src, torch.zeros(4, 3, dtype=torch.long)], 1)[order]
    assert_same_hypotheses(run_search(ensemble, search, padded, lengths[order]),
                           [batched[row] for row in order.tolist()])
    for row in range(4):
        alone = run_search(ensemble, search, src[row : row + 1, : lengths[row]],
                           lengths[row : row + 1])
        assert_same_hypotheses(alone, batched[row : row + 1])


@pytest.mark.parametrize("seed", [0, 1])
def test_beam_1_is_greedy_and_sampling_scores_are_the_ensembles(seed):
    ensemble = mixed_ensemble(seed)
    src, lengths = toy_batch()
    config = SearchConfig(beam_size=1, max_len_ratio=1.0, max_len_offset=4)
    greedy = greedy_search(ensemble, src, lengths, BOS, EOS, config)
    assert_same_hypotheses(beam_search(ensemble, src, lengths, BOS, EOS, config),
                           [[h] for h in greedy])
    drawn = sample(ensemble, src, lengths, BOS, EOS, SearchConfig(max_len_ratio=1.0,
                                                                  max_len_offset=4),
                   torch.Generator().manual_seed(seed))
    limits = max_lengths(lengths, config).tolist()
    for row, hypothesis in enumerate(drawn):
        assert hypothesis.score == pytest.approx(teacher_forced_ensemble_score(
            ensemble.members, src, lengths, row, hypothesis.tokens, limits[row]), abs=1e-4)


def test_members_must_share_their_vocabularies():
    small = EncoderDecoder(CONFIGS["lstm"], src_vocab=12, tgt_vocab=11)
    with pytest.raises(UserError, match="model 2 has 12 target symbols, model 1 11"):
        Ensemble([small, EncoderDecoder(CONFIGS["lstm"], src_vocab=12, tgt_vocab=12)])
    with pytest.raises(UserError, match="model 3 has 13 source symbols, model 1 12"):
        Ensemble([small, small, EncoderDecoder(CONFIGS["lstm"], src_vocab=13, tgt_vocab=11)])
    with pytest.raises(UserError, match="at least one model"):
        Ensemble([])
