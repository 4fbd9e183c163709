"""A stack's outputs over right-padded sequences, skipping most of the padding.

Teacher forcing needs a decoder's outputs at each sequence's real positions and nothing
else (no final state). Run over the whole padded batch in one call, a recurrent stack
also computes every padded position; in a batch of mixed lengths that is a large share
of its work (the random batches of ``seq2seq bench peers``: 40% of the decoder's steps).

:func:`outputs_by_length` sorts the batch longest first and cuts the time axis at a few
lengths: each segment runs, in one call of the stack, only the sequences still running
at its start (a sequence that ends inside a segment runs to the segment's end, so those
steps are wasted but harmless: an output depends only on the steps before it). Where
the cuts fall is chosen by :func:`plan_segments`, which minimises the steps computed plus
``overhead_steps`` batch-steps per call (a call's fixed cost). A batch that is already
nearly full (a length-bucketed training batch) runs in one call, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .wrappers import Bidirectional, StackedRNN

OVERHEAD_STEPS = 1.0  # a call's fixed cost, in steps of the whole batch (measured ad hoc)
MIN_SAVING = 0.1  # segments only where they save at least this share of the steps
MAX_CANDIDATES = 64  # cut points considered (distinct lengths, thinned beyond this)


class Segment(NamedTuple):
    """Steps ``[start, end)`` of the first ``rows`` sequences (sorted longest first)."""

    start: int
    end: int
    rows: int


def plan_segments(lengths: Sequence[int], overhead_steps: float = OVERHEAD_STEPS
                  ) -> list[Segment]:
    """The segments that cover every sequence's ``lengths[i]`` steps at the least cost
    (steps computed + ``overhead_steps`` × batch per segment); one segment where cutting
    would save less than :data:`MIN_SAVING` of the single call's cost."""
    ordered = sorted((int(n) for n in lengths), reverse=True)
    if not ordered or ordered[0] <= 0:
        return []
    batch, longest = len(ordered), ordered[0]
    ends = sorted({n for n in ordered if n > 0})
    if len(ends) > MAX_CANDIDATES:  # thinned evenly; the longest is always an end
        step = len(ends) / MAX_CANDIDATES
        ends = sorted({ends[int(i * step)] for i in range(MAX_CANDIDATES)} | {longest})
    points = [0, *ends]
    alive = [sum(1 for n in ordered if n > point) for point in points]
    overhead = overhead_steps * batch
    cost = [0.0] + [float("inf")] * (len(points) - 1)
    previous = [0] * len(points)
    for b in range(1, len(points)):
        for a in range(b):
            candidate = cost[a] + alive[a] * (points[b] - points[a]) + overhead
            if candidate < cost[b]:
                cost[b], previous[b] = candidate, a
    single = batch * longest + overhead
    if cost[-1] > (1 - MIN_SAVING) * single:
        return [Segment(0, longest, batch)]
    segments, b = [], len(points) - 1
    while b > 0:
        a = previous[b]
        segments.append(Segment(points[a], points[b], alive[a]))
        b = a
    return segments[::-1]


def segments_apply(stack: StackedRNN, inputs: torch.Tensor) -> bool:
    """Whether :func:`outputs_by_length` may cut ``stack``'s calls: on CPU (one cuDNN call
    costs little), with every layer reading forward and keeping no state between calls."""
    return not inputs.is_cuda and all(
        not isinstance(layer, Bidirectional) and not getattr(layer, "go_backwards", False)
        and not getattr(layer, "stateful", False) for layer in stack.layers)


def outputs_by_length(stack: StackedRNN, inputs: torch.Tensor, initial_state,
                      lengths: torch.Tensor) -> torch.Tensor:
    """``stack``'s outputs ``(batch, time, output_size)`` for right-padded ``inputs``:
    equal to one call's at every position ``t < lengths[i]``; beyond it, unspecified (a
    sequence may run on past its end to its segment's, then zeros). No final state."""
    if not segments_apply(stack, inputs):
        return stack(inputs, initial_state=initial_state)[0]
    segments = plan_segments(lengths.tolist())
    if len(segments) <= 1:
        return stack(inputs, initial_state=initial_state)[0]
    batch, time = inputs.shape[:2]
    order = torch.argsort(lengths, descending=True, stable=True).to(inputs.device)
    x = inputs.index_select(0, order)
    state = None if initial_state is None else [
        tuple(s.index_select(0, order) for s in layer) for layer in initial_state]
    pieces = []
    for segment in segments:
        if state is not None:
            state = [tuple(s[: segment.rows] for s in layer) for layer in state]
        output, state = stack(x[: segment.rows, segment.start : segment.end],
                              initial_state=state)
        pieces.append(F.pad(output, (0, 0, 0, 0, 0, batch - segment.rows)))
    outputs = torch.cat(pieces, 1)
    if outputs.shape[1] < time:
        outputs = F.pad(outputs, (0, 0, 0, time - outputs.shape[1]))
    return outputs.index_select(0, torch.argsort(order))
