"""What every search of the runtime shares: the model protocol, the state, and helpers.

A model is anything with ``encode(src, src_lengths) -> (state, shared)`` and
``step(tokens, state, shared) -> (log_probs, state)``, where ``state`` is a dict of
arrays with one row per hypothesis and ``shared`` is what every row reads without being
copied (the encoder's memory, indexed by a ``memory_rows`` entry of the state). Search
never looks inside the state: it only repeats and selects its rows (:func:`repeat_state`,
:func:`select_state`). A model may also have ``beam_candidates``, a faster
:func:`~seq2seq.runtime.search.beam.beam_candidates` (the export's runs as an ONNX graph).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from seq2seq.base.results import Hypothesis
from seq2seq.base.search_settings import SearchConfig

__all__ = ["Hypothesis", "RuntimeDecodable", "SearchConfig", "State", "forbid",
           "length_penalty", "max_lengths", "repeat_state", "repeated_ngram_ends",
           "select_state", "step_from"]

State = dict[str, np.ndarray]  # one row per hypothesis


class RuntimeDecodable(Protocol):
    def encode(self, src: np.ndarray, src_lengths: np.ndarray) -> tuple[State, dict]: ...

    def step(self, tokens: np.ndarray, state: State, shared: dict
             ) -> tuple[np.ndarray, State]: ...


def max_lengths(src_lengths: np.ndarray, config: SearchConfig) -> np.ndarray:
    """Longest output allowed per sentence, eos included (as the torch search computes it,
    in float32)."""
    scaled = src_lengths.astype(np.float32) * np.float32(config.max_len_ratio)
    return scaled.astype(np.int64) + config.max_len_offset


def length_penalty(length: int | np.ndarray, alpha: float):
    """GNMT's ``((5 + length) / 6) ** alpha``; ``length`` counts eos when there is one."""
    return ((5 + length) / 6) ** alpha


def repeat_state(state: State, times: int) -> State:
    """Each row of every array repeated ``times`` times in place (row i -> rows
    ``i * times ... i * times + times - 1``), e.g. one row per beam."""
    return {name: np.repeat(value, times, axis=0) for name, value in state.items()}


def select_state(state: State, rows: np.ndarray) -> State:
    """The rows ``rows`` of every array, in that order."""
    return {name: np.take(value, rows, axis=0) for name, value in state.items()}


def step_from(model: RuntimeDecodable, tokens: np.ndarray, state: State, shared: dict,
              rows: np.ndarray | None) -> tuple[np.ndarray, State]:
    """One step of ``model`` for ``tokens (batch,)``, row ``i`` continuing ``state``'s row
    ``rows[i]`` (``None``: row ``i``): ``step`` on the selected rows."""
    if rows is None:
        return model.step(tokens, state, shared)
    return model.step(tokens, select_state(state, rows), shared)


def forbid(log_probs: np.ndarray, history: np.ndarray | None, step: int, eos_id: int,
           config: SearchConfig) -> None:
    """Set forbidden next tokens to ``-inf`` in ``log_probs (rows, vocab)``, in place.

    eos is forbidden before ``config.min_len`` tokens (``step`` tokens so far); with
    ``config.no_repeat_ngram = n``, a token that would complete an n-gram already in the
    row's ``history (rows, step)`` is forbidden (only then is a history needed). Allowed
    tokens keep their log-probabilities (no renormalisation), so scores stay the model's.
    """
    if step < config.min_len:
        log_probs[:, eos_id] = -np.inf
    if config.no_repeat_ngram:
        banned = repeated_ngram_ends(history, config.no_repeat_ngram, log_probs.shape[1])
        log_probs[banned] = -np.inf


def repeated_ngram_ends(history: np.ndarray, n: int, vocab_size: int) -> np.ndarray:
    """``(rows, vocab)``: True for tokens that, appended to a row, repeat one of its n-grams."""
    rows, time = history.shape
    banned = np.zeros((rows, vocab_size), dtype=bool)
    if time < n:
        return banned
    ngrams = np.lib.stride_tricks.sliding_window_view(history, n, axis=1)  # (rows, time - n + 1, n)
    prefix = history[:, time - (n - 1):]  # the last n - 1 tokens (none when n == 1)
    matches = (ngrams[:, :, :-1] == prefix[:, None, :]).all(-1)
    row_index = np.broadcast_to(np.arange(rows)[:, None], matches.shape)
    banned[row_index[matches], ngrams[:, :, -1][matches]] = True
    return banned
