"""Activation functions by their Keras names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Union

import torch
import torch.nn.functional as F

Activation = Callable[[torch.Tensor], torch.Tensor]
ActivationSpec = Union[str, Activation, None]


def linear(x: torch.Tensor) -> torch.Tensor:
    """The identity, Keras's ``"linear"`` (also what ``None`` means)."""
    return x


# "hard_sigmoid" is Keras 3's relu6(x + 3) / 6, which is torch's hardsigmoid.
ACTIVATIONS: dict[str, Activation] = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "hard_sigmoid": F.hardsigmoid,
    "linear": linear,
}


def activation_name(spec: ActivationSpec) -> str | None:
    """The Keras name of an activation spec, or None for a custom callable."""
    if spec is None:
        return "linear"
    if isinstance(spec, str):
        return spec
    return None


def get_activation(spec: ActivationSpec, argument: str) -> Activation:
    """Resolve a Keras activation name, ``None`` (linear) or a callable.

    Raises:
        ValueError: naming ``argument`` when the name is unknown.
    """
    if spec is None:
        return linear
    if callable(spec):
        return spec
    if isinstance(spec, str) and spec in ACTIVATIONS:
        return ACTIVATIONS[spec]
    raise ValueError(
        f"{argument}: expected one of {sorted(ACTIVATIONS)}, None or a callable, got {spec!r}"
    )
