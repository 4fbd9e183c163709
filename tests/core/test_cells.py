"""Parity with the Keras equations written out in NumPy, through both paths."""

import numpy as np
import pytest
import torch

from seq2seq.core import GRU, LSTM, SimpleRNN


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_lstm(x, kernel, recurrent_kernel, bias, h, c):
    outputs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, 1), [h, c]


def numpy_gru(x, kernel, recurrent_kernel, bias, h, reset_after=True):
    u = h.shape[-1]
    outputs = []
    for t in range(x.shape[1]):
        if reset_after:
            x_z, x_r, x_h = np.split(x[:, t] @ kernel + bias[0], 3, axis=-1)
            r_z, r_r, r_h = np.split(h @ recurrent_kernel + bias[1], 3, axis=-1)
            z, r = sigmoid(x_z + r_z), sigmoid(x_r + r_r)
            candidate = np.tanh(x_h + r * r_h)
        else:
            x_z, x_r, x_h = np.split(x[:, t] @ kernel + bias, 3, axis=-1)
            z = sigmoid(x_z + h @ recurrent_kernel[:, :u])
            r = sigmoid(x_r + h @ recurrent_kernel[:, u : 2 * u])
            candidate = np.tanh(x_h + (r * h) @ recurrent_kernel[:, 2 * u :])
        h = z * h + (1 - z) * candidate
        outputs.append(h)
    return np.stack(outputs, 1), [h]


def numpy_simple_rnn(x, kernel, recurrent_kernel, bias, h):
    outputs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent_kernel + bias)
        outputs.append(h)
    return np.stack(outputs, 1), [h]


def randomise(layer, rng):
    weights = [rng.normal(scale=0.5, size=w.shape) for w in layer.get_keras_weights()]
    layer.set_keras_weights(weights)
    return weights


CASES = [
    (lambda **kw: LSTM(4, 5, **kw), numpy_lstm, 2, {}),
    (lambda **kw: GRU(4, 5, **kw), numpy_gru, 1, {}),
    (lambda **kw: GRU(4, 5, reset_after=False, **kw), numpy_gru, 1, {"reset_after": False}),
    (lambda **kw: SimpleRNN(4, 5, **kw), numpy_simple_rnn, 1, {}),
]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "reference"])
@pytest.mark.parametrize("make, reference, states, options", CASES,
                         ids=["lstm", "gru", "gru-reset-before", "simple-rnn"])
def test_matches_numpy_with_initial_state(make, reference, states, options, fused):
    rng = np.random.default_rng(1)
    layer = make(return_sequences=True, return_state=True, fused=fused)
    weights = randomise(layer, rng)
    x = rng.normal(size=(3, 6, 4))
    initial = [rng.normal(size=(3, 5)) for _ in range(states)]
    expected_outputs, expected_state = reference(x, *weights, *initial, **options)
    output, *state = layer(torch.tensor(x, dtype=torch.float32),
                           initial_state=[torch.tensor(s, dtype=torch.float32) for s in initial])
    np.testing.assert_allclose(output.detach().numpy(), expected_outputs, atol=1e-5)
    for got, expected in zip(state, expected_state):
        np.testing.assert_allclose(got.detach().numpy(), expected, atol=1e-5)
