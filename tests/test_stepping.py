"""The inference step (seq2seq.core.stepping): the same function as the layers it stands in
for, taken only where nothing else could differ, and never stale after a weight update."""

import pytest
import torch

from seq2seq.core import LSTMStep, StackedRNN, StepCache, step_applies, stepping
from seq2seq.core.stepping import _lstm_pointwise
from seq2seq.models.translator import EncoderDecoder, TranslatorConfig, sequence_loss

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
