"""Keras's initialisers by name, number or callable: scales computed on Keras's weight
shapes, unit_forget_bias composed with them, defaults unchanged."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from seq2seq.core import GRU, LSTM, SimpleRNN
from seq2seq.core.initializers import NAMES

INPUT, UNITS = 300, 200  # kernel (300, 800), recurrent kernel (200, 800) for an LSTM


def kernels(layer):
    kernel, recurrent, *bias = layer.get_keras_weights()
    return kernel, recurrent, (bias[0] if bias else None)


def test_the_defaults_are_torchs_xavier_and_orthogonal_draws_as_before():
    """Runs, checkpoints and figures depend on the default weights staying bit for bit."""
    torch.manual_seed(3)
    layer = LSTM(7, 5)
    torch.manual_seed(3)
    weight_ih, weight_hh = torch.empty(20, 7), torch.empty(20, 5)
    nn.init.xavier_uniform_(weight_ih)
    nn.init.orthogonal_(weight_hh)
    assert torch.equal(layer.cell.weight_ih, weight_ih)
    assert torch.equal(layer.cell.weight_hh, weight_hh)
    assert layer.cell.bias.tolist() == [0.0] * 5 + [1.0] * 5 + [0.0] * 10


@pytest.mark.parametrize("name, scale, fan", [
    ("he_normal", 2.0, "in"), ("lecun_normal", 1.0, "in"), ("glorot_normal", 1.0, "avg")])
def test_variance_scaling_normals_have_kerass_std_on_kerass_fans(name, scale, fan):
    layer = LSTM(INPUT, UNITS, kernel_initializer=name, recurrent_initializer=name)
    for weight, (fan_in, fan_out) in zip(kernels(layer)[:2],
                                         [(INPUT, 4 * UNITS), (UNITS, 4 * UNITS)]):
        n = {"in": fan_in, "avg": (fan_in + fan_out) / 2}[fan]
        std = math.sqrt(scale / n)  # Keras rescales its truncated normal to this std
        assert weight.std() == pytest.approx(std, rel=0.02)
        assert np.abs(weight).max() <= 2 * std / 0.87962566103423978 + 1e-6


@pytest.mark.parametrize("name, limit", [
    ("glorot_uniform", math.sqrt(6 / (INPUT + 4 * UNITS))), ("he_uniform", math.sqrt(6 / INPUT)),
    ("lecun_uniform", math.sqrt(3 / INPUT)), ("random_uniform", 0.05)])
def test_uniforms_fill_kerass_limits(name, limit):
    kernel = kernels(LSTM(INPUT, UNITS, kernel_initializer=name))[0]
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.99 * limit


def test_orthogonal_identity_constants_and_normals():
    layer = LSTM(INPUT, UNITS, kernel_initializer="orthogonal")
    kernel, recurrent, _ = kernels(layer)
    for weight in (kernel, recurrent):  # Keras: orthonormal rows of the (rows <= cols) weight
        np.testing.assert_allclose(weight @ weight.T, np.eye(weight.shape[0]), atol=1e-5)
    square = SimpleRNN(6, 6, kernel_initializer="identity", recurrent_initializer="identity")
    assert all(np.array_equal(w, np.eye(6)) for w in kernels(square)[:2])
    constant = GRU(4, 3, kernel_initializer=0.25, recurrent_initializer="ones",
                   bias_initializer="zeros")
    kernel, recurrent, bias = kernels(constant)
    assert (kernel == 0.25).all() and (recurrent == 1).all() and (bias == 0).all()
    normal = kernels(LSTM(INPUT, UNITS, kernel_initializer="random_normal"))[0]
    assert normal.std() == pytest.approx(0.05, rel=0.02) and np.abs(normal).max() > 0.1
    truncated = kernels(LSTM(INPUT, UNITS, kernel_initializer="truncated_normal"))[0]
    assert np.abs(truncated).max() <= 0.1 + 1e-6


def test_a_callable_gets_the_keras_shape_and_its_array_lands_in_the_keras_layout():
    calls = []

    def counting(shape, dtype=None):
        calls.append(tuple(shape))
        return np.arange(math.prod(shape), dtype=np.float32).reshape(shape)

    layer = LSTM(3, 2, kernel_initializer=counting, recurrent_initializer=counting,
                 bias_initializer=counting)
    # the kernels, then the bias as Keras builds it around unit_forget_bias: i, (f = 1), c o
    assert calls == [(3, 8), (2, 8), (2,), (4,)]
    kernel, recurrent, bias = kernels(layer)
    assert np.array_equal(kernel, np.arange(24).reshape(3, 8))
    assert np.array_equal(recurrent, np.arange(16).reshape(2, 8))
    assert bias.tolist() == [0, 1, 1, 1, 0, 1, 2, 3]
    gru = GRU(3, 2, bias_initializer=counting)
    assert calls[-1] == (2, 6)  # reset_after: one input and one recurrent bias row
    assert np.array_equal(kernels(gru)[2], np.arange(12).reshape(2, 6))


def test_unit_forget_bias_composes_with_any_bias_initializer():
    bias = kernels(LSTM(3, 4, bias_initializer="ones"))[2]
    assert (bias == 1).all()
    bias = kernels(LSTM(3, 4, bias_initializer="random_normal"))[2]
    assert (bias[4:8] == 1).all() and (bias[:4] != 1).all() and (bias[8:] != 1).all()
    bias = kernels(LSTM(3, 4, bias_initializer="random_normal", unit_forget_bias=False))[2]
    assert (bias != 1).all()


@pytest.mark.parametrize("argument", ["kernel_initializer", "recurrent_initializer",
                                      "bias_initializer"])
def test_a_bad_initializer_is_an_error_naming_the_argument(argument):
    with pytest.raises(ValueError, match=rf"^{argument}: unknown initialiser 'glorot'; known:"):
        LSTM(3, 2, **{argument: "glorot"})
    with pytest.raises(ValueError, match=rf"^{argument}: expected an initialiser name"):
        GRU(3, 2, **{argument: [1, 2]})
    with pytest.raises(ValueError, match=rf"^{argument}: the initialiser returned shape"):
        SimpleRNN(3, 2, **{argument: lambda shape, dtype=None: np.zeros((1, 1))})


def test_keras_draws_the_same_distributions():
    """Against Keras 3's own initialisers (where Keras is installed): the same std and
    range (99.9th percentile of |w|: Keras's torch backend truncates by taking the first of
    four draws inside two std, so a rare value escapes its cut) on the same shape."""
    keras = pytest.importorskip("keras", reason="Keras 3 (KERAS_BACKEND=torch) not installed")
    shape = (INPUT, 4 * UNITS)
    for name in sorted(set(NAMES) - {"identity", "orthogonal", "zeros", "ones"}):
        theirs = np.asarray(keras.initializers.get(name)(shape))
        ours = kernels(LSTM(INPUT, UNITS, kernel_initializer=name))[0]
        assert ours.std() == pytest.approx(float(theirs.std()), rel=0.03), name
        assert np.quantile(np.abs(ours), 0.999) == pytest.approx(
            float(np.quantile(np.abs(theirs), 0.999)), rel=0.05), name
