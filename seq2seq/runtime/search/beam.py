"""Beam search in NumPy, batched across sentences and beams: the torch
:mod:`seq2seq.search.beam` on arrays, function for function (its module docstring tells
the search, its exact stopping rule and its bookkeeping).

Two differences are of means only. A step ranks the ``2 * beam`` best extensions of each
sentence, eos or not (one :func:`beam_candidates` call, an ONNX TopK in the export), and
takes the live hypotheses and the finished ones from them, where the torch search takes
the ``beam`` best without eos and compares each eos extension with the ``beam``-th best;
both select the same hypotheses. And the model has no ``step_from_rows``: the state rows
the hypotheses continue are selected before each step
(:func:`~seq2seq.runtime.search.common.step_from`). Stopped sentences leave the batch at
every step, as the torch search does on CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .common import (
    Hypothesis,
    RuntimeDecodable,
    SearchConfig,
    State,
    forbid,
    length_penalty,
    max_lengths,
    repeat_state,
    step_from,
)

NEG_INF = np.float32(-np.inf)
# beam_candidates(scores, log_probs, k), or the model's own
Ranking = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]


@dataclass
class Finished:
    """The best ``nbest`` finished hypotheses of each sentence, best first, as arrays.

    All ``(sentences, nbest)``: ``scores`` normalised (``-inf``: none yet), ``raw`` the raw
    log-probabilities, ``code`` where to read the output back: ``(last + 1) * beam + slot``
    times 2, plus 1 if it ended with eos, where ``(last, slot)`` is the step and beam slot
    of its last token before eos (``last = -1``: the empty output).
    """

    scores: np.ndarray
    raw: np.ndarray
    code: np.ndarray

    def rows(self, index: np.ndarray) -> Finished:
        return Finished(self.scores[index], self.raw[index], self.code[index])

    def put(self, sentences: np.ndarray, other: Finished) -> None:
        self.scores[sentences], self.raw[sentences] = other.scores, other.raw
        self.code[sentences] = other.code


@dataclass
class Beams:
    """The live hypotheses of the sentences still searched, ``beam`` slots per sentence.

    Attributes:
        sentences: ``(active,)`` each sentence's index in the input batch
        limits: ``(active,)`` its output length limit, eos included
        best_possible_divisor: ``(active,)`` ``length_penalty(limits, alpha)``
        scores: ``(active, beam)`` raw log-probability of each live hypothesis (``-inf``:
            an empty slot)
        tokens: ``(active * beam,)`` each live hypothesis's last token, the next input
            (``(active,)``, bos, before the first step)
        state: the model's state as the last step left it (before the first step, the
            encoder's: row ``a`` is sentence ``a``)
        rows: ``(active * beam,)`` the row of ``state`` that each live hypothesis continues
            (hypothesis ``k`` of sentence ``a`` is ``a * beam + k``); ``None`` before the
            first step. The state is not gathered per hypothesis after a step: the next
            step selects these rows (:func:`~seq2seq.runtime.search.common.step_from`)
        first_rows: ``(active, 1)`` the state row of each sentence's first slot
            (``a * beam``)
        stopped: ``(active,)`` the sentences whose results are final
        finished: their best finished hypotheses
        history: ``(active, beam, time)`` the live hypotheses' tokens, kept only for
            n-gram blocking (which has to look at all of them)
    """

    sentences: np.ndarray
    limits: np.ndarray
    best_possible_divisor: np.ndarray
    scores: np.ndarray
    tokens: np.ndarray
    state: State
    rows: np.ndarray | None
    first_rows: np.ndarray
    stopped: np.ndarray
    finished: Finished
    history: np.ndarray | None

    def keep(self, index: np.ndarray, beam_size: int) -> Beams:
        """Only the sentences at ``index`` (positions in this batch)."""
        hypotheses = (index[:, None] * beam_size + np.arange(beam_size)).reshape(-1)
        return Beams(self.sentences[index], self.limits[index],
                     self.best_possible_divisor[index], self.scores[index],
                     self.tokens[hypotheses], self.state, self.rows[hypotheses],
                     _first_rows(index.shape[0], beam_size),
                     self.stopped[index], self.finished.rows(index),
                     None if self.history is None else self.history[index])


class Trace:
    """Each step's tokens and back-pointers, ``(batch, beam)`` per step over the whole input
    batch, to read outputs back once at the end."""

    def __init__(self, batch: int, beam_size: int) -> None:
        self.batch, self.beam_size = batch, beam_size
        self.tokens: list[np.ndarray] = []
        self.parents: list[np.ndarray] = []

    def append(self, sentences: np.ndarray, tokens: np.ndarray, parents: np.ndarray):
        if sentences.shape[0] != self.batch:  # some sentences have left: place the rest
            placed_tokens = np.zeros((self.batch, self.beam_size), tokens.dtype)
            placed_parents = np.zeros((self.batch, self.beam_size), parents.dtype)
            placed_tokens[sentences], placed_parents[sentences] = tokens, parents
            tokens, parents = placed_tokens, placed_parents
        self.tokens.append(tokens)
        self.parents.append(parents)

    def read(self, finished: Finished) -> list[list[Hypothesis]]:
        """The hypotheses that ``finished`` points to, per sentence, best first."""
        nbest = finished.scores.shape[1]
        code = finished.code.reshape(-1)
        position = code // 2
        slot, last = position % self.beam_size, position // self.beam_size - 1
        sentence = np.repeat(np.arange(self.batch), nbest)
        steps = len(self.tokens)
        outputs = np.zeros((code.shape[0], max(steps, 1)), np.int64)
        for step in range(steps - 1, -1, -1):  # follow the back-pointers from the end
            reached = last >= step
            outputs[:, step] = np.where(reached, self.tokens[step][sentence, slot], 0)
            slot = np.where(reached, self.parents[step][sentence, slot], slot)
        found: list[list[Hypothesis]] = [[] for _ in range(self.batch)]
        rows = zip(outputs.tolist(), (last + 1).tolist(), finished.raw.reshape(-1).tolist(),
                   finished.scores.reshape(-1).tolist())
        for index, (tokens, length, raw, score) in enumerate(rows):
            if score > NEG_INF:
                found[index // nbest].append(Hypothesis(tokens[:length], raw, score))
        return found


def beam_search(model: RuntimeDecodable, src: np.ndarray, src_lengths: np.ndarray,
                bos_id: int, eos_id: int, config: SearchConfig) -> list[list[Hypothesis]]:
    """Up to ``config.nbest`` hypotheses per sentence, best (normalised score) first.

    ``Hypothesis.score`` is the raw log-probability; ``normalized_score`` divides it by
    ``((5 + length) / 6) ** alpha`` where ``length`` counts eos when the output has it.
    A sentence for which every continuation is forbidden (by ``min_len`` and
    ``no_repeat_ngram`` together) gets an empty list. See the torch
    :mod:`seq2seq.search.beam` for the search, its stopping rule and its bookkeeping.
    """
    config.check()
    batch, beam_size = src.shape[0], config.beam_size
    beams, shared = _start(model, src, src_lengths, bos_id, config)
    results = Finished(beams.finished.scores.copy(), beams.finished.raw.copy(),
                       beams.finished.code.copy())
    trace = Trace(batch, beam_size)
    rank = getattr(model, "beam_candidates", beam_candidates)
    longest = int(beams.limits.max())
    for step in range(longest):
        log_probs, state = step_from(model, beams.tokens, beams.state, shared, beams.rows)
        if step == 0:  # one row per sentence so far (see _start): now one per slot
            log_probs, state = np.repeat(log_probs, beam_size, 0), repeat_state(state, beam_size)
        history = None if beams.history is None else beams.history.reshape(
            beams.history.shape[0] * beam_size, beams.history.shape[2])
        forbid(log_probs, history, step, eos_id, config)
        beams = _advance(beams, state, log_probs, step, eos_id, config, trace, rank)
        stopped = np.flatnonzero(beams.stopped)
        if stopped.size:
            results.put(beams.sentences[stopped], beams.finished.rows(stopped))
            beams = beams.keep(np.flatnonzero(~beams.stopped), beam_size)
            if not beams.sentences.size:
                break
    if beams.sentences.size:
        results.put(beams.sentences, beams.finished)
    return trace.read(results)


def _start(model: RuntimeDecodable, src: np.ndarray, src_lengths: np.ndarray, bos_id: int,
           config: SearchConfig) -> tuple[Beams, dict]:
    """The beams before the first step, and what the model's steps share (``shared``)."""
    batch, beam_size, nbest = src.shape[0], config.beam_size, config.nbest
    scores = np.full((batch, beam_size), NEG_INF, dtype=np.float32)
    scores[:, 0] = 0.0  # one live hypothesis at first, so that the first extensions differ
    limits = max_lengths(src_lengths, config)
    state, shared = model.encode(src, src_lengths)
    return Beams(
        sentences=np.arange(batch),
        limits=limits,
        best_possible_divisor=length_penalty(limits.astype(np.float32), config.alpha),
        scores=scores,
        # every slot starts from bos and the encoder's state, so the first step runs once
        # per sentence and its results are repeated per slot (beam_search)
        tokens=np.full(batch, bos_id, dtype=np.int64),
        state=state,
        rows=None,
        first_rows=_first_rows(batch, beam_size),
        stopped=np.zeros(batch, dtype=bool),
        finished=Finished(np.full((batch, nbest), NEG_INF, np.float32),
                          np.full((batch, nbest), NEG_INF, np.float32),
                          np.zeros((batch, nbest), np.int64)),
        history=(np.zeros((batch, beam_size, 0), np.int64) if config.no_repeat_ngram
                 else None),
    ), shared


