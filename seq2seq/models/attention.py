"""Global attention over the encoder's outputs (Luong et al. 2015; Bahdanau et al. 2015).

At each target position the decoder's top output ``h_t`` scores every source position's
encoder output ``h̄_s``; the softmax of the scores over the real source positions weighs
the encoder outputs into a context ``c_t``; the attentional vector
``h̃_t = tanh(W_c [c_t; h_t])`` replaces ``h_t`` before the output layer. Scores:

- ``dot``: ``h_t · h̄_s`` (the encoder's outputs must have the decoder's size)
- ``general``: ``h_t · W_a h̄_s``
- ``bahdanau``: ``v · tanh(W_q h_t + W_k h̄_s)``, Bahdanau's additive score used in
  Luong's framework, as OpenNMT-py's ``global_attention = "mlp"`` does.

Everything that depends on the source alone (``W_a h̄_s``, ``W_k h̄_s``, the mask) is
computed once per sentence by :meth:`Attention.memory`, not once per step. The additive
score, the one score that builds a ``(batch, time, src_time, units)`` tensor, has its own
forward and backward (:func:`additive_scores`).

Search repeats and reorders the decoder state's batch rows (``repeat_interleave``,
``index_select``); :class:`EncoderMemory` implements both by keeping the per-sentence
tensors as they are and changing only the index of the sentence each row reads, so beam
search never holds ``beam`` copies of the encoder outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import nn

AttentionKind = Literal["none", "dot", "general", "bahdanau"]
SCORES = ("dot", "general", "bahdanau")


@dataclass(frozen=True)
class EncoderMemory:
    """What attention reads, per source sentence, and which sentence each batch row reads.

    ``values (sentences, src_time, memory_size)``: the encoder's outputs;
    ``keys (sentences, src_time, key_size)``: their projections for the score (``values``
    itself for ``dot``); ``mask (sentences, src_time)``: True at real source positions;
    ``rows (batch,)`` the sentence of each batch row, or None when row ``i`` is sentence
    ``i``.
    """

    values: torch.Tensor
    keys: torch.Tensor
    mask: torch.Tensor
    rows: torch.Tensor | None = None

    def _rows(self) -> torch.Tensor:
        if self.rows is not None:
            return self.rows
        return torch.arange(self.values.shape[0], device=self.values.device)

    def index_select(self, dim: int, index: torch.Tensor) -> EncoderMemory:
        """The batch rows ``index``, as :meth:`torch.Tensor.index_select` on dim 0 would."""
        if dim != 0:
            raise ValueError(f"dim: EncoderMemory selects batch rows (0), got {dim}")
        return replace(self, rows=self._rows().index_select(0, index))

    def repeat_interleave(self, repeats: int, dim: int) -> EncoderMemory:
        """Each batch row ``repeats`` times in a row, as the tensor method on dim 0 would."""
        if dim != 0:
            raise ValueError(f"dim: EncoderMemory repeats batch rows (0), got {dim}")
        return replace(self, rows=self._rows().repeat_interleave(repeats, 0))

    def per_row(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(values, keys, mask)`` with one entry per batch row."""
        if self.rows is None:
            return self.values, self.keys, self.mask
        return (self.values.index_select(0, self.rows), self.keys.index_select(0, self.rows),
                self.mask.index_select(0, self.rows))


