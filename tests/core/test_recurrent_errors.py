"""Bad arguments give a ValueError naming the argument, the expected and the actual value."""

import numpy as np
import pytest
import torch

from seq2seq.core import GRU, LSTM, Bidirectional, SimpleRNN, StackedRNN


def test_wrong_input_rank():
    with pytest.raises(ValueError, match=r"inputs: expected a 3-D tensor \(batch, time, features\)"
                                         r", got \(4, 2\)"):
        LSTM(2, 3)(torch.zeros(4, 2))


def test_feature_size_mismatch():
    with pytest.raises(ValueError, match=r"inputs: expected 2 features .* got shape \(4, 5, 3\)"):
        LSTM(2, 3)(torch.zeros(4, 5, 3))


def test_initial_state_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"initial_state\[1\] \(c\): expected shape \(4, 3\), "
                                         r"got \(4, 5\)"):
        LSTM(2, 3)(torch.zeros(4, 5, 2), initial_state=[torch.zeros(4, 3), torch.zeros(4, 5)])
    with pytest.raises(ValueError, match=r"initial_state: expected 2 tensors \(h, c\)"):
        LSTM(2, 3)(torch.zeros(4, 5, 2), initial_state=[torch.zeros(4, 3)])


def test_lengths_that_do_not_fit_the_batch():
    x = torch.zeros(4, 5, 2)
    with pytest.raises(ValueError, match=r"lengths: expected shape \(4,\), got \(3,\)"):
        GRU(2, 3)(x, lengths=torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"lengths: expected values in \[1, 5\] .* max 6"):
        GRU(2, 3)(x, lengths=torch.tensor([1, 2, 3, 6]))
    with pytest.raises(ValueError, match=r"lengths: expected values in \[1, 5\] .* got min 0"):
        GRU(2, 3)(x, lengths=torch.tensor([0, 2, 3, 5]))
    with pytest.raises(ValueError, match=r"lengths: expected integers"):
        GRU(2, 3)(x, lengths=torch.tensor([1.0, 2, 3, 5]))
    with pytest.raises(ValueError, match=r"mask: expected booleans \(or 0/1\)"):
        GRU(2, 3)(x, mask=torch.full((4, 5), 0.5))
    with pytest.raises(ValueError, match=r"lengths, mask: give one of them"):
        GRU(2, 3)(x, mask=torch.ones(4, 5, dtype=torch.bool), lengths=[1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"mask: expected shape \(4, 5\), got \(4, 4\)"):
        GRU(2, 3)(x, mask=torch.ones(4, 4, dtype=torch.bool))


def test_keras_weights_of_the_wrong_shape():
    layer = LSTM(2, 3)
    kernel, recurrent_kernel, bias = layer.get_keras_weights()
    with pytest.raises(ValueError, match=r"kernel: expected shape \(2, 12\), got \(3, 12\)"):
        layer.set_keras_weights([np.zeros((3, 12)), recurrent_kernel, bias])
    with pytest.raises(ValueError, match=r"bias: expected shape \(12,\), got \(9,\)"):
        layer.set_keras_weights([kernel, recurrent_kernel, np.zeros(9)])
    with pytest.raises(ValueError, match=r"weights: expected 3 arrays"):
        layer.set_keras_weights([kernel, recurrent_kernel])
    before = layer.get_keras_weights()[0]
    with pytest.raises(ValueError):
        layer.set_keras_weights([np.ones((2, 12)), recurrent_kernel, np.zeros(9)])
    assert np.array_equal(layer.get_keras_weights()[0], before)  # nothing half-loaded


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match=r"units: expected a positive integer, got 0"):
        LSTM(2, 0)
    with pytest.raises(ValueError, match=r"activation: expected one of .* got 'tan'"):
        SimpleRNN(2, 3, activation="tan")
    with pytest.raises(ValueError, match=r"dropout: expected a fraction in \[0, 1\), got 1.5"):
        GRU(2, 3, dropout=1.5)
    with pytest.raises(ValueError, match=r"merge_mode: expected one of"):
        Bidirectional(LSTM(2, 3), merge_mode="max")
    with pytest.raises(ValueError, match=r"kind: expected one of \['gru', 'lstm', 'rnn'\]"):
        StackedRNN.build("lstn", 2, 3)
    with pytest.raises(ValueError, match=r"layers\[1\].input_size: expected 3"):
        StackedRNN([LSTM(2, 3, return_sequences=True, return_state=True), LSTM(4, 3)])
    with pytest.raises(ValueError, match=r"layers\[0\].return_sequences: expected True"):
        StackedRNN([LSTM(2, 3)])
