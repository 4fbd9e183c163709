"""The inference step (seq2seq.core.stepping): the same function as the layers it stands in
for, taken only where nothing else could differ, and never stale after a weight update."""

import pytest
import torch

from seq2seq.core import LSTMStep, StackedRNN, StepCache, step_applies, stepping
from seq2seq.core.stepping import _lstm_pointwise
from seq2seq.models.encoder_decoder import EncoderDecoder, TranslatorConfig, sequence_loss

UNITS, VOCAB, BATCH = 6, 9, 4


def stack(layers: int = 1, input_size: int = 5, **options) -> StackedRNN:
    torch.manual_seed(0)
    model = StackedRNN.build("lstm", input_size, UNITS, layers, **options).eval()
    with torch.no_grad():  # biases away from their initial 0 and 1: every gate's is used
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
    return model


def random_state(layers: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    # a non-zero starting state, so that the recurrent kernel and forget gate both count
    return [(torch.randn(BATCH, UNITS) * 0.5, torch.randn(BATCH, UNITS)) for _ in range(layers)]


@pytest.mark.parametrize("layers", [1, 2])
# extra features (e.g. an input-feeding vector) follow a token's vector; "looked up":
# embedded tokens whose table would be over the size limit
@pytest.mark.parametrize("inputs,extra", [
    ("vectors", 0), ("embedding", 0), ("embedding", 3), ("looked up", 0), ("looked up", 3),
    ("one-hot", 0), ("one-hot", 3)])
@pytest.mark.parametrize("use_bias", [True, False])
def test_the_step_equals_the_layers_fused_and_reference(layers, inputs, extra, use_bias,
                                                        monkeypatch):
    if inputs == "looked up":
        monkeypatch.setattr(stepping, "TABLE_LIMIT", 0)
    token_size = VOCAB if inputs == "one-hot" else 4 if inputs != "vectors" else 5
    model = stack(layers, token_size + extra, use_bias=use_bias)
    vectors = {"vectors": None, "one-hot": torch.eye(VOCAB)}.get(inputs, torch.randn(VOCAB, 4))
    tokens = torch.randint(0, VOCAB, (3, BATCH))
    extras = torch.randn(3, BATCH, extra)
    start = random_state(layers)
    with torch.no_grad():
        fast = (LSTMStep(model, one_hot=VOCAB) if inputs == "one-hot"
                else LSTMStep(model, vectors))
        assert (fast.table is None) == (inputs in ("vectors", "looked up"))
        # laid out row-major: a step gathers the table's rows, which a transposed table
        # (the one-hot rows of a transposed kernel) would make 7x slower
        laid_out = [fast.table, *(w for layer in fast.layers for w in layer)]
        assert all(w.is_contiguous() for w in laid_out if w is not None)
        fast_state = start
        for t in range(3):
            if vectors is None:
                step_inputs = torch.randn(BATCH, token_size)
                first = step_inputs
            else:
                step_inputs = extras[t] if extra else None
                first = torch.cat([vectors[tokens[t]], extras[t]], 1)
            output, fast_state = fast(step_inputs, fast_state, tokens[t])
            for fused in (True, False):
                for layer in model.layers:
                    layer.fused = fused
                expected, expected_state = model(first[:, None], initial_state=start)
                torch.testing.assert_close(output, expected[:, 0], atol=1e-6, rtol=0)
                for (h, c), (h_expected, c_expected) in zip(fast_state, expected_state):
                    torch.testing.assert_close(h, h_expected, atol=1e-6, rtol=0)
                    torch.testing.assert_close(c, c_expected, atol=1e-6, rtol=0)
            start = expected_state


def test_the_one_sigmoid_gates_hold_at_extreme_pre_activations():
    units = 5
    gates = torch.tensor([[-90.0, -3.0, -1e-4, 0.0, 1e-4, 3.0, 90.0, 20.0, -20.0, 0.5] * 2])
    c = torch.tensor([[-40.0, -1e-3, 0.0, 2.0, 40.0]])
    doubled = gates.clone()
    doubled[:, 2 * units : 3 * units] *= 2
    h, new_c = _lstm_pointwise(doubled, c)
    i, f, g, o = gates.chunk(4, 1)
    expected_c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    torch.testing.assert_close(new_c, expected_c, atol=1e-6, rtol=0)
    torch.testing.assert_close(h, torch.sigmoid(o) * torch.tanh(expected_c), atol=1e-6, rtol=0)


def test_applies_only_where_nothing_else_could_differ():
    probe = torch.zeros(BATCH, UNITS)
    with torch.no_grad():
        assert step_applies(stack(2), probe)
        assert not step_applies(stack().train(), probe)
        assert not step_applies(StackedRNN.build("gru", 5, UNITS).eval(), probe)
        assert not step_applies(stack(activation="relu"), probe)
        assert not step_applies(stack(fused=False), probe)
        assert not step_applies(stack(stateful=True), probe)
        assert not step_applies(stack(bidirectional=True), probe)
        assert not step_applies(stack().double(), probe.double())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not step_applies(stack(), probe)
    assert not step_applies(stack(), probe)  # gradients on: training through the steps


def test_the_cache_lays_the_weights_out_again_when_they_change():
    model, cache = stack(), StepCache()
    parameters = list(model.parameters())

    def build():
        return LSTMStep(model)

    with torch.no_grad():
        first = cache.get(parameters, build)
        assert cache.get(parameters, build) is first
        model.layers[0].cell.weight_hh.mul_(0.5)  # in place, as an optimizer step is
        second = cache.get(parameters, build)
        assert second is not first
        model.load_state_dict(stack().state_dict())
        assert cache.get(parameters, build) is not second


@pytest.mark.parametrize("config", [
    TranslatorConfig(units=UNITS, embedding=4),
    TranslatorConfig(units=UNITS, layers=2),  # one-hot inputs, as in the Keras example
    TranslatorConfig(units=UNITS, embedding=4, attention="general", input_feeding=True),
])
def test_a_model_steps_with_its_current_weights_between_training_steps(config):
    # search between epochs, as the trainer's evaluation does: a stale layout of the
    # weights would decode with the previous epoch's model
    torch.manual_seed(1)
    model = EncoderDecoder(config, VOCAB, VOCAB)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    src, lengths = torch.randint(1, VOCAB, (BATCH, 5)), torch.tensor([5, 2, 4, 3])
    tgt = torch.randint(1, VOCAB, (BATCH, 6))
    for _ in range(3):
        model.eval()
        with torch.no_grad():
            logits, _ = model.decode(tgt[:, :1], model.encode(src, lengths))
            stepped, _ = model.step(tgt[:, 0], model.encode(src, lengths))
        torch.testing.assert_close(stepped, logits[:, 0], atol=1e-5, rtol=1e-5)
        model.train()
        optimizer.zero_grad()
        sequence_loss(model(src, lengths, tgt[:, :-1]), tgt[:, 1:], 0).backward()
        optimizer.step()


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("inputs,extra", [("embedding", 0), ("embedding", 3), ("one-hot", 0),
                                          ("looked up", 0), ("vectors", 0)])
@pytest.mark.parametrize("share", [0.0, 1.0])  # never / always one product per distinct row
def test_a_step_from_rows_equals_a_step_from_the_selected_rows(layers, inputs, extra, share,
                                                               monkeypatch):
    """``rows`` as beam search gives them: 12 rows continuing 5 distinct state rows, some
    several times, in any order. Per distinct row or not, the step is the one from
    ``select_state(state, rows)``."""
    monkeypatch.setattr(stepping, "DISTINCT_ROWS_SHARE", share)
    monkeypatch.setattr(stepping, "DISTINCT_ROWS_MIN", 1)
    if inputs == "looked up":
        monkeypatch.setattr(stepping, "TABLE_LIMIT", 0)
    token_size = VOCAB if inputs == "one-hot" else 4 if inputs != "vectors" else 5
    model = stack(layers, token_size + extra)
    vectors = {"vectors": None, "one-hot": torch.eye(VOCAB)}.get(inputs, torch.randn(VOCAB, 4))
    fast = LSTMStep(model, one_hot=VOCAB) if inputs == "one-hot" else LSTMStep(model, vectors)
    rows = torch.tensor([3, 3, 0, 7, 3, 0, 0, 5, 7, 3, 1, 1])
    state = [(torch.randn(8, UNITS) * 0.5, torch.randn(8, UNITS)) for _ in range(layers)]
    tokens = torch.randint(0, VOCAB, (12,))
    step_inputs = torch.randn(12, token_size) if vectors is None else \
        (torch.randn(12, extra) if extra else None)
    with torch.no_grad():
        expected, expected_state = fast(step_inputs, stepping.select_state(state, rows), tokens)
        output, new_state = fast(step_inputs, state, tokens, rows)
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-6)
    for (h, c), (h_expected, c_expected) in zip(new_state, expected_state):
        torch.testing.assert_close(h, h_expected, rtol=0, atol=1e-6)
        torch.testing.assert_close(c, c_expected, rtol=0, atol=1e-6)


