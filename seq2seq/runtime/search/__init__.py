"""Greedy and beam search in NumPy, for the export runtime: the torch search
(:mod:`seq2seq.search`) on arrays, module for module (``common``, ``greedy``, ``beam``) and
function for function, so that a side-by-side diff shows the array library and little else.

It is a second copy of one algorithm, so it is held equal to the torch search by tests
on every setting (beam size, n-best, length normalisation, minimum length, n-gram
blocking, length limits): same outputs, same scores. Keep the two in step: a change to
either belongs in both, and the tests fail until it is. The differences are of means
(:mod:`seq2seq.runtime.search.beam` names them) and of protocol: a model is anything with
``encode(src, src_lengths) -> (state, shared)`` and
``step(tokens, state, shared) -> (log_probs, state)``
(:class:`~seq2seq.runtime.search.common.RuntimeDecodable`), and it may have a faster
``beam_candidates`` (the export's runs as an ONNX graph).
"""

from __future__ import annotations

import numpy as np

from .beam import beam_candidates, beam_search
from .common import (
    Hypothesis,
    RuntimeDecodable,
    SearchConfig,
    State,
    length_penalty,
    max_lengths,
    repeat_state,
    select_state,
)
from .greedy import greedy_search

__all__ = ["Hypothesis", "RuntimeDecodable", "SearchConfig", "State", "beam_candidates",
           "beam_search", "decode", "greedy_search", "length_penalty", "max_lengths",
           "repeat_state", "select_state"]


def decode(model: RuntimeDecodable, src: np.ndarray, src_lengths: np.ndarray, bos_id: int,
           eos_id: int, config: SearchConfig) -> list[list[Hypothesis]]:
    """Each sentence's n-best list under ``config``: beam search, or greedy search (as
    one-element lists) when that gives the same answer faster (``beam_size == nbest == 1``
    and ``alpha == 0``). A sentence whose every continuation is forbidden gets ``[]``."""
    config.check()
    if config.sample:
        raise ValueError("sample: the export runtime searches; it does not sample")
    if config.beam_size == 1 and config.nbest == 1 and config.alpha == 0:
        found = greedy_search(model, src, src_lengths, bos_id, eos_id, config)
    else:
        return beam_search(model, src, src_lengths, bos_id, eos_id, config)
    return [[hypothesis] if hypothesis.score > float("-inf") else [] for hypothesis in found]
