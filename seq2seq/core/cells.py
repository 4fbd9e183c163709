"""Recurrent cells: one time step each, with Keras's weights and gate order.

A cell owns its weights and computes one step; :class:`seq2seq.core.RNN` runs it
over time. Every cell splits its step in two so that a layer can do the input half
for all time steps in one matrix product:

    projected_t = x_t @ kernel (+ input bias)          # project_inputs, any shape (..., features)
    output, state = step(projected_t, state)          # the recurrence proper

Each cell also hands its weights to torch's fused kernels (``torch.lstm``,
``torch.gru``, ``torch.rnn_tanh``, ``torch.rnn_relu``) in their layout, so that both
paths read the very same parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .activations import ActivationSpec, activation_name, get_activation
from .initializers import InitializerSpec, check_initializer, initialize

State = tuple[torch.Tensor, ...]


def _check_positive(value: int, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{argument}: expected a positive integer, got {value!r}")
    return value


def _as_weight(array, parameter: torch.Tensor, name: str) -> torch.Tensor:
    value = torch.as_tensor(array, dtype=parameter.dtype)
    if tuple(value.shape) != tuple(parameter.shape):
        raise ValueError(
            f"{name}: expected shape {tuple(parameter.shape)}, got {tuple(value.shape)}"
        )
    return value


class RecurrentCell(nn.Module):
    """Base of the three cells: Keras weight layout, initialisers and conversions.

    Attributes:
        kernel: ``(input_size, gates * units)``, gates side by side (Keras's layout).
        recurrent_kernel: ``(units, gates * units)``.
        bias: ``(gates * units,)`` (GRU with ``reset_after``: ``(2, 3 * units)``), or None.

    ``kernel`` and ``recurrent_kernel`` are transposed views of the parameters
    ``weight_ih (gates * units, input_size)`` and ``weight_hh (gates * units, units)``,
    stored in torch's layout so that the fused kernels read them without a copy.
    """

    gates: int = 1
    state_names: tuple[str, ...] = ("h",)

    def __init__(
        self,
        input_size: int,
        units: int,
        activation: ActivationSpec = "tanh",
        recurrent_activation: ActivationSpec = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: InitializerSpec = "glorot_uniform",
        recurrent_initializer: InitializerSpec = "orthogonal",
        bias_initializer: InitializerSpec = "zeros",
    ) -> None:
        super().__init__()
        self.kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")
        self.recurrent_initializer = check_initializer(recurrent_initializer,
                                                       "recurrent_initializer")
        self.bias_initializer = check_initializer(bias_initializer, "bias_initializer")
        self.input_size = _check_positive(input_size, "input_size")
        self.units = _check_positive(units, "units")
        self.activation = get_activation(activation, "activation")
        self.recurrent_activation = get_activation(recurrent_activation, "recurrent_activation")
        self.activation_name = activation_name(activation)
        self.recurrent_activation_name = activation_name(recurrent_activation)
        self.use_bias = use_bias
        width = self.gates * units
        self.weight_ih = nn.Parameter(torch.empty(width, input_size))
        self.weight_hh = nn.Parameter(torch.empty(width, units))
        if use_bias:
            self.bias = nn.Parameter(torch.empty(self.bias_shape))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    @property
    def kernel(self) -> torch.Tensor:
        """``(input_size, gates * units)``, a view of ``weight_ih``."""
        return self.weight_ih.t()

    @property
    def recurrent_kernel(self) -> torch.Tensor:
        """``(units, gates * units)``, a view of ``weight_hh``."""
        return self.weight_hh.t()

    @property
    def bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)

    @property
    def state_count(self) -> int:
        return len(self.state_names)

    def reset_parameters(self) -> None:
        """The initialisers (Keras's defaults: glorot_uniform kernel, orthogonal recurrent
        kernel, zero bias), each given its weight's Keras shape."""
        width = self.gates * self.units
        initialize(self.weight_ih, self.kernel_initializer, (self.input_size, width),
                   "kernel_initializer")
        initialize(self.weight_hh, self.recurrent_initializer, (self.units, width),
                   "recurrent_initializer")
        if self.bias is not None:
            self.initialize_bias()

    def initialize_bias(self) -> None:
        initialize(self.bias, self.bias_initializer, self.bias_shape, "bias_initializer")

    def initial_state(self, batch: int, like: torch.Tensor) -> State:
        """Zeros, one ``(batch, units)`` tensor per state."""
        zeros = like.new_zeros(batch, self.units)
        return tuple(zeros for _ in self.state_names)

    def input_bias(self) -> torch.Tensor | None:
        """The part of the bias added to the projected inputs."""
        return self.bias

    def project_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs @ kernel + input bias``: ``(..., input_size) -> (..., gates * units)``."""
        return F.linear(inputs, self.weight_ih, self.input_bias())

    def step(self, projected: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step from projected inputs ``(batch, gates * units)``; returns (output, state)."""
        raise NotImplementedError

    def forward(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step from raw inputs ``(batch, input_size)``; returns (output, state)."""
        return self.step(self.project_inputs(inputs), state)

    # --- torch's fused kernels --------------------------------------------------------
    def fused_kernel(self) -> str | None:
        """Name of the torch function that computes this cell fused, or None if none does."""
        return None

    def fused_weights(self) -> list[torch.Tensor]:
        """``[weight_ih, weight_hh, bias_ih, bias_hh]`` in torch's layout (no biases if unused)."""
        weights = [self.weight_ih, self.weight_hh]
        if self.bias is not None:
            weights += [self.bias, torch.zeros_like(self.bias)]
        return weights

    # --- Keras weights ----------------------------------------------------------------
    def get_keras_weights(self) -> list:
        """``[kernel, recurrent_kernel, bias]`` as NumPy arrays (bias left out without use_bias)."""
        return [w.detach().cpu().numpy().copy() for w in self._keras_weights()]

    def set_keras_weights(self, weights: Sequence) -> None:
        """Load Keras ``get_weights()`` arrays: ``[kernel, recurrent_kernel(, bias)]``."""
        targets = self._keras_weights()
        names = ["kernel", "recurrent_kernel", "bias"][: len(targets)]
        if len(weights) != len(targets):
            raise ValueError(
                f"weights: expected {len(targets)} arrays {names}, got {len(weights)}"
            )
        values = [_as_weight(w, t, n) for w, t, n in zip(weights, targets, names)]
        with torch.no_grad():
            for target, value in zip(targets, values):
                target.copy_(value)  # targets are views: this writes the parameters

    def _keras_weights(self) -> list[torch.Tensor]:
        weights = [self.kernel, self.recurrent_kernel]
        return weights + ([self.bias] if self.bias is not None else [])

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.units}"


class LSTMCell(RecurrentCell):
    """Keras ``LSTMCell``: gates i, f, c, o side by side in every weight.

    .. math::
        [i, f, \\tilde c, o] = x W + h_{t-1} U + b \\\\
        c_t = \\sigma(f) c_{t-1} + \\sigma(i) \\tanh(\\tilde c), \\quad
        h_t = \\sigma(o) \\tanh(c_t)

    with ``activation`` in place of tanh and ``recurrent_activation`` in place of sigma.
    ``unit_forget_bias`` starts the forget-gate bias at 1 and the other gates' biases as
    ``bias_initializer`` gives them (``i`` as a ``(units,)`` weight, ``c, o`` as one of
    ``(2 * units,)``), as Keras does.
    """

    gates = 4
    state_names = ("h", "c")

    def __init__(self, input_size, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, unit_forget_bias=True, **initializers) -> None:
        self.unit_forget_bias = unit_forget_bias
        super().__init__(input_size, units, activation, recurrent_activation, use_bias,
                         **initializers)

    def initialize_bias(self) -> None:
        if not self.unit_forget_bias:
            super().initialize_bias()
            return
        units, spec = self.units, self.bias_initializer
        initialize(self.bias[:units], spec, (units,), "bias_initializer")
        with torch.no_grad():
            self.bias[units : 2 * units] = 1.0
        initialize(self.bias[2 * units :], spec, (2 * units,), "bias_initializer")

    def step(self, projected, state):
        h, c = state
        z = torch.addmm(projected, h, self.recurrent_kernel)  # gates i, f, c, o
        i, f, g, o = z.chunk(4, dim=-1)
        sigma = self.recurrent_activation
        c = sigma(f) * c + sigma(i) * self.activation(g)
        h = sigma(o) * self.activation(c)
        return h, (h, c)

    def fused_kernel(self):
        if (self.activation_name, self.recurrent_activation_name) == ("tanh", "sigmoid"):
            return "lstm"
        return None


class GRUCell(RecurrentCell):
    """Keras ``GRUCell``: gates z, r, h side by side in every weight.

    With ``reset_after=True`` (Keras's default, and cuDNN's form) the reset gate applies
    after the recurrent product and the bias has two rows, ``[input_bias, recurrent_bias]``:

    .. math::
        z = \\sigma(x W_z + b_z + h U_z + b'_z), \\quad r = \\sigma(x W_r + b_r + h U_r + b'_r) \\\\
        \\tilde h = \\tanh(x W_h + b_h + r \\odot (h U_h + b'_h)), \\quad
        h_t = z \\odot h_{t-1} + (1 - z) \\odot \\tilde h

    With ``reset_after=False`` (one bias row):
    ``\\tilde h = \\tanh(x W_h + (r \\odot h) U_h + b_h)``.
    """

    gates = 3

    def __init__(self, input_size, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, reset_after=True, **initializers) -> None:
        self.reset_after = reset_after
        super().__init__(input_size, units, activation, recurrent_activation, use_bias,
                         **initializers)

    @property
    def bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def input_bias(self):
        if self.bias is not None and self.reset_after:
            return self.bias[0]
        return self.bias

    def step(self, projected, state):
        (h,) = state
        u = self.units
        x_z, x_r, x_h = projected.chunk(3, dim=-1)
        sigma = self.recurrent_activation
        if self.reset_after:
            inner = h @ self.recurrent_kernel
            if self.bias is not None:
                inner = inner + self.bias[1]
            r_z, r_r, r_h = inner.chunk(3, dim=-1)
            z = sigma(x_z + r_z)
            r = sigma(x_r + r_r)
            candidate = self.activation(x_h + r * r_h)
        else:
            r_z, r_r = (h @ self.recurrent_kernel[:, : 2 * u]).chunk(2, dim=-1)
            z = sigma(x_z + r_z)
            r = sigma(x_r + r_r)
            candidate = self.activation(x_h + (r * h) @ self.recurrent_kernel[:, 2 * u :])
        h = z * h + (1 - z) * candidate
        return h, (h,)

    def fused_kernel(self):
        default = (self.activation_name, self.recurrent_activation_name) == ("tanh", "sigmoid")
        return "gru" if default and self.reset_after else None

    def fused_weights(self):
        # torch orders the gates r, z, n; Keras z, r, h (along the first dimension here).
        u = self.units

        def to_torch(weight: torch.Tensor) -> torch.Tensor:
            return torch.cat([weight[u : 2 * u], weight[:u], weight[2 * u :]])

        weights = [to_torch(self.weight_ih), to_torch(self.weight_hh)]
        if self.bias is not None:
            weights += [to_torch(self.bias[0]), to_torch(self.bias[1])]
        return weights


class SimpleRNNCell(RecurrentCell):
    """Keras ``SimpleRNNCell``: ``h_t = activation(x W + h_{t-1} U + b)``."""

    def __init__(self, input_size, units, activation="tanh", use_bias=True,
                 **initializers) -> None:
        super().__init__(input_size, units, activation, None, use_bias, **initializers)

    def step(self, projected, state):
        (h,) = state
        h = self.activation(torch.addmm(projected, h, self.recurrent_kernel))
        return h, (h,)

    def fused_kernel(self):
        return {"tanh": "rnn_tanh", "relu": "rnn_relu"}.get(self.activation_name)
