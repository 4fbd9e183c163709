"""Recurrent layers: a cell run over time, with Keras's ``RNN`` layer semantics.

Two paths compute the same function on the same parameters:

* the fused path hands the cell's weights to torch's fused kernels (oneDNN on CPU,
  cuDNN on GPU; packed sequences for variable lengths). It is taken whenever the cell
  has a fused kernel (default activations) and no recurrent dropout is active;
* the reference path is a plain step loop through :meth:`RecurrentCell.step`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from . import precision
from .activations import ActivationSpec
from .cells import GRUCell, LSTMCell, RecurrentCell, SimpleRNNCell, State
from .initializers import InitializerSpec


def _shape(tensor: torch.Tensor) -> tuple[int, ...]:
    return tuple(tensor.shape)


def check_inputs(inputs: torch.Tensor, input_size: int, time_major: bool) -> torch.Tensor:
    """Validate ``inputs`` and return them batch-major, ``(batch, time, features)``."""
    layout = "(time, batch, features)" if time_major else "(batch, time, features)"
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != 3:
        got = _shape(inputs) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        raise ValueError(f"inputs: expected a 3-D tensor {layout}, got {got}")
    if inputs.shape[-1] != input_size:
        raise ValueError(
            f"inputs: expected {input_size} features in the last dimension, "
            f"got shape {_shape(inputs)}"
        )
    if inputs.shape[0] == 0 or inputs.shape[1] == 0:
        raise ValueError(
            f"inputs: expected at least one sequence and one step, got {_shape(inputs)}"
        )
    return inputs.transpose(0, 1) if time_major else inputs


def check_lengths(
    lengths: torch.Tensor | Sequence[int] | None,
    mask: torch.Tensor | None,
    batch: int,
    time: int,
) -> torch.Tensor | None:
    """Validate ``lengths`` against ``(batch, time)`` (and that a ``mask`` does not come
    with them: :func:`check_mask` checks the mask itself).

    Returns int64 lengths, or None when every sequence fills the whole time dimension.
    """
    if mask is not None and lengths is not None:
        raise ValueError("lengths, mask: give one of them, not both")
    if lengths is None:
        return None
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ValueError(f"lengths: expected shape ({batch},), got {_shape(lengths)}")
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(f"lengths: expected integers, got dtype {lengths.dtype}")
    lengths = lengths.long()
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1 or high > time:
        raise ValueError(
            f"lengths: expected values in [1, {time}] (the time dimension), "
            f"got min {low}, max {high}"
        )
    return None if low == time else lengths


def check_mask(mask: torch.Tensor | None, batch: int, time: int) -> torch.Tensor | None:
    """A ``(batch, time)`` mask as booleans (True: a real step), or None when it masks
    nothing. Any pattern is accepted: right- or left-padded, gaps, empty rows."""
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2 or _shape(mask) != (batch, time):
        got = _shape(mask) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"mask: expected shape {(batch, time)}, got {got}")
    if mask.dtype.is_floating_point and not torch.all((mask == 0) | (mask == 1)):
        raise ValueError("mask: expected booleans (or 0/1), got other values")
    mask = mask.bool()
    return None if bool(mask.all()) else mask


def contiguous_spans(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(starts, lengths)`` when every row's real steps form one non-empty run (right- or
    left-padded, or padded on both sides), else None."""
    steps = mask.long()
    lengths = steps.sum(1)
    rises = (steps.diff(dim=1) == 1).sum(1) + steps[:, 0]
    if bool(((lengths == 0) | (rises != 1)).any()):
        return None
    return steps.argmax(1), lengths


