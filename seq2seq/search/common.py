"""What every search shares: the model protocol, the config, the output type, and helpers.

A model is anything with ``encode(src, src_lengths) -> state`` and
``step(tokens, state) -> (logits, state)``, where ``state`` is a list (one entry per
decoder layer) of tuples of ``(batch, units)`` tensors. Search never looks inside the
state: it only repeats and selects its batch rows (:func:`repeat_state`, :func:`select_state`).
A model may also have ``step_from_rows(tokens, state, rows)``, a step from the state rows
``rows`` (what ``step(tokens, select_state(state, rows))`` gives), to do once what several
rows continuing one state row share (:func:`step_from`).
"""

from __future__ import annotations

from typing import Protocol

import torch

from seq2seq.base.results import Hypothesis
from seq2seq.base.search_settings import SearchConfig
from seq2seq.core import select_state

__all__ = ["CHECK_EVERY_ON_ACCELERATOR", "Decodable", "Hypothesis", "SearchConfig", "State",
           "forbid", "length_penalty", "max_lengths", "repeat_state", "repeated_ngram_ends",
           "select_state", "step_from"]

State = list[tuple[torch.Tensor, ...]]  # one tuple per decoder layer, batch first
# steps between read-backs of "has every sentence stopped?" on an accelerator, where a
# read-back stalls the queue (on CPU it costs nothing, so search reads every step)
CHECK_EVERY_ON_ACCELERATOR = 4


class Decodable(Protocol):
    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> State: ...

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]: ...


def max_lengths(src_lengths: torch.Tensor, config: SearchConfig) -> torch.Tensor:
    """Longest output allowed per sentence, eos included."""
    return (src_lengths.float() * config.max_len_ratio).long() + config.max_len_offset


def length_penalty(length: int | torch.Tensor, alpha: float):
    """GNMT's ``((5 + length) / 6) ** alpha``; ``length`` counts eos when there is one."""
    return ((5 + length) / 6) ** alpha


def repeat_state(state: State, times: int) -> State:
    """Each batch row of every tensor repeated ``times`` times in place (row i -> rows
    ``i * times ... i * times + times - 1``), e.g. one row per beam."""
    return [tuple(tensor.repeat_interleave(times, 0) for tensor in layer) for layer in state]


def step_from(model: Decodable, tokens: torch.Tensor, state: State, rows: torch.Tensor | None
              ) -> tuple[torch.Tensor, State]:
    """One step of ``model`` for ``tokens (batch,)``, row ``i`` continuing ``state``'s row
    ``rows[i]`` (``None``: row ``i``): through the model's ``step_from_rows`` where it has one,
    else ``step`` on the selected rows."""
    if rows is None:
        return model.step(tokens, state)
    from_rows = getattr(model, "step_from_rows", None)
    if from_rows is None:
        return model.step(tokens, select_state(state, rows))
    return from_rows(tokens, state, rows)


def forbid(log_probs: torch.Tensor, history: torch.Tensor | None, step: int, eos_id: int,
           config: SearchConfig) -> None:
    """Set forbidden next tokens to ``-inf`` in ``log_probs (rows, vocab)``, in place.

    eos is forbidden before ``config.min_len`` tokens (``step`` tokens so far); with
    ``config.no_repeat_ngram = n``, a token that would complete an n-gram already in the
    row's ``history (rows, step)`` is forbidden (only then is a history needed). Allowed
    tokens keep their log-probabilities (no renormalisation), so scores stay the model's.
    """
    if step < config.min_len:
        log_probs[:, eos_id] = float("-inf")
    if config.no_repeat_ngram:
        banned = repeated_ngram_ends(history, config.no_repeat_ngram, log_probs.shape[1])
        log_probs.masked_fill_(banned, float("-inf"))


def repeated_ngram_ends(history: torch.Tensor, n: int, vocab_size: int) -> torch.Tensor:
    """``(rows, vocab)``: True for tokens that, appended to a row, repeat one of its n-grams."""
    rows, time = history.shape
    banned = torch.zeros(rows, vocab_size, device=history.device)
    if time < n:
        return banned.bool()
    ngrams = history.unfold(1, n, 1)  # (rows, time - n + 1, n)
    prefix = history[:, time - (n - 1):]  # the last n - 1 tokens (none when n == 1)
    matches = (ngrams[:, :, :-1] == prefix[:, None, :]).all(-1)
    banned.scatter_add_(1, ngrams[:, :, -1], matches.float())
    return banned > 0