def test_one_product_per_distinct_row_only_where_few_rows_are_distinct(monkeypatch):
    """The product per distinct row is taken for a beam's shared parents (5 distinct of 12)
    and left to the plain path where nearly every row is distinct (11 of 12) or where there
    are too few rows to gain (3 distinct of 5, with at least 12 rows asked for)."""
    monkeypatch.setattr(stepping, "DISTINCT_ROWS_MIN", 12)
    products = []
    real = stepping._product_per_distinct_row

    def watched(h, rows, kernel):
        result = real(h, rows, kernel)
        products.append(result is not None)
        return result

    monkeypatch.setattr(stepping, "_product_per_distinct_row", watched)
    fast = LSTMStep(stack(1, 4), torch.randn(VOCAB, 4))
    state = [(torch.randn(12, UNITS), torch.randn(12, UNITS))]
    tokens = torch.randint(0, VOCAB, (12,))
    with torch.no_grad():
        fast(None, state, tokens, torch.tensor([3, 3, 0, 7, 3, 0, 0, 5, 7, 3, 1, 1]))
        fast(None, state, tokens, torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]))
        fast(None, state, tokens[:5], torch.tensor([3, 3, 0, 7, 3]))
    assert products == [True, False, False]


@pytest.mark.parametrize("config", [
    TranslatorConfig(units=UNITS, embedding=4),
    TranslatorConfig(units=UNITS, layers=2, embedding=4),
    TranslatorConfig(units=UNITS, embedding=4, attention="general"),
    TranslatorConfig(units=UNITS, embedding=4, attention="bahdanau", input_feeding=True),
    TranslatorConfig(cell="gru", units=UNITS, embedding=4, attention="dot"),
])
def test_a_translator_steps_from_rows_as_from_the_selected_rows(config):
    """The whole state follows the rows, the attention memory and input-feeding vector too,
    on the inference step (LSTM) and on the layers' own path (GRU)."""
    from seq2seq.search import select_state

    torch.manual_seed(0)
    model = EncoderDecoder(config, src_vocab=VOCAB, tgt_vocab=VOCAB).eval()
    src = torch.randint(1, VOCAB, (3, 5))
    with torch.no_grad():
        state = model.encode(src, torch.tensor([5, 3, 4]))
        _, state = model.step(torch.tensor([1, 2, 3]), state)  # a non-zero feeding vector
        rows = torch.tensor([2, 2, 0, 2, 1, 0])
        tokens = torch.randint(0, VOCAB, (6,))
        expected, expected_state = model.step(tokens, select_state(state, rows))
        logits, new_state = model.step_from_rows(tokens, state, rows)
        torch.testing.assert_close(logits, expected, rtol=0, atol=1e-6)
        # one step on: the state carries on as the selected one would
        again = torch.randint(0, VOCAB, (6,))
        torch.testing.assert_close(model.step(again, new_state)[0],
                                   model.step(again, expected_state)[0], rtol=0, atol=1e-6)