def reverse_padded(sequences: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Reverse each ``(batch, time, ...)`` sequence within its own length; padding stays put."""
    if lengths is None:
        return sequences.flip(1)
    time = sequences.shape[1]
    steps = torch.arange(time, device=sequences.device)[None, :]
    lengths = lengths.to(sequences.device)[:, None]
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    index = index.view(*index.shape, *([1] * (sequences.dim() - 2))).expand_as(sequences)
    return sequences.gather(1, index)


def step_mask(lengths: torch.Tensor | None, time: int, device) -> torch.Tensor | None:
    """``(batch, time)`` boolean mask, True on real steps."""
    if lengths is None:
        return None
    return torch.arange(time, device=device)[None, :] < lengths.to(device)[:, None]


class RNN(nn.Module):
    """Run a recurrent cell over time (Keras ``RNN`` semantics).

    Args:
        cell: the :class:`RecurrentCell` to run.
        return_sequences: return the output at every step, not only the last.
        return_state: also return the final state (LSTM: h, c; GRU, SimpleRNN: h).
        go_backwards: read the sequence backwards (from each sequence's last real step)
            and return the outputs in that reversed order, as Keras does.
        time_major: inputs and sequence outputs are ``(time, batch, ...)``.
        dropout: fraction of the inputs' features dropped, one mask for all steps.
        recurrent_dropout: fraction of the previous output dropped at each step, one
            mask for all steps. Forces the reference path while training.
        fused: allow torch's fused kernels when the configuration has one.
        zero_output_for_mask: with a ``mask`` and ``return_sequences``, the output at a
            masked step is zeros; by default (False, as in Keras) it is the previous
            step's output (zeros before the first real step). ``lengths`` always give
            zeros on padding.
        stateful: each call starts from the state the previous call ended in (row ``i``
            from row ``i``; detached, so gradients stop at the call's start: truncated
            back-propagation through long sequences) unless ``initial_state`` is given;
            :meth:`reset_state` starts over from zeros (or from given states). A batch of
            another size than the states' is a ``ValueError``.

    Inputs: ``inputs, initial_state=None, lengths=None, mask=None``
        * inputs: ``(batch, time, features)``.
        * initial_state: a sequence of ``(batch, units)`` tensors (LSTM: ``[h, c]``).
        * lengths: ``(batch,)`` real lengths in ``[1, time]``: padded steps leave the state
          unchanged and output zeros; a sequence gets exactly what it gets alone (with
          ``go_backwards``, reading starts at each sequence's last real step and the
          outputs come in that order, padding last).
        * mask: or a boolean ``(batch, time)``, any pattern, as Keras takes it: a masked
          step leaves the state unchanged and outputs as ``zero_output_for_mask`` says;
          with ``go_backwards`` the whole time axis is reversed (mask too) and outputs
          come in that reversed order, as in Keras. Masks whose real steps form one run
          per row (right- or left-padded) take the fused path, shifted into right-padded
          form; masks with gaps take the reference loop.

    Outputs: ``output`` or, with ``return_state``, ``(output, *state)``
        * output: ``(batch, time, units)`` with ``return_sequences``, else ``(batch, units)``.
        * state: ``(batch, units)`` tensors at each sequence's last real step.
    """

    def __init__(
        self,
        cell: RecurrentCell,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        time_major: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        fused: bool = True,
        stateful: bool = False,
        zero_output_for_mask: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name}: expected a fraction in [0, 1), got {value!r}")
        self.cell = cell
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.time_major = time_major
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.fused = fused
        self.stateful = stateful
        self.zero_output_for_mask = zero_output_for_mask
        self.states: State | None = None  # with stateful: where the last call ended

    def reset_state(self, states: Sequence[torch.Tensor] | torch.Tensor | None = None) -> None:
        """Forget the stored state (the next call starts from zeros), or start the next
        call from ``states`` (one ``(batch, units)`` tensor per state: LSTM ``[h, c]``)."""
        if not self.stateful:
            raise ValueError("reset_state: the layer is not stateful (stateful=False)")
        if states is None:
            self.states = None
            return
        states = (states,) if isinstance(states, torch.Tensor) else tuple(states)
        if not states or not isinstance(states[0], torch.Tensor) or states[0].dim() != 2:
            raise ValueError(f"states: expected {self.cell.state_count} (batch, {self.units}) "
                             f"tensors, got {states!r:.80}")
        probe = states[0].new_empty(states[0].shape[0], 1, self.input_size)
        self.states = tuple(s.detach() for s in self.check_initial_state(states, probe,
                                                                         "states"))

    @property
    def input_size(self) -> int:
        return self.cell.input_size

    @property
    def units(self) -> int:
        return self.cell.units

    @property
    def output_size(self) -> int:
        return self.cell.units

    def uses_fused_path(self) -> bool:
        """Whether :meth:`run` takes torch's fused kernel in the current mode."""
        recurrent_dropout = self.training and self.recurrent_dropout > 0
        return self.fused and self.cell.fused_kernel() is not None and not recurrent_dropout

    # --- Keras weights ----------------------------------------------------------------
    def get_keras_weights(self) -> list:
        """``[kernel, recurrent_kernel, bias]`` as NumPy arrays, Keras ``get_weights()`` layout."""
        return self.cell.get_keras_weights()

    def set_keras_weights(self, weights: Sequence) -> None:
        """Load Keras ``get_weights()`` arrays: ``[kernel, recurrent_kernel, bias]``."""
        self.cell.set_keras_weights(weights)

    # --- running ------------------------------------------------------------------------
    def forward(self, inputs, initial_state=None, lengths=None, mask=None):
        x = check_inputs(inputs, self.input_size, self.time_major)
        lengths = check_lengths(lengths, mask, x.shape[0], x.shape[1])
        mask = check_mask(mask, x.shape[0], x.shape[1])
        outputs, state = self.run(x, initial_state, lengths, mask)
        if self.return_sequences:
            output = outputs.transpose(0, 1) if self.time_major else outputs
        else:
            output = state[0]
        return (output, *state) if self.return_state else output

    def run(self, x: torch.Tensor, initial_state, lengths: torch.Tensor | None,
            mask: torch.Tensor | None = None):
        """Run over batch-major ``x`` with checked ``lengths`` (or a checked ``mask``).

        Returns ``(outputs, state)``: ``outputs (batch, time, units)`` in the order the
        steps were taken (reversed with ``go_backwards``), zeros on padding (a mask's
        masked steps: see ``zero_output_for_mask``), and the final state.
        """
        if self.stateful and initial_state is None and self.states is not None:
            if self.states[0].shape[0] != x.shape[0]:
                raise ValueError(f"stateful: this batch holds {x.shape[0]} sequences, the "
                                 f"layer's states {self.states[0].shape[0]}; call reset_state() "
                                 "to start over with another batch size")
            initial_state = self.states
        state = self.check_initial_state(initial_state, x)
        if mask is None:
            outputs, state = self._run_checked(x, state, lengths)
        else:
            outputs, state = self._run_masked(x, state, mask)
        if self.stateful:
            self.states = tuple(s.detach() for s in state)
        return outputs, state

    def _input_dropout(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.dropout > 0:
            keep = torch.ones_like(x[:, :1, :])
            x = x * nn.functional.dropout(keep, self.dropout, training=True)
        return x

    def _run_checked(self, x: torch.Tensor, state: State, lengths: torch.Tensor | None):
        x = self._input_dropout(x)
        if self.go_backwards:
            x = reverse_padded(x, lengths)
        if self.uses_fused_path():
            return self._run_fused(x, state, lengths)
        return self._run_reference(x, state, lengths)

    def _run_masked(self, x: torch.Tensor, state: State, mask: torch.Tensor):
        """Keras's masking: with ``go_backwards`` the time axis (and the mask) reversed;
        masked steps keep the state and output zeros or the previous output. One run of
        real steps per row: shifted to the front, run with lengths (fused where the
        cell has a kernel), and put back; gaps: the reference loop."""
        x = self._input_dropout(x)
        if self.go_backwards:
            x, mask = x.flip(1), mask.flip(1)
        spans = contiguous_spans(mask)
        if spans is None or not self.uses_fused_path():
            return self._run_reference(x, state, None, real=mask,
                                       repeat_output=not self.zero_output_for_mask)
        starts, lengths = spans
        time = x.shape[1]
        steps = torch.arange(time, device=x.device)[None, :]
        right_padded = not bool(starts.any())
        if not right_padded:  # shift each row's run of real steps to the front
            source = (starts.to(x.device)[:, None] + steps).clamp_(max=time - 1)
            x = x.gather(1, source[..., None].expand(-1, -1, x.shape[2]))
        full = bool((lengths == time).all())
        outputs, state = self._run_fused(x, state, None if full else lengths)
        placed = outputs
        if not right_padded:  # and the outputs back where their steps were
            back = (steps - starts.to(x.device)[:, None]).clamp_(0, time - 1)
            placed = outputs.gather(1, back[..., None].expand(-1, -1, outputs.shape[2]))
        if full:
            return placed, state
        real = mask[..., None]
        if self.zero_output_for_mask:
            return placed.masked_fill(~real, 0.0), state
        last = outputs.gather(1, (lengths.to(x.device) - 1)[:, None, None].expand(
            -1, 1, outputs.shape[2]))
        after = (steps >= (starts + lengths).to(x.device)[:, None])[..., None]
        return torch.where(real, placed, torch.where(after, last, 0.0)), state

    def check_initial_state(self, initial_state, x: torch.Tensor,
                            argument: str = "initial_state") -> State:
        batch = x.shape[0]
        if initial_state is None:
            return self.cell.initial_state(batch, x)
        if isinstance(initial_state, torch.Tensor):
            initial_state = (initial_state,)
        names = self.cell.state_names
        if len(initial_state) != len(names):
            raise ValueError(
                f"{argument}: expected {len(names)} tensors ({', '.join(names)}) for "
                f"{type(self.cell).__name__}, got {len(initial_state)}"
            )
        expected = (batch, self.units)
        for index, tensor in enumerate(initial_state):
            if _shape(tensor) != expected:
                raise ValueError(
                    f"{argument}[{index}] ({names[index]}): expected shape {expected}, "
                    f"got {_shape(tensor)}"
                )
        return tuple(initial_state)

    def _run_reference(self, x, state, lengths, real=None, repeat_output=False):
        """The step loop; ``real (batch, time)`` (from ``lengths``, or a mask) marks the
        steps that update the state; elsewhere the output is zeros, or with
        ``repeat_output`` the previous step's output (zeros before the first)."""
        projected = self.cell.project_inputs(x).unbind(1)
        if real is None:
            real = step_mask(lengths, x.shape[1], x.device)
        recurrent_keep = None
        if self.training and self.recurrent_dropout > 0:
            ones = torch.ones_like(state[0])
            recurrent_keep = nn.functional.dropout(ones, self.recurrent_dropout, training=True)
        outputs = []
        previous = None
        for t, projected_t in enumerate(projected):
            step_state = state
            if recurrent_keep is not None:
                step_state = (state[0] * recurrent_keep, *state[1:])
            output, new_state = self.cell.step(projected_t, step_state)
            if real is not None:
                keep = real[:, t : t + 1]
                new_state = tuple(torch.where(keep, new, old) for new, old in zip(new_state, state))
                if repeat_output:
                    previous = torch.zeros_like(output) if previous is None else previous
                    output = torch.where(keep, output, previous)
                    previous = output
                else:
                    output = output * keep
            outputs.append(output)
            state = new_state
        return torch.stack(outputs, 1), state

    def _run_fused(self, x, state, lengths):
        if lengths is None:
            return self._fused_call(x, state)
        if x.is_cuda:
            return self._run_fused_packed(x, state, lengths)
        return self._run_fused_segments(x, state, lengths)

    def _fused_call(self, x, state, batch_sizes=None):
        """One call of torch's fused kernel; ``state`` holds ``(batch, units)`` tensors.

        Under a bf16 autocast that this CPU cannot run natively (oneDNN's fused kernels
        would fail), the kernel runs in fp32 with autocast off.
        """
        if precision.cpu_autocast_needs_fp32(x):
            with torch.autocast("cpu", enabled=False):
                return self._fused_call_now(x.float(), [s.float() for s in state], batch_sizes)
        return self._fused_call_now(x, state, batch_sizes)

    def _fused_call_now(self, x, state, batch_sizes):
        kernel = getattr(torch, self.cell.fused_kernel())
        hx = [s.unsqueeze(0) for s in state]
        hx = hx if len(hx) > 1 else hx[0]
        options = (self.cell.fused_weights(), self.cell.bias is not None, 1, 0.0, self.training,
                   False)
        if batch_sizes is None:
            result = kernel(x, hx, *options, True)
        else:
            result = kernel(x, batch_sizes, hx, *options)
        return result[0], tuple(s.squeeze(0) for s in result[1:])

    def _run_fused_packed(self, x, state, lengths):
        """Variable lengths through a packed sequence (cuDNN's own variable-length path)."""
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        state = [s.index_select(0, packed.sorted_indices) for s in state]
        data, final = self._fused_call(packed.data, state, packed.batch_sizes)
        outputs, _ = pad_packed_sequence(
            PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                           packed.unsorted_indices),
            batch_first=True,
            total_length=x.shape[1],
        )
        return outputs, tuple(s.index_select(0, packed.unsorted_indices) for s in final)

    def _run_fused_segments(self, x, state, lengths):
        """Variable lengths as one fused call per run of steps between distinct lengths.

        On CPU torch runs packed sequences through a slow step-by-step kernel; here the
        sequences are sorted longest first, and between two consecutive distinct lengths
        the still-running ones go through the fused kernel together. A finished sequence
        drops out with its state; its outputs stay zero from there on.
        """
        batch, time = x.shape[:2]
        order = torch.argsort(lengths, descending=True, stable=True)
        sorted_lengths = lengths[order]
        x = x.index_select(0, order.to(x.device))
        state = [s.index_select(0, order.to(x.device)) for s in state]
        pieces, finished, start, active = [], [], 0, batch
        for end in sorted(set(sorted_lengths.tolist())):
            running = int((sorted_lengths >= end).sum())
            if running < active:
                finished.append([s[running:active] for s in state])
                state = [s[:running] for s in state]
                active = running
            output, state = self._fused_call(x[:running, start:end], state)
            pieces.append(nn.functional.pad(output, (0, 0, 0, 0, 0, batch - running)))
            start = end
        outputs = torch.cat(pieces, 1)
        if start < time:
            outputs = nn.functional.pad(outputs, (0, 0, 0, time - start))
        final = [torch.cat(parts) for parts in zip(state, *reversed(finished))]
        restore = torch.argsort(order).to(x.device)
        return outputs.index_select(0, restore), tuple(s.index_select(0, restore) for s in final)

    def extra_repr(self) -> str:
        flags = ["return_sequences", "return_state", "go_backwards", "time_major"]
        shown = [name for name in flags if getattr(self, name)]
        shown += [f"{n}={getattr(self, n)}" for n in ("dropout", "recurrent_dropout")
                  if getattr(self, n)]
        return ", ".join(shown)


class LSTM(RNN):
    """Keras ``LSTM``: :class:`LSTMCell` run by :class:`RNN` (see both for the details).

    Example::

        >>> layer = LSTM(2, 3, return_sequences=True, return_state=True)
        >>> y, h, c = layer(torch.zeros(4, 5, 2))
        >>> y.shape, h.shape
        (torch.Size([4, 5, 3]), torch.Size([4, 3]))
    """

    def __init__(self, input_size: int, units: int, activation: ActivationSpec = "tanh",
                 recurrent_activation: ActivationSpec = "sigmoid", use_bias: bool = True,
                 unit_forget_bias: bool = True, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False,
                 time_major: bool = False, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, fused: bool = True, stateful: bool = False,
                 zero_output_for_mask: bool = False,
                 kernel_initializer: InitializerSpec = "glorot_uniform",
                 recurrent_initializer: InitializerSpec = "orthogonal",
                 bias_initializer: InitializerSpec = "zeros",
                 ) -> None:
        cell = LSTMCell(input_size, units, activation, recurrent_activation, use_bias,
                        unit_forget_bias, kernel_initializer=kernel_initializer,
                        recurrent_initializer=recurrent_initializer,
                        bias_initializer=bias_initializer)
        super().__init__(cell, return_sequences, return_state, go_backwards, time_major,
                         dropout, recurrent_dropout, fused, stateful, zero_output_for_mask)


class GRU(RNN):
    """Keras ``GRU`` (``reset_after=True`` by default): :class:`GRUCell` run by :class:`RNN`."""

    def __init__(self, input_size: int, units: int, activation: ActivationSpec = "tanh",
                 recurrent_activation: ActivationSpec = "sigmoid", use_bias: bool = True,
                 reset_after: bool = True, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False,
                 time_major: bool = False, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, fused: bool = True, stateful: bool = False,
                 zero_output_for_mask: bool = False,
                 kernel_initializer: InitializerSpec = "glorot_uniform",
                 recurrent_initializer: InitializerSpec = "orthogonal",
                 bias_initializer: InitializerSpec = "zeros",
                 ) -> None:
        cell = GRUCell(input_size, units, activation, recurrent_activation, use_bias, reset_after,
                       kernel_initializer=kernel_initializer,
                       recurrent_initializer=recurrent_initializer,
                       bias_initializer=bias_initializer)
        super().__init__(cell, return_sequences, return_state, go_backwards, time_major,
                         dropout, recurrent_dropout, fused, stateful, zero_output_for_mask)


class SimpleRNN(RNN):
    """Keras ``SimpleRNN``: :class:`SimpleRNNCell` run by :class:`RNN`."""

    def __init__(self, input_size: int, units: int, activation: ActivationSpec = "tanh",
                 use_bias: bool = True, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False,
                 time_major: bool = False, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, fused: bool = True, stateful: bool = False,
                 zero_output_for_mask: bool = False,
                 kernel_initializer: InitializerSpec = "glorot_uniform",
                 recurrent_initializer: InitializerSpec = "orthogonal",
                 bias_initializer: InitializerSpec = "zeros",
                 ) -> None:
        cell = SimpleRNNCell(input_size, units, activation, use_bias,
                             kernel_initializer=kernel_initializer,
                             recurrent_initializer=recurrent_initializer,
                             bias_initializer=bias_initializer)
        super().__init__(cell, return_sequences, return_state, go_backwards, time_major,
                         dropout, recurrent_dropout, fused, stateful, zero_output_for_mask)
