"""Layers built from recurrent layers: Keras's ``Bidirectional``, and a stack of layers."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from .recurrent import (
    GRU,
    LSTM,
    RNN,
    SimpleRNN,
    check_inputs,
    check_lengths,
    check_mask,
    reverse_padded,
)

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def merge(forward: torch.Tensor, backward: torch.Tensor, mode: str | None):
    """Join the two directions' outputs as Keras's ``merge_mode`` says."""
    if mode == "concat":
        return torch.cat([forward, backward], -1)
    if mode == "sum":
        return forward + backward
    if mode == "mul":
        return forward * backward
    if mode == "ave":
        return (forward + backward) / 2
    return [forward, backward]


class Bidirectional(nn.Module):
    """Keras ``Bidirectional``: one layer reads forwards, a copy reads backwards.

    The backward layer is a fresh copy of ``layer`` with ``go_backwards`` flipped and its
    own weights, unless ``backward_layer`` is given. With lengths, the backward layer
    starts at each sequence's last real step, and its sequence output is put back in
    time order before the two are merged.

    Args:
        layer: an :class:`RNN` (``LSTM``, ``GRU``, ``SimpleRNN``).
        merge_mode: ``"concat"``, ``"sum"``, ``"mul"``, ``"ave"``, or None for a list
            ``[forward, backward]``.
        backward_layer: the layer that reads backwards, if not a copy of ``layer``.

    Outputs: like the wrapped layer's; with ``return_state``,
    ``(output, *forward_state, *backward_state)``.
    """

    def __init__(self, layer: RNN, merge_mode: str | None = "concat",
                 backward_layer: RNN | None = None) -> None:
        super().__init__()
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"merge_mode: expected one of {list(MERGE_MODES)}, got {merge_mode!r}")
        if backward_layer is None:
            backward_layer = copy.deepcopy(layer)
            backward_layer.go_backwards = not layer.go_backwards
            backward_layer.cell.reset_parameters()
        for name in ("input_size", "return_sequences", "return_state", "time_major"):
            if getattr(layer, name) != getattr(backward_layer, name):
                raise ValueError(
                    f"backward_layer.{name}: expected {getattr(layer, name)!r} like the "
                    f"forward layer, got {getattr(backward_layer, name)!r}"
                )
        if backward_layer.go_backwards == layer.go_backwards:
            raise ValueError("backward_layer.go_backwards: expected the opposite of layer's")
        for direction in (layer, backward_layer):  # as Keras does: zeros at masked steps
            direction.zero_output_for_mask = layer.return_sequences
        self.forward_layer = layer
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode

    @property
    def input_size(self) -> int:
        return self.forward_layer.input_size

    @property
    def output_size(self) -> int:
        size = self.forward_layer.units
        return size + self.backward_layer.units if self.merge_mode == "concat" else size

    @property
    def return_sequences(self) -> bool:
        return self.forward_layer.return_sequences

    def reset_state(self, states: Sequence[torch.Tensor] | None = None) -> None:
        """Both directions' :meth:`RNN.reset_state` (with ``states``: the forward layer's,
        then the backward layer's, as ``initial_state`` takes them)."""
        if states is None:
            self.forward_layer.reset_state()
            self.backward_layer.reset_state()
            return
        half = self.forward_layer.cell.state_count
        if len(states) != 2 * half:
            raise ValueError(f"states: expected {2 * half} tensors (forward, then backward), "
                             f"got {len(states)}")
        self.forward_layer.reset_state(states[:half])
        self.backward_layer.reset_state(states[half:])

    def get_keras_weights(self) -> list:
        """Forward layer's arrays, then the backward layer's (Keras's order)."""
        return self.forward_layer.get_keras_weights() + self.backward_layer.get_keras_weights()

    def set_keras_weights(self, weights: Sequence) -> None:
        half = len(self.forward_layer.get_keras_weights())
        if len(weights) != 2 * half:
            raise ValueError(f"weights: expected {2 * half} arrays (forward, then backward), "
                             f"got {len(weights)}")
        self.forward_layer.set_keras_weights(weights[:half])
        self.backward_layer.set_keras_weights(weights[half:])

    def forward(self, inputs, initial_state=None, lengths=None, mask=None):
        time_major = self.forward_layer.time_major
        x = check_inputs(inputs, self.input_size, time_major)
        lengths = check_lengths(lengths, mask, x.shape[0], x.shape[1])
        mask = check_mask(mask, x.shape[0], x.shape[1])
        outputs, state = self.run(x, initial_state, lengths, mask)
        if self.return_sequences:
            if time_major:
                outputs = [o.transpose(0, 1) for o in outputs] if self.merge_mode is None \
                    else outputs.transpose(0, 1)
            output = outputs
        else:
            half = self.forward_layer.cell.state_count
            output = merge(state[0], state[half], self.merge_mode)
        return (output, *state) if self.forward_layer.return_state else output

    def run(self, x: torch.Tensor, initial_state, lengths: torch.Tensor | None,
            mask: torch.Tensor | None = None):
        """Batch-major ``x`` -> (merged outputs in time order, forward + backward state)."""
        half = self.forward_layer.cell.state_count
        if initial_state is None:
            forward_state = backward_state = None
        elif len(initial_state) != 2 * half:
            raise ValueError(
                f"initial_state: expected {2 * half} tensors (forward, then backward), "
                f"got {len(initial_state)}"
            )
        else:
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        forward_outputs, forward_state = self.forward_layer.run(x, forward_state, lengths, mask)
        backward_outputs, backward_state = self.backward_layer.run(x, backward_state, lengths,
                                                                   mask)
        # back in time order: a mask reverses the whole time axis (Keras), lengths each
        # sequence within its length
        backward_outputs = (reverse_padded(backward_outputs, lengths) if mask is None
                            else backward_outputs.flip(1))
        outputs = merge(forward_outputs, backward_outputs, self.merge_mode)
        return outputs, (*forward_state, *backward_state)


