"""The encoder-decoder: shapes, incremental steps, loss over real tokens, greedy search."""

import pytest
import torch

from seq2seq.errors import UserError
from seq2seq.models.encoder_decoder import EncoderDecoder, TranslatorConfig, sequence_loss
from seq2seq.models.filler import BlankFillerConfig
from seq2seq.search import SearchConfig, greedy_search
from tests.helpers import assert_steps_equal_teacher_forcing

CONFIGS = {
    "keras": TranslatorConfig(units=8),
    "gru-embedding-2-layers": TranslatorConfig(cell="gru", units=8, layers=2, embedding=6,
                                               dropout=0.1),
    "bidirectional-concat": TranslatorConfig(units=8, layers=2, embedding=6,
                                             bidirectional_encoder=True),
    "bidirectional-sum-tied": TranslatorConfig(units=8, embedding=8, bidirectional_encoder=True,
                                               bridge="sum", tie_embeddings=True),
}


def toy_batch():
    src = torch.tensor([[5, 6, 7, 8], [9, 5, 0, 0], [6, 0, 0, 0]])
    lengths = torch.tensor([4, 2, 1])
    tgt_in = torch.tensor([[1, 4, 5, 6], [1, 7, 0, 0], [1, 8, 9, 0]])
    return src, lengths, tgt_in


@pytest.mark.parametrize("name", CONFIGS)
def test_teacher_forcing_shapes_and_incremental_steps(name):
    model = EncoderDecoder(CONFIGS[name], src_vocab=12, tgt_vocab=11).eval()
    src, lengths, tgt_in = toy_batch()
    logits = model(src, lengths, tgt_in)
    assert logits.shape == (3, 4, 11)
    assert_steps_equal_teacher_forcing(model, src, lengths, tgt_in, logits)


def test_a_sentence_gets_the_same_state_alone_or_in_a_padded_batch():
    model = EncoderDecoder(CONFIGS["bidirectional-concat"], 12, 11).eval()
    src, lengths, tgt_in = toy_batch()
    batch_logits = model(src, lengths, tgt_in)
    alone = model(src[1:2, :2], lengths[1:2], tgt_in[1:2])
    torch.testing.assert_close(alone[0], batch_logits[1], atol=1e-5, rtol=1e-5)


def test_loss_ignores_padding():
    logits = torch.randn(2, 3, 5)
    targets = torch.tensor([[1, 2, 0], [3, 0, 0]])
    loss = sequence_loss(logits, targets, pad_id=0)
    changed = logits.clone()
    changed[0, 2] = 100.0  # a padded position
    changed[1, 1:] = -50.0
    assert torch.allclose(sequence_loss(changed, targets, pad_id=0), loss)
    real = torch.nn.functional.cross_entropy(
        torch.stack([logits[0, 0], logits[0, 1], logits[1, 0]]), torch.tensor([1, 2, 3]))
    assert torch.allclose(loss, real)


def test_scheduled_sampling_with_probability_zero_is_teacher_forcing():
    model = EncoderDecoder(CONFIGS["keras"], 12, 11).eval()
    src, lengths, tgt_in = toy_batch()
    stepwise = model(src, lengths, tgt_in, sampling_probability=1e-12)
    torch.testing.assert_close(stepwise, model(src, lengths, tgt_in), atol=1e-5, rtol=1e-5)
    sampled = model(src, lengths, tgt_in, sampling_probability=1.0)
    assert sampled.shape == stepwise.shape and not torch.allclose(sampled, stepwise)


def test_greedy_search_scores_are_the_teacher_forced_log_probabilities():
    torch.manual_seed(3)
    model = EncoderDecoder(CONFIGS["gru-embedding-2-layers"], 12, 11).eval()
    src, lengths, _ = toy_batch()
    config = SearchConfig(max_len_ratio=1.0, max_len_offset=3)
    hypotheses = greedy_search(model, src, lengths, bos_id=1, eos_id=2, config=config)
    for row, hypothesis in enumerate(hypotheses):
        assert len(hypothesis.tokens) <= int(lengths[row]) + 3
        ended = len(hypothesis.tokens) < int(lengths[row]) + 3
        target = hypothesis.tokens + ([2] if ended else [])
        tgt_in = torch.tensor([[1] + target[:-1]]) if target else torch.tensor([[1]])
        logits = model(src[row : row + 1, : lengths[row]], lengths[row : row + 1], tgt_in)
        log_probs = logits.log_softmax(-1)[0]
        expected = sum(log_probs[t, token].item() for t, token in enumerate(target))
        assert hypothesis.score == pytest.approx(expected, abs=1e-4)
        # and alone it decodes the same
        alone = greedy_search(model, src[row : row + 1, : lengths[row]], lengths[row : row + 1],
                              1, 2, config)[0]
        assert alone.tokens == hypothesis.tokens


def test_bad_model_settings_name_the_key():
    from seq2seq.config import load_recipe
    from seq2seq.tasks.translation import TranslationRecipe

    with pytest.raises(UserError, match=r"model.tie_embeddings: needs model.embedding"):
        load_recipe(TranslationRecipe, None, ["data.path=x.tsv", "model.tie_embeddings=true"])
    with pytest.raises(UserError, match=r"eval.metrics: unknown \['blue'\]"):
        load_recipe(TranslationRecipe, None, ["data.path=x.tsv", "eval.metrics=['blue']"])


@pytest.mark.parametrize("config", [TranslatorConfig, BlankFillerConfig])
@pytest.mark.parametrize(("setting", "message"), [
    ({"units": 0}, r"model.units: expected a positive integer, got 0"),
    ({"layers": 0}, r"model.layers: expected a positive integer, got 0"),
    ({"embedding": -1}, r"model.embedding: expected 0 \(one-hot\) or a size, got -1"),
    ({"dropout": 1.0}, r"model.dropout: expected a fraction in \[0, 1\), got 1.0"),
    ({"cell": "rnn"}, r"model.cell: expected 'lstm' or 'gru', got 'rnn'"),
    ({"units": 2**40}, r"model.units: expected at most 1,048,576, got 1,099,511,627,776"),
    ({"layers": 10**20}, r"model.layers: expected at most 1,024, got 1"),
    ({"embedding": 2**21}, r"model.embedding: expected at most 1,048,576, got 2,097,152"),
])
def test_bad_model_sizes_name_the_setting(config, setting, message):
    with pytest.raises(UserError, match=message):
        config(**setting).check()
