"""Greedy search, batched: the torch :mod:`seq2seq.search.greedy` on arrays (the runtime
searches; it does not sample)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .common import (
    Hypothesis,
    RuntimeDecodable,
    SearchConfig,
    forbid,
    length_penalty,
    max_lengths,
)


def greedy_search(model: RuntimeDecodable, src: np.ndarray, src_lengths: np.ndarray,
                  bos_id: int, eos_id: int, config: SearchConfig) -> list[Hypothesis]:
    """The most probable next token at each step, for a whole batch at once.

    A sentence stops at eos or at its length limit; the batch stops when all have.
    ``config.min_len`` and ``config.no_repeat_ngram`` forbid tokens as in beam search.
    """
    return _one_path(model, src, src_lengths, bos_id, eos_id, config,
                     choose=lambda log_probs: log_probs.argmax(-1))


def _one_path(model: RuntimeDecodable, src: np.ndarray, src_lengths: np.ndarray, bos_id: int,
              eos_id: int, config: SearchConfig,
              choose: Callable[[np.ndarray], np.ndarray]) -> list[Hypothesis]:
    """Decode with ``choose(log_probs (batch, vocab)) -> tokens (batch,)`` at every step.

    Each step costs the same at any position: its tokens go into a buffer (written in
    place, no regathering of the history); the loop checks "has every sentence ended?"
    every step.
    """
    state, shared = model.encode(src, src_lengths)
    batch = src.shape[0]
    limits = max_lengths(src_lengths, config)
    longest = int(limits.max())
    tokens = np.full(batch, bos_id, dtype=np.int64)
    outputs = np.full((batch, longest), eos_id, dtype=np.int64)
    scores = np.zeros(batch, dtype=np.float32)
    finished = np.zeros(batch, dtype=bool)
    # chose eos (the rows stopped by their limit are padded with eos all the same)
    ended = np.zeros(batch, dtype=bool)
    steps = 0
    for step in range(longest):
        log_probs, state = model.step(tokens, state, shared)
        forbid(log_probs, outputs[:, :step], step, eos_id, config)
        tokens = choose(log_probs)
        chosen = np.take_along_axis(log_probs, tokens[:, None], 1)[:, 0]
        scores += np.where(finished, np.float32(0), chosen)
        outputs[:, step] = np.where(finished, eos_id, tokens)
        ended |= (tokens == eos_id) & ~finished
        finished |= (tokens == eos_id) | (step + 1 >= limits)
        steps = step + 1
        if finished.all():
            break
    hypotheses = []
    for row, score, chose_eos in zip(outputs[:, :steps].tolist(), scores.tolist(),
                                     ended.tolist()):
        output = _until_eos(row, eos_id)
        scored_length = len(output) + chose_eos  # eos counts where it was chosen
        hypotheses.append(Hypothesis(output, score,
                                     score / length_penalty(scored_length, config.alpha)))
    return hypotheses


def _until_eos(ids: list[int], eos_id: int) -> list[int]:
    return ids[: ids.index(eos_id)] if eos_id in ids else ids