class Attention(nn.Module):
    """Scores of decoder outputs against encoder outputs, their weights and the context.

    Args:
        kind: ``"dot"``, ``"general"`` or ``"bahdanau"``.
        query_size: the decoder's output size.
        memory_size: the size of each encoder output (``query_size`` for ``dot``).
    """

    def __init__(self, kind: str, query_size: int, memory_size: int) -> None:
        super().__init__()
        if kind not in SCORES:
            raise ValueError(f"kind: expected one of {list(SCORES)}, got {kind!r}")
        if kind == "dot" and memory_size != query_size:
            raise ValueError(f"memory_size: dot attention needs the query's size "
                             f"({query_size}), got {memory_size}")
        self.kind = kind
        self.key_projection = (nn.Linear(memory_size, query_size, bias=False)
                               if kind != "dot" else None)
        if kind == "bahdanau":
            self.query_projection = nn.Linear(query_size, query_size)
            self.score_vector = nn.Linear(query_size, 1, bias=False)

    def memory(self, outputs: torch.Tensor, lengths: torch.Tensor) -> EncoderMemory:
        """The per-sentence part of attention, from ``outputs (batch, src_time, memory)``."""
        mask = torch.arange(outputs.shape[1], device=outputs.device) < lengths.to(
            outputs.device)[:, None]
        keys = outputs if self.key_projection is None else self.key_projection(outputs)
        return EncoderMemory(outputs, keys, mask)

    def forward(self, queries: torch.Tensor, memory: EncoderMemory
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``queries (batch, time, query_size)`` -> ``(context (batch, time, memory_size),
        weights (batch, time, src_time))``; weights are exactly 0 on padded source
        positions and sum to 1 over the real ones."""
        values, keys, mask = memory.per_row()
        if self.kind == "bahdanau":
            scores = additive_scores(self.query_projection(queries), keys,
                                     self.score_vector.weight[0])
        else:
            scores = torch.bmm(queries, keys.transpose(1, 2))
        scores = scores.float().masked_fill(~mask[:, None, :], float("-inf"))
        weights = torch.softmax(scores, -1)
        context = torch.bmm(weights.to(values.dtype), values)
        return context, weights


# elements of the (rows, time, src_time, units) tensor the additive score works on at once
# on CPU (2 MB in fp32): small enough to stay in cache between the passes over it (on a
# GPU the whole batch goes at once: kernel launches cost more there than memory)
ADDITIVE_CHUNK = 1 << 19


def additive_scores(queries: torch.Tensor, keys: torch.Tensor, vector: torch.Tensor
                    ) -> torch.Tensor:
    """``scores (batch, time, src_time)``: ``vector · tanh(queries[b, t] + keys[b, s])``,
    from ``queries (batch, time, units)``, ``keys (batch, src_time, units)`` and
    ``vector (units,)``.

    The same function as ``torch.tanh(queries[:, :, None] + keys[:, None]) @ vector``, by
    an autograd function built for the ``(batch, time, src_time, units)`` tensor in
    between, which costs more than the rest of the attention:

    * nothing of its size is saved for the backward pass: it is rebuilt there, from the
      queries and keys; on CPU, both passes build it a few sentences at a time
      (:data:`ADDITIVE_CHUNK` elements) and work on that chunk in place, so that the
      passes over it read the cache;
    * no tanh is taken: ``tanh(a) = 2 sigmoid(2a) - 1`` (torch's tanh costs about four
      sigmoids' time on CPUs without AVX-512), so the scores are
      ``2 (sigmoid(2a) · vector) - Σ vector``, and ``d tanh(a) / da = 4 g (1 - g)`` with
      ``g = sigmoid(2a)``.

    It computes in the inputs' precision (under autocast: what the projections gave).
    """
    return _AdditiveScores.apply(queries, keys, vector)


class _AdditiveScores(torch.autograd.Function):
    """See :func:`additive_scores`."""

    @staticmethod
    def forward(ctx, queries, keys, vector):
        dtype = torch.promote_types(queries.dtype, keys.dtype)
        with torch.autocast(queries.device.type, enabled=False):
            queries2, keys2 = 2 * queries.to(dtype), 2 * keys.to(dtype)
            vector_ = vector.to(dtype)
            scores = queries2.new_empty(queries.shape[0], queries.shape[1], keys.shape[1])
            for rows, gates in _gate_chunks(queries2, keys2):
                torch.matmul(gates, vector_, out=scores[rows])
            scores.mul_(2).sub_(vector_.sum())
        ctx.save_for_backward(queries2, keys2, vector_)
        ctx.dtypes = queries.dtype, keys.dtype, vector.dtype
        return scores

    @staticmethod
    def backward(ctx, grad):
        queries2, keys2, vector = ctx.saved_tensors
        query_dtype, key_dtype, vector_dtype = ctx.dtypes
        with torch.autocast(queries2.device.type, enabled=False):
            grad = grad.to(queries2.dtype)
            grad_queries, grad_keys = torch.empty_like(queries2), torch.empty_like(keys2)
            grad_vector = torch.zeros_like(vector)  # Σ (2 g - 1) grad over every (b, t, s)
            for rows, gates in _gate_chunks(queries2, keys2):
                part = grad[rows]
                units = gates.shape[-1]
                grad_vector.addmv_(gates.reshape(-1, units).t(), part.reshape(-1), alpha=2)
                # g (1 - g) grad, in the chunk's own buffer: a second buffer of its size
                # would no longer fit the cache beside it (7% slower on the whole function)
                gates.addcmul_(gates, gates, value=-1.0).mul_(part[..., None])
                torch.sum(gates, 2, out=grad_queries[rows])
                torch.sum(gates, 1, out=grad_keys[rows])
            grad_vector.sub_(grad.sum())
            scale = 4 * vector
            grad_queries.mul_(scale)
            grad_keys.mul_(scale)
        return grad_queries.to(query_dtype), grad_keys.to(key_dtype), grad_vector.to(vector_dtype)


def _gate_chunks(queries2: torch.Tensor, keys2: torch.Tensor):
    """``(rows, sigmoid(queries2[rows, :, None] + keys2[rows, None]))`` a few sentences at a
    time on CPU, all at once elsewhere (one buffer, reused: each chunk is valid until the
    next is made)."""
    batch, time, units = queries2.shape
    src_time = keys2.shape[1]
    step = batch
    if queries2.device.type == "cpu":
        step = max(1, ADDITIVE_CHUNK // max(time * src_time * units, 1))
    buffer = queries2.new_empty(min(step, batch), time, src_time, units)
    for start in range(0, batch, step):
        rows = slice(start, min(start + step, batch))
        gates = buffer[: rows.stop - start]
        torch.add(queries2[rows, :, None], keys2[rows, None], out=gates).sigmoid_()
        yield rows, gates