def _advance(beams: Beams, state: State, log_probs: np.ndarray, step: int, eos_id: int,
             config: SearchConfig, trace: Trace, rank: Ranking) -> Beams:
    """One step: rank the extensions, set finished ones aside, keep the live ones."""
    active, beam_size = beams.scores.shape
    vocab = log_probs.shape[1]
    # the 2 * beam_size best extensions, eos or not, best first (nan counts as -inf): the
    # beam_size best of all and, unless fewer exist, the beam_size best not ending in eos
    ranked, flat = rank(beams.scores, log_probs, min(2 * beam_size, beam_size * vocab))
    parents, tokens = flat // vocab, flat % vocab
    ends = tokens == eos_id
    # the next live hypotheses: the beam_size best extensions not ending in eos (the j-th
    # is the candidate at which j non-eos ones have been counted; -inf if there is none)
    counts = np.cumsum(~ends, axis=1)
    nth = np.arange(1, beam_size + 1)
    chosen = np.minimum((counts[:, None, :] < nth[None, :, None]).sum(-1), ranked.shape[1] - 1)
    scores = np.take_along_axis(ranked, chosen, 1)
    scores[np.take_along_axis(ends, chosen, 1)] = NEG_INF
    live_parents = np.take_along_axis(parents, chosen, 1)
    live_tokens = np.take_along_axis(tokens, chosen, 1)

    length = step + 1  # tokens after this step; both kinds of finished have this many
    penalty = length_penalty(length, config.alpha)
    searching = ~beams.stopped[:, None]
    at_limit = beams.limits <= length
    # an eos extension is finished if it ranks among the beam_size best of all extensions
    with_eos = ends[:, :beam_size] & searching
    without_eos = at_limit[:, None] & searching
    finished = beams.finished
    if with_eos.any() or without_eos.any():  # a step at which none finishes skips the merge
        slots = np.broadcast_to(np.arange(beam_size), (active, beam_size))
        finished = _merge(finished, [
            (np.where(with_eos, ranked[:, :beam_size], NEG_INF), penalty,
             (step * beam_size + parents[:, :beam_size]) * 2 + 1),
            (np.where(without_eos, scores, NEG_INF), penalty,
             ((step + 1) * beam_size + slots) * 2),
        ])
    best_possible = scores.max(1) / beams.best_possible_divisor
    stopped = beams.stopped | at_limit | (best_possible <= finished.scores[:, -1])

    trace.append(beams.sentences, live_tokens, live_parents)
    rows = (beams.first_rows + live_parents).reshape(-1)
    history = beams.history
    if history is not None:
        parents_history = np.take_along_axis(history, live_parents[:, :, None], 1)
        history = np.concatenate([parents_history, live_tokens[:, :, None]], 2)
    return Beams(beams.sentences, beams.limits, beams.best_possible_divisor, scores,
                 live_tokens.reshape(-1), state, rows, beams.first_rows, stopped, finished,
                 history)


