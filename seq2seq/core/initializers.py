"""Keras's weight initialisers, by name, number or callable, for the cells' weights.

Keras initialises ``kernel (input_size, gates * units)``, ``recurrent_kernel (units,
gates * units)`` and ``bias``; the cells hold the two kernels transposed (torch's layout).
Every initialiser here is given the weight's *Keras* shape, computes its fans on it as
Keras does (2-D: rows, columns; 1-D: the length twice) and writes the parameter, so a
Keras layer definition carries over as written::

    LSTM(28, 64, kernel_initializer="he_normal", recurrent_initializer="orthogonal",
         bias_initializer="zeros")

Names (Keras 3's defaults for each): ``zeros``, ``ones``, ``glorot_uniform``,
``glorot_normal``, ``he_uniform``, ``he_normal``, ``lecun_uniform``, ``lecun_normal``
(the ``*_normal`` ones draw from a normal truncated at two standard deviations, scaled
as Keras's ``VarianceScaling`` does), ``orthogonal``, ``identity``, ``random_uniform``
(``[-0.05, 0.05]``), ``random_normal`` (std 0.05), ``truncated_normal`` (std 0.05, cut
at two). A number is a constant; a callable is called as Keras calls one,
``initializer(shape, dtype)``, and must return an array of that shape. Draws come from
torch's generator (``torch.manual_seed``); the numbers differ from Keras's, the
distributions do not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real
from typing import Union

import torch
from torch import nn

InitializerSpec = Union[str, float, Callable]

_TRUNCATED_STD = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras's ``compute_fans``: 1-D: (n, n); 2-D: (rows, columns); more: receptive field."""
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _variance_scaling(scale: float, mode: str, distribution: str):
    def fill(tensor: torch.Tensor, shape: tuple[int, ...]) -> None:
        fan_in, fan_out = _fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        if distribution == "uniform":
            limit = math.sqrt(3.0 * scale / max(1.0, fan))
            tensor.uniform_(-limit, limit)
        else:
            std = math.sqrt(scale / max(1.0, fan)) / _TRUNCATED_STD
            nn.init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std)
    return fill


def _orthogonal(tensor: torch.Tensor, shape: tuple[int, ...]) -> None:
    # the tensor is the Keras weight or its transpose: orthonormal rows of one are
    # orthonormal columns of the other, and torch makes whichever side is shorter so
    nn.init.orthogonal_(tensor)


def _identity(tensor: torch.Tensor, shape: tuple[int, ...]) -> None:
    if len(shape) != 2:
        raise ValueError(f"identity: needs a 2-D weight, got shape {shape}")
    nn.init.eye_(tensor)


def _normal(std: float, truncated: bool):
    def fill(tensor: torch.Tensor, shape: tuple[int, ...]) -> None:
        if truncated:
            nn.init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std)
        else:
            tensor.normal_(0.0, std)
    return fill


def _glorot_uniform(tensor: torch.Tensor, shape: tuple[int, ...]) -> None:
    if tensor.dim() == 2:  # torch's own, so that default weights stay what they were
        nn.init.xavier_uniform_(tensor)  # (its fans are the transpose's: the sum is the same)
    else:
        _variance_scaling(1.0, "fan_avg", "uniform")(tensor, shape)


NAMES: dict[str, Callable[[torch.Tensor, tuple[int, ...]], None]] = {
    "zeros": lambda tensor, shape: nn.init.zeros_(tensor),
    "ones": lambda tensor, shape: nn.init.ones_(tensor),
    "glorot_uniform": _glorot_uniform,
    "glorot_normal": _variance_scaling(1.0, "fan_avg", "normal"),
    "he_uniform": _variance_scaling(2.0, "fan_in", "uniform"),
    "he_normal": _variance_scaling(2.0, "fan_in", "normal"),
    "lecun_uniform": _variance_scaling(1.0, "fan_in", "uniform"),
    "lecun_normal": _variance_scaling(1.0, "fan_in", "normal"),
    "orthogonal": _orthogonal,
    "identity": _identity,
    "random_uniform": lambda tensor, shape: tensor.uniform_(-0.05, 0.05),
    "random_normal": _normal(0.05, truncated=False),
    "truncated_normal": _normal(0.05, truncated=True),
}
ALIASES = {"glorotuniform": "glorot_uniform", "glorotnormal": "glorot_normal",
           "heuniform": "he_uniform", "henormal": "he_normal", "lecununiform": "lecun_uniform",
           "lecunnormal": "lecun_normal", "randomuniform": "random_uniform",
           "randomnormal": "random_normal", "truncatednormal": "truncated_normal",
           "zero": "zeros", "one": "ones", "xavier_uniform": "glorot_uniform",
           "xavier_normal": "glorot_normal"}


def check_initializer(spec: InitializerSpec, argument: str) -> InitializerSpec:
    """``spec`` if it names an initialiser (or is a number or a callable), else a
    ``ValueError`` naming ``argument`` and the names."""
    if isinstance(spec, bool) or not (isinstance(spec, (str, Real)) or callable(spec)):
        raise ValueError(f"{argument}: expected an initialiser name, a number or a callable, "
                         f"got {spec!r}")
    if isinstance(spec, str) and _canonical(spec) not in NAMES:
        raise ValueError(f"{argument}: unknown initialiser {spec!r}; known: {sorted(NAMES)}")
    return spec


def _canonical(name: str) -> str:
    key = name.lower()
    return ALIASES.get(key.replace("_", ""), ALIASES.get(key, key))


@torch.no_grad()
def initialize(tensor: torch.Tensor, spec: InitializerSpec, keras_shape: tuple[int, ...],
               argument: str) -> None:
    """Write ``tensor`` (a view of the parameter, laid out as ``keras_shape`` or its
    transpose) as the initialiser ``spec`` gives a Keras weight of ``keras_shape``."""
    transposed = tuple(tensor.shape) != tuple(keras_shape)
    if isinstance(spec, str):
        NAMES[_canonical(spec)](tensor, keras_shape)
        return
    if isinstance(spec, Real):
        tensor.fill_(float(spec))
        return
    value = torch.as_tensor(spec(keras_shape, dtype="float32"), dtype=tensor.dtype)
    if tuple(value.shape) != tuple(keras_shape):
        raise ValueError(f"{argument}: the initialiser returned shape {tuple(value.shape)}, "
                         f"expected {tuple(keras_shape)}")
    tensor.copy_(value.t() if transposed else value)