LAYERS = {"lstm": LSTM, "gru": GRU, "rnn": SimpleRNN}


class StackedRNN(nn.Module):
    """Recurrent layers applied in turn, with dropout between them.

    Every layer (built with ``return_sequences`` and ``return_state``) returns its whole
    sequence to the next; the stack returns the last
    layer's sequence and every layer's final state, the form an encoder hands to a
    decoder (``initial_state`` takes the same list back).

    Inputs: ``inputs (batch, time, features), initial_state=None, lengths=None, mask=None``.
    Outputs: ``(outputs (batch, time, output_size), [state of layer 0, state of layer 1, ...])``.
    """

    def __init__(self, layers: Sequence[nn.Module], dropout: float = 0.0) -> None:
        super().__init__()
        if not layers:
            raise ValueError("layers: expected at least one layer, got none")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: expected a fraction in [0, 1), got {dropout!r}")
        for index in range(1, len(layers)):
            expected, got = layers[index - 1].output_size, layers[index].input_size
            if expected != got:
                raise ValueError(
                    f"layers[{index}].input_size: expected {expected} (the output size of "
                    f"layers[{index - 1}]), got {got}"
                )
        for index, layer in enumerate(layers):
            if getattr(layer, "merge_mode", "concat") is None:
                raise ValueError(f"layers[{index}].merge_mode: expected a merge, got None")
            for flag in ("return_sequences", "return_state"):
                if not getattr(layer.forward_layer if isinstance(layer, Bidirectional)
                               else layer, flag):
                    raise ValueError(f"layers[{index}].{flag}: expected True in a stack")
        self.layers = nn.ModuleList(layers)
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def build(cls, kind: str, input_size: int, units: int, num_layers: int = 1, *,
              dropout: float = 0.0, bidirectional: bool = False,
              merge_mode: str | None = "concat", **layer_options) -> StackedRNN:
        """A stack of ``num_layers`` layers of ``kind`` (``"lstm"``, ``"gru"``, ``"rnn"``).

        ``layer_options`` go to each layer (e.g. ``recurrent_dropout``, ``activation``).
        """
        if kind not in LAYERS:
            raise ValueError(f"kind: expected one of {sorted(LAYERS)}, got {kind!r}")
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers: expected a positive integer, got {num_layers!r}")
        layers: list[nn.Module] = []
        size = input_size
        for _ in range(num_layers):
            layer = LAYERS[kind](size, units, return_sequences=True, return_state=True,
                                 **layer_options)
            layer = Bidirectional(layer, merge_mode) if bidirectional else layer
            layers.append(layer)
            size = layer.output_size
        return cls(layers, dropout)

    @property
    def input_size(self) -> int:
        return self.layers[0].input_size

    @property
    def output_size(self) -> int:
        return self.layers[-1].output_size

    def reset_state(self) -> None:
        """Every (stateful) layer's ``reset_state()``."""
        for layer in self.layers:
            layer.reset_state()

    def forward(self, inputs, initial_state=None, lengths=None, mask=None):
        x = check_inputs(inputs, self.input_size, time_major=False)
        lengths = check_lengths(lengths, mask, x.shape[0], x.shape[1])
        mask = check_mask(mask, x.shape[0], x.shape[1])
        if initial_state is not None and len(initial_state) != len(self.layers):
            raise ValueError(f"initial_state: expected one state per layer ({len(self.layers)}), "
                             f"got {len(initial_state)}")
        states = []
        for index, layer in enumerate(self.layers):
            if index > 0:
                x = self.dropout(x)
            layer_state = None if initial_state is None else initial_state[index]
            x, *state = layer(x, initial_state=layer_state, lengths=lengths, mask=mask)
            states.append(tuple(state))
        return x, states