def _first_rows(sentences: int, beam_size: int) -> np.ndarray:
    return np.arange(sentences)[:, None] * beam_size


def _merge(finished: Finished, new: list[tuple[np.ndarray, float, np.ndarray]]) -> Finished:
    """``finished`` with the new finished hypotheses ``(raw, penalty, code)`` (``-inf`` raw
    where there is none), keeping the best ``nbest`` of each sentence."""
    raw = np.concatenate([finished.raw] + [r for r, _, _ in new], 1)
    scores = np.concatenate([finished.scores] + [(r / penalty).astype(np.float32)
                                                 for r, penalty, _ in new], 1)
    code = np.concatenate([finished.code] + [c for _, _, c in new], 1)
    best, index = _topk(scores, finished.scores.shape[1])
    return Finished(best, np.take_along_axis(raw, index, 1), np.take_along_axis(code, index, 1))


def beam_candidates(scores: np.ndarray, log_probs: np.ndarray, k: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best extensions of each sentence: ``(sentences, k)`` values of
    ``scores[s, slot] + log_probs[s * beam + slot, token]`` and their flat indices
    ``slot * vocab + token``, best first (ties: lower index first; nan counts as
    ``-inf``). A model may offer a faster ``beam_candidates`` of its own (the export's
    runs as an ONNX graph, whose TopK breaks ties the same way); this is the reference it
    is tested against."""
    totals = (scores.reshape(-1, 1) + log_probs).reshape(scores.shape[0], -1)
    totals[np.isnan(totals)] = NEG_INF
    return _topk(totals, k)


def _topk(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest of each row, largest first, ties to the lower index (a stable sort
    of the whole row: exact, and cheap at the sizes this is used for)."""
    index = np.argsort(-values, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(values, index, 1), index
