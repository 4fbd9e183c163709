"""One step of a stack of LSTM layers for inference on CPU: the step search takes.

Search runs the decoder once per output position. torch's fused kernel (oneDNN) is built
for sequences: called for a single step it costs more than the step's arithmetic (it sets
itself up at every call, and projects the inputs by a product of their own).
:class:`LSTMStep` computes the same step (:class:`~seq2seq.core.LSTMCell`'s equations, on
the same parameters) with the fixed work done once:

* each layer's weights are laid out once as one ``(inputs + units, 4 * units)`` matrix
  (:class:`StepCache` lays them out again when a parameter changes: its version counter
  moves on every in-place update, e.g. an optimizer step or ``load_state_dict``);
* when the first layer reads tokens, its input projection of each token is a row of a
  table (``token vectors @ kernel + bias``, one row per vocabulary entry; for one-hot
  tokens the kernel's own rows), so the step's product covers only the recurrent part
  (and what joins the token, e.g. an input-feeding vector). A table of embedded tokens
  larger than :data:`TABLE_LIMIT` is not built: the step looks the vectors up instead;
* the four gates take one sigmoid: the candidate gate's columns are doubled in the
  laid-out weights, since ``tanh(x) = 2 sigmoid(2x) - 1``; ``tanh(c)`` is taken the same
  way (torch's tanh costs three sigmoids' time on CPUs without AVX-512). The identity
  holds to a few units in the last place (1e-7 absolute).
* given ``rows`` (which state row each output row continues, as a beam's hypotheses
  continue their parents), the first layer's product, when it is the recurrent part alone
  (a token table, nothing joined to the token), is taken once per distinct state row and
  gathered: beam search's hypotheses often share a parent, and that product is most of
  a step (:mod:`seq2seq.search.beam` has the shares measured). It equals multiplying the
  selected rows wherever the matrix library computes a row the same whatever the rows
  beside it (MKL does for 2 rows and more; tested to 1e-6).

:func:`step_applies` says when nothing else could differ from the layers' own path: LSTM
layers with the default activations that allow the fused kernel, unidirectional, not
stateful, in eval mode, no gradient, float32 on CPU, no autocast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .cells import LSTMCell
from .recurrent import RNN

State = list[tuple[torch.Tensor, ...]]  # one (h, c) per layer


def select_state(state: State, index: torch.Tensor) -> State:
    """The batch rows ``index`` of every tensor in the state, in that order."""
    return [tuple(tensor.index_select(0, index) for tensor in layer) for layer in state]


def step_applies(stack, probe: torch.Tensor) -> bool:
    """Whether :class:`LSTMStep` can stand in for ``stack`` (a :class:`StackedRNN`) on
    inputs like ``probe`` (a tensor on the device and in the dtype the step will see)."""
    if stack.training or torch.is_grad_enabled() or probe.device.type != "cpu":
        return False
    if probe.dtype != torch.float32 or torch.is_autocast_enabled("cpu"):
        return False
    for layer in stack.layers:
        if not isinstance(layer, RNN) or not isinstance(layer.cell, LSTMCell):
            return False
        if (not layer.uses_fused_path() or layer.stateful or layer.go_backwards
                or layer.time_major or layer.cell.weight_ih.dtype != torch.float32):
            return False
    return True


# the largest per-token table a step builds, in floats (16 MB); beyond it (a large
# vocabulary of embedded tokens) a step looks the token vectors up and multiplies them
TABLE_LIMIT = 1 << 22


class LSTMStep:
    """``stack``'s step with its weights laid out for one step at a time (see the module).

    Args:
        stack: a :class:`StackedRNN` of LSTM layers (:func:`step_applies`).
        token_vectors: ``(vocab, features)``, the vector each token id stands for (an
            embedding's weight), when the first layer's input starts with a token's vector.
        one_hot: the vocabulary size, when the first layer's input starts with a one-hot
            token instead (the table is then the kernel's own rows: no product).

    With neither, the first layer's inputs are vectors.
    """

    def __init__(self, stack, token_vectors: torch.Tensor | None = None,
                 one_hot: int = 0) -> None:
        with torch.no_grad():
            self.table = self.vectors = None
            self.layers: list[tuple[torch.Tensor, torch.Tensor | None]] = []
            for index, layer in enumerate(stack.layers):
                cell = layer.cell
                kernel = torch.cat([cell.weight_ih, cell.weight_hh], 1).t()
                bias = cell.bias
                if index == 0 and (one_hot or token_vectors is not None):
                    if one_hot:
                        table, features = kernel[:one_hot], one_hot
                    elif token_vectors.shape[0] * kernel.shape[1] <= TABLE_LIMIT:
                        features = token_vectors.shape[1]
                        table = token_vectors @ kernel[:features]
                    else:
                        table, self.vectors = None, token_vectors
                    if table is not None:
                        self.table = _double_candidate(table if bias is None else table + bias)
                        kernel, bias = kernel[features:], None
                self.layers.append((_double_candidate(kernel),
                                    None if bias is None else _double_candidate(bias)))

    def __call__(self, inputs: torch.Tensor | None, state: State,
                 tokens: torch.Tensor | None = None, rows: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, State]:
        """One step: ``(output (batch, units), state)``.

        ``tokens (batch,)`` are the first layer's tokens (built with ``token_vectors`` or
        ``one_hot``); ``inputs (batch, features)`` are what follows the token in the first
        layer's input (``None`` when nothing does), or the whole input without tokens.
        ``rows (batch,)``: output row ``i`` continues ``state``'s row ``rows[i]`` (the same
        as a step from ``select_state(state, rows)``; ``None``: row ``i``).
        """
        x, new_state = inputs, []
        if self.vectors is not None:
            looked_up = self.vectors.index_select(0, tokens)
            x = looked_up if inputs is None else torch.cat([looked_up, inputs], 1)
        for index, ((kernel, bias), (h, c)) in enumerate(zip(self.layers, state)):
            recurrent = None
            if rows is not None:
                c = c.index_select(0, rows)
                if index == 0 and x is None and self.table is not None:
                    recurrent = _product_per_distinct_row(h, rows, kernel)
                if recurrent is None:
                    h = h.index_select(0, rows)
            joined = h if x is None else torch.cat([x, h], 1)
            if recurrent is not None:
                gates = self.table.index_select(0, tokens).add_(recurrent)
            elif index == 0 and self.table is not None:
                gates = self.table.index_select(0, tokens).addmm_(joined, kernel)
            elif bias is not None:
                gates = torch.addmm(bias, joined, kernel)
            else:
                gates = joined @ kernel
            h, c = _lstm_pointwise(gates, c)
            new_state.append((h, c))
            x = h
        return x, new_state


# multiply per distinct row only for this many rows or more, and only when at most this
# share of them is distinct: finding the distinct rows and gathering the products back
# costs about what a quarter of the rows' product does, and more than it saves on a few
# rows (LSTM 256, the product and gathers of a step: 534 us at 320 distinct rows of 320,
# 370 us at 125; 30 against 22 us at 3 of 5; Intel Xeon with AVX-512)
DISTINCT_ROWS_MIN = 16
DISTINCT_ROWS_SHARE = 0.7


def _product_per_distinct_row(h: torch.Tensor, rows: torch.Tensor, kernel: torch.Tensor
                              ) -> torch.Tensor | None:
    """``h[rows] @ kernel``, each distinct row of ``h`` multiplied once (``None`` where that
    would not pay: :data:`DISTINCT_ROWS_MIN`, :data:`DISTINCT_ROWS_SHARE`)."""
    if rows.shape[0] < DISTINCT_ROWS_MIN:
        return None
    distinct, inverse = torch.unique(rows, return_inverse=True)
    if distinct.shape[0] > DISTINCT_ROWS_SHARE * rows.shape[0]:
        return None
    return (h.index_select(0, distinct) @ kernel).index_select(0, inverse)


def _double_candidate(weights: torch.Tensor) -> torch.Tensor:
    """``weights (..., 4 * units)`` with the candidate gate's (the third) columns doubled,
    as a new row-major tensor (whatever the layout of ``weights``: a token table's rows
    are gathered every step, and a transposed one would gather them column by column)."""
    units = weights.shape[-1] // 4
    doubled = weights.clone(memory_format=torch.contiguous_format)
    doubled[..., 2 * units : 3 * units] *= 2
    return doubled


def _lstm_pointwise(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(h, c)`` from pre-activations ``(batch, 4 * units)`` (gates i, f, c, o; the
    candidate's doubled) and the previous cell state."""
    i, f, g, o = gates.sigmoid_().chunk(4, 1)  # g = sigmoid(2 x): tanh(x) = 2 g - 1
    c = torch.addcmul(f * c, i, g, value=2.0).sub_(i)  # f c + i tanh(x)
    tanh_c = (c * 2.0).sigmoid_().mul_(2.0).sub_(1.0)
    return o * tanh_c, c


class StepCache:
    """An :class:`LSTMStep` kept while the parameters it was built from stay unchanged.

    ``get(parameters, build)`` returns the step that ``build()`` made, calling it anew when
    any of ``parameters`` has been replaced or updated in place since (optimiser steps,
    ``load_state_dict``, in-place updates under ``torch.no_grad()``). An update through
    ``parameter.data`` goes unseen (``.data`` counts its versions apart): update
    parameters in place under ``torch.no_grad()`` instead.
    """

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._step: LSTMStep | None = None

    def get(self, parameters: Sequence[torch.Tensor], build: Callable[[], LSTMStep]
            ) -> LSTMStep:
        key = tuple((id(p), p.data_ptr(), p._version) for p in parameters)
        if self._step is None or key != self._key:
            self._step, self._key = build(), key
        return self._step
