"""``stateful=True``: each call continues from where the last one ended (row by row,
detached), ``reset_state()`` starts over; against an unbroken run and against real Keras."""

import os

import numpy as np
import pytest
import torch

from seq2seq.core import GRU, LSTM, Bidirectional, SimpleRNN, StackedRNN

KINDS = {"lstm": LSTM, "gru": GRU, "rnn": SimpleRNN}


def make(kind, **options):
    return KINDS[kind](3, 4, return_sequences=True, return_state=True, **options)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "reference"])
def test_two_stateful_calls_are_one_call_over_the_joined_sequence(kind, fused):
    stateful = make(kind, fused=fused, stateful=True)
    whole = make(kind, fused=fused)
    whole.load_state_dict(stateful.state_dict())
    x = torch.randn(5, 9, 3)
    first, *_ = stateful(x[:, :4])
    second, *state = stateful(x[:, 4:])
    expected, *expected_state = whole(x)
    torch.testing.assert_close(torch.cat([first, second], 1), expected, atol=1e-6, rtol=1e-5)
    for got, want in zip(state, expected_state):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)


def test_with_lengths_each_row_continues_from_its_last_real_step():
    layer = make("lstm", stateful=True)
    plain = make("lstm")
    plain.load_state_dict(layer.state_dict())
    x, lengths = torch.randn(3, 5, 3), torch.tensor([5, 2, 4])
    _, *after_first = plain(x, lengths=lengths)
    layer(x, lengths=lengths)
    y = torch.randn(3, 6, 3)
    got, *state = layer(y)
    expected, *expected_state = plain(y, initial_state=after_first)
    torch.testing.assert_close(got, expected)
    for a, b in zip(state, expected_state):
        torch.testing.assert_close(a, b)


def test_reset_state_starts_over_from_zeros_or_from_given_states():
    layer = make("gru", stateful=True)
    plain = make("gru")
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(2, 4, 3)
    layer(x)
    layer.reset_state()
    torch.testing.assert_close(layer(x)[0], plain(x)[0])
    given = torch.randn(2, 4)
    layer.reset_state(given)
    torch.testing.assert_close(layer(x)[0], plain(x, initial_state=[given])[0])
    explicit = torch.randn(2, 4)  # an initial_state given to the call wins over the stored one
    torch.testing.assert_close(layer(x, initial_state=[explicit])[0],
                               plain(x, initial_state=[explicit])[0])


def test_gradients_stop_at_the_calls_start():
    layer = make("lstm", stateful=True)
    first = torch.randn(2, 3, 3, requires_grad=True)
    layer(first)[0].sum().backward()  # frees the first call's graph
    second = torch.randn(2, 3, 3, requires_grad=True)
    first.grad = None
    layer(second)[0].sum().backward()  # would fail (or reach `first`) without the detach
    assert first.grad is None and second.grad is not None


def test_a_batch_of_another_size_is_an_error_until_reset():
    layer = make("rnn", stateful=True)
    layer(torch.randn(4, 2, 3))
    with pytest.raises(ValueError, match=r"^stateful: this batch holds 3 sequences, the layer's "
                                         r"states 4; call reset_state\(\)"):
        layer(torch.randn(3, 2, 3))
    layer.reset_state()
    layer(torch.randn(3, 2, 3))
    with pytest.raises(ValueError, match=r"^states\[0\] \(h\): expected shape \(2, 4\)"):
        layer.reset_state([torch.zeros(2, 5)])
    with pytest.raises(ValueError, match="reset_state: the layer is not stateful"):
        make("rnn").reset_state()


def test_bidirectional_and_stacks_carry_both_directions_and_every_layer():
    bidirectional = Bidirectional(make("lstm", stateful=True))
    x = torch.randn(2, 5, 3)
    _, *state = bidirectional(x)
    plain = Bidirectional(make("lstm"), backward_layer=make("lstm", go_backwards=True))
    plain.load_state_dict(bidirectional.state_dict())
    y = torch.randn(2, 4, 3)
    torch.testing.assert_close(bidirectional(y)[0], plain(y, initial_state=state)[0])
    bidirectional.reset_state()
    torch.testing.assert_close(bidirectional(y)[0], plain(y)[0])
    stack = StackedRNN.build("gru", 3, 4, 2, stateful=True)
    first = stack(x)[0]
    stack.reset_state()
    torch.testing.assert_close(stack(x)[0], first)
    assert not torch.allclose(stack(x)[0], first)  # the second call continued


# --- against real Keras 3 (KERAS_BACKEND=torch), where it is installed ---------------------

def keras_or_skip():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras", reason="Keras 3 not installed")


KERAS_CASES = {
    "lstm": lambda k: (k.layers.LSTM, {}, lambda: LSTM(3, 4, return_sequences=True,
                                                       return_state=True, stateful=True)),
    "gru": lambda k: (k.layers.GRU, {}, lambda: GRU(3, 4, return_sequences=True,
                                                    return_state=True, stateful=True)),
    "gru-reset-before": lambda k: (k.layers.GRU, {"reset_after": False}, lambda: GRU(
        3, 4, reset_after=False, return_sequences=True, return_state=True, stateful=True)),
    "rnn": lambda k: (k.layers.SimpleRNN, {}, lambda: SimpleRNN(
        3, 4, return_sequences=True, return_state=True, stateful=True)),
}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras's numpy conversion
@pytest.mark.parametrize("case", KERAS_CASES)
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_stateful_matches_keras_over_two_calls_and_a_reset(case, go_backwards):
    keras = keras_or_skip()
    layer_type, options, ours_factory = KERAS_CASES[case](keras)
    ours = ours_factory()
    ours.go_backwards = go_backwards
    theirs = layer_type(4, stateful=True, return_sequences=True, return_state=True,
                        go_backwards=go_backwards, **options)
    theirs.build((2, 5, 3))
    theirs.set_weights(ours.get_keras_weights())
    generator = np.random.default_rng(0)
    calls = [generator.normal(size=(2, 5, 3)).astype("float32") for _ in range(2)]
    for x in calls:
        expected = [keras.ops.convert_to_numpy(t) for t in theirs(x)]
        got = [t.detach().numpy() for t in ours(torch.from_numpy(x))]
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a, b, atol=1e-5)
    theirs.reset_state()
    ours.reset_state()
    np.testing.assert_allclose(ours(torch.from_numpy(calls[0]))[0].detach().numpy(),
                               keras.ops.convert_to_numpy(theirs(calls[0])[0]), atol=1e-5)
