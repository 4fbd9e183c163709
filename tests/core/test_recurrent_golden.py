"""Golden numbers from the Keras LSTM logic check and Keras's summary."""

import math

import numpy as np
import torch
from torch import nn

from seq2seq.core import GRU, LSTM, SimpleRNN, summary

KERNEL = [[2, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0], [1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0]]
RECURRENT_KERNEL = [
    [1, 0, 0, 1, 2, 1, 0, 1, 2, 0, 1, 0],
    [1, 1, 0, 0, 2, 1, 0, 1, 2, 2, 0, 0],
    [1, 0, 1, 2, 0, 1, 0, 1, 1, 0, 1, 0],
]
BIAS = [3, 1, 0, 1, 1, 0, 0, 1, 0, 2, 0, 0]


def test_keras_lstm_logic_check():
    layer = LSTM(2, 3, activation=None, recurrent_activation=None, return_sequences=True,
                 return_state=True)
    layer.set_keras_weights([np.array(KERNEL), np.array(RECURRENT_KERNEL), np.array(BIAS)])
    output, h, c = layer(torch.tensor([[[1.0, 0.0]]]))
    assert output.tolist() == [[[0.0, 4.0, 0.0]]]
    assert h.tolist() == [[0.0, 4.0, 0.0]]
    assert c.tolist() == [[0.0, 4.0, 1.0]]


def test_two_steps_from_a_non_zero_state_exercise_the_recurrent_kernel_and_forget_gate():
    # The logic check's weights, linear activations (so the numbers are exact integers),
    # h0 = [-1, 0, -1], c0 = [-1, 1, -1], inputs [1, 0] then [0, 1]. By hand, Keras's
    # equations z = x @ kernel + h @ recurrent_kernel + bias, (i, f, g, o) = split(z),
    # c = f * c + i * g, h = o * c give
    #   step 1: z = [3 2 0 | -2 -1 -2 | 0 0 -2 | 2 -1 0], c = [2 -1 2],  h = [4 1 0]
    #   step 2: z = [9 3 0 | 6 12 5 | 0 7 11 | 4 4 0],    c = [12 9 10], h = [48 36 0]
    # Every gate of step 2 reads the recurrent kernel (h1 != 0) and the forget gate
    # carries c0 and c1 (f != 0 at both steps).
    layer = LSTM(2, 3, activation=None, recurrent_activation=None, return_sequences=True,
                 return_state=True)
    layer.set_keras_weights([np.array(KERNEL), np.array(RECURRENT_KERNEL), np.array(BIAS)])
    initial = [torch.tensor([[-1.0, 0.0, -1.0]]), torch.tensor([[-1.0, 1.0, -1.0]])]
    output, h, c = layer(torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]), initial_state=initial)
    assert output.tolist() == [[[4.0, 1.0, 0.0], [48.0, 36.0, 0.0]]]
    assert h.tolist() == [[48.0, 36.0, 0.0]]
    assert c.tolist() == [[12.0, 9.0, 10.0]]


def test_keras_weights_round_trip():
    layer = LSTM(2, 3)
    layer.set_keras_weights([np.array(KERNEL), np.array(RECURRENT_KERNEL), np.array(BIAS)])
    kernel, recurrent_kernel, bias = layer.get_keras_weights()
    assert isinstance(kernel, np.ndarray)
    assert kernel.tolist() == KERNEL and recurrent_kernel.tolist() == RECURRENT_KERNEL
    assert bias.tolist() == BIAS


def test_keras_summary_table():
    model = nn.Sequential(LSTM(2, 3, return_sequences=True), nn.Linear(3, 1))
    lines = summary(model, (3, 2), print_fn=None).splitlines()
    assert lines[2].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#"]
    assert lines[4].split() == ["lstm", "(LSTM)", "(None,", "3,", "3)", "72"]
    assert lines[6].split() == ["linear", "(Linear)", "(None,", "3,", "1)", "4"]
    assert "Total params: 76" in lines
    assert "Trainable params: 76" in lines
    assert "Non-trainable params: 0" in lines


def test_summary_names_attributes_and_counts_frozen_parameters():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(10, 4)
            self.encoder = GRU(4, 5)
            self.embedding.weight.requires_grad_(False)

        def forward(self, tokens):
            return self.encoder(self.embedding(tokens))

    text = summary(Model(), (7,), dtype=torch.long, print_fn=None)
    assert "embedding (Embedding)    (None, 7, 4)" in text
    assert "encoder (GRU)" in text and "(None, 5)" in text
    assert "Non-trainable params: 40" in text


def test_parameter_counts_equal_keras():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(LSTM(2, 3)) == 72
    assert count(GRU(2, 3)) == 63
    assert count(GRU(2, 3, reset_after=False)) == 54
    assert count(SimpleRNN(2, 3)) == 2 * 3 + 3 * 3 + 3


def test_keras_initialisers():
    layer = LSTM(20, 8)
    cell = layer.cell
    limit = math.sqrt(6 / (20 + 32))
    assert cell.kernel.abs().max() <= limit
    assert cell.kernel.std() > limit / 3
    product = cell.recurrent_kernel @ cell.recurrent_kernel.T
    assert torch.allclose(product, torch.eye(8), atol=1e-5)
    expected_bias = torch.zeros(32)
    expected_bias[8:16] = 1.0
    assert torch.equal(cell.bias.detach(), expected_bias)
    assert torch.equal(LSTM(2, 3, unit_forget_bias=False).cell.bias.detach(), torch.zeros(12))
    assert GRU(2, 3).cell.bias.shape == (2, 9)
