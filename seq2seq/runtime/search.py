"""Greedy and beam search in NumPy, for the export runtime: the torch search
(:mod:`seq2seq.search`) step for step, on arrays.

It is a second copy of one algorithm, so it is held equal to the torch search by tests
on every setting (beam size, n-best, length normalisation, minimum length, n-gram
blocking, length limits): same outputs, same scores. Keep the two in step: a change to
either belongs in both, and the tests fail until it is. One difference is of means only:
here a beam step ranks its ``2 * beam`` best extensions (one ``beam_candidates`` call, an
ONNX TopK in the export), where the torch search takes the ``beam`` best without eos and
counts how many extensions outrank each eos one; both select the same hypotheses.

A model is anything with ``encode(src, src_lengths) -> (state, shared)`` and
``step(tokens, state, shared) -> (log_probs, state)``, where ``state`` is a dict of
arrays with one row per hypothesis (search repeats and selects those rows) and
``shared`` is what every row reads without being copied (the encoder's memory, indexed
by a ``memory_rows`` entry of the state). It may also have ``beam_candidates``, a faster
:func:`beam_candidates` (the export's runs as an ONNX graph).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from seq2seq.base.search_settings import SearchConfig

__all__ = ["Hypothesis", "RuntimeDecodable", "beam_candidates", "beam_search", "decode",
           "greedy_search", "length_penalty", "max_lengths"]

State = dict[str, np.ndarray]
NEG_INF = np.float32(-np.inf)


class RuntimeDecodable(Protocol):
    def encode(self, src: np.ndarray, src_lengths: np.ndarray) -> tuple[State, dict]: ...

    def step(self, tokens: np.ndarray, state: State, shared: dict
             ) -> tuple[np.ndarray, State]: ...


@dataclass
class Hypothesis:
    """One output: token ids (without bos/eos), raw log-probability, ranking score."""

    tokens: list[int]
    score: float
    normalized_score: float = 0.0


def max_lengths(src_lengths: np.ndarray, config: SearchConfig) -> np.ndarray:
    """Longest output allowed per sentence, eos included (as the torch search computes it,
    in float32)."""
    scaled = src_lengths.astype(np.float32) * np.float32(config.max_len_ratio)
    return scaled.astype(np.int64) + config.max_len_offset


def length_penalty(length, alpha: float):
    """GNMT's ``((5 + length) / 6) ** alpha``."""
    return ((5 + length) / 6) ** alpha


def _repeat(state: State, times: int) -> State:
    return {name: np.repeat(value, times, axis=0) for name, value in state.items()}


def _select(state: State, rows: np.ndarray) -> State:
    return {name: np.take(value, rows, axis=0) for name, value in state.items()}


def forbid(log_probs: np.ndarray, history: np.ndarray | None, step: int, eos_id: int,
           config: SearchConfig) -> None:
    """Forbidden next tokens set to ``-inf`` in place: eos before ``min_len`` tokens, and
    with ``no_repeat_ngram``, tokens that would repeat an n-gram of the row's history."""
    if step < config.min_len:
        log_probs[:, eos_id] = NEG_INF
    if config.no_repeat_ngram:
        log_probs[_repeated_ngram_ends(history, config.no_repeat_ngram,
                                       log_probs.shape[1])] = NEG_INF


def _repeated_ngram_ends(history: np.ndarray, n: int, vocab_size: int) -> np.ndarray:
    rows, time = history.shape
    banned = np.zeros((rows, vocab_size), dtype=bool)
    if time < n:
        return banned
    ngrams = np.lib.stride_tricks.sliding_window_view(history, n, axis=1)
    prefix = history[:, time - (n - 1):]
    matches = (ngrams[:, :, :-1] == prefix[:, None, :]).all(-1)
    row_index = np.broadcast_to(np.arange(rows)[:, None], matches.shape)
    banned[row_index[matches], ngrams[:, :, -1][matches]] = True
    return banned


def _topk(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest of each row, largest first, ties to the lower index (a stable sort
    of the whole row: exact, and cheap at the sizes this is used for)."""
    index = np.argsort(-values, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(values, index, 1), index


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


def decode(model: RuntimeDecodable, src: np.ndarray, src_lengths: np.ndarray, bos_id: int,
           eos_id: int, config: SearchConfig) -> list[list[Hypothesis]]:
    """Each sentence's n-best list: greedy search when that gives the same answer as beam
    search (``beam_size == nbest == 1``, ``alpha == 0``), else beam search. A sentence whose
    every continuation is forbidden gets ``[]``."""
    config.check()
    if config.sample:
        raise ValueError("sample: the export runtime searches; it does not sample")
    if config.beam_size == 1 and config.nbest == 1 and config.alpha == 0:
        return [[h] if h.score > -np.inf else []
                for h in greedy_search(model, src, src_lengths, bos_id, eos_id, config)]
    return beam_search(model, src, src_lengths, bos_id, eos_id, config)


def greedy_search(model: RuntimeDecodable, src: np.ndarray, src_lengths: np.ndarray,
                  bos_id: int, eos_id: int, config: SearchConfig) -> list[Hypothesis]:
    """The most probable next token at each step; a sentence stops at eos or its length
    limit, the batch when all have."""
    state, shared = model.encode(src, src_lengths)
    batch = src.shape[0]
    limits = max_lengths(src_lengths, config)
    longest = int(limits.max())
    tokens = np.full(batch, bos_id, dtype=np.int64)
    outputs = np.full((batch, longest), eos_id, dtype=np.int64)
    scores = np.zeros(batch, dtype=np.float32)
    finished = np.zeros(batch, dtype=bool)
    ended = np.zeros(batch, dtype=bool)  # chose eos (not only padded with it at the limit)
    rows = np.arange(batch)
    steps = 0
    for step in range(longest):
        log_probs, state = model.step(tokens, state, shared)
        forbid(log_probs, outputs[:, :step], step, eos_id, config)
        tokens = log_probs.argmax(-1)
        scores += np.where(finished, np.float32(0), log_probs[rows, tokens])
        outputs[:, step] = np.where(finished, eos_id, tokens)
        ended |= (tokens == eos_id) & ~finished
        finished |= (tokens == eos_id) | (step + 1 >= limits)
        steps = step + 1
        if finished.all():
            break
    hypotheses = []
    for row, score, chose_eos in zip(outputs[:, :steps].tolist(), scores.tolist(),
                                     ended.tolist()):
        output = row[: row.index(eos_id)] if eos_id in row else row
        scored_length = len(output) + chose_eos
        hypotheses.append(Hypothesis(output, score,
                                     score / length_penalty(scored_length, config.alpha)))
    return hypotheses


@dataclass
class _Finished:
    scores: np.ndarray  # (sentences, nbest) normalised; -inf: none yet
    raw: np.ndarray
    code: np.ndarray  # ((last + 1) * beam + slot) * 2 + ended with eos

    def rows(self, index: np.ndarray) -> _Finished:
        return _Finished(self.scores[index], self.raw[index], self.code[index])

    def put(self, sentences: np.ndarray, other: _Finished) -> None:
        self.scores[sentences], self.raw[sentences] = other.scores, other.raw
        self.code[sentences] = other.code


def beam_search(model: RuntimeDecodable, src: np.ndarray, src_lengths: np.ndarray,
                bos_id: int, eos_id: int, config: SearchConfig) -> list[list[Hypothesis]]:
    """Up to ``config.nbest`` hypotheses per sentence, best first: the torch
    :func:`seq2seq.search.beam_search` (see its module for the search and its exact
    stopping rule), on arrays."""
    config.check()
    batch, beam, nbest = src.shape[0], config.beam_size, config.nbest
    state, shared = model.encode(src, src_lengths)  # one row per sentence until step 0 ends
    sentences = np.arange(batch)
    limits = max_lengths(src_lengths, config)
    divisor = length_penalty(limits.astype(np.float32), config.alpha)
    scores = np.full((batch, beam), NEG_INF, dtype=np.float32)
    scores[:, 0] = 0.0
    tokens = np.full(batch, bos_id, dtype=np.int64)
    stopped = np.zeros(batch, dtype=bool)
    finished = _Finished(np.full((batch, nbest), NEG_INF, np.float32),
                         np.full((batch, nbest), NEG_INF, np.float32),
                         np.zeros((batch, nbest), np.int64))
    results = _Finished(finished.scores.copy(), finished.raw.copy(), finished.code.copy())
    history = np.zeros((batch, beam, 0), np.int64) if config.no_repeat_ngram else None
    trace_tokens, trace_parents = [], []
    kth = np.arange(1, beam + 1)
    rank = getattr(model, "beam_candidates", beam_candidates)
    longest = int(limits.max())
    for step in range(longest):
        log_probs, state = model.step(tokens, state, shared)
        if step == 0:  # every slot held bos and the encoder's state: now one row per slot
            log_probs, state = np.repeat(log_probs, beam, axis=0), _repeat(state, beam)
        rows_history = None if history is None else history.reshape(
            history.shape[0] * beam, history.shape[2])
        forbid(log_probs, rows_history, step, eos_id, config)
        active, vocab = scores.shape[0], log_probs.shape[1]
        ranked, flat = rank(scores, log_probs, min(2 * beam, beam * vocab))
        parents, candidates = flat // vocab, flat % vocab
        ends = candidates == eos_id
        counts = np.cumsum(~ends, axis=1)
        chosen = np.minimum((counts[:, None, :] < kth[None, :, None]).sum(-1),
                            ranked.shape[1] - 1)
        new_scores = np.take_along_axis(ranked, chosen, 1)
        new_scores[np.take_along_axis(ends, chosen, 1)] = NEG_INF
        live_parents = np.take_along_axis(parents, chosen, 1)
        live_tokens = np.take_along_axis(candidates, chosen, 1)

        length = step + 1
        penalty = length_penalty(length, config.alpha)
        searching = ~stopped[:, None]
        at_limit = limits[sentences] <= length
        with_eos = ends[:, :beam] & searching
        without_eos = at_limit[:, None] & searching
        if with_eos.any() or without_eos.any():  # else nothing to merge
            slots = np.broadcast_to(np.arange(beam), (active, beam))
            finished = _merge(finished, [
                (np.where(with_eos, ranked[:, :beam], NEG_INF), penalty,
                 (step * beam + parents[:, :beam]) * 2 + 1),
                (np.where(without_eos, new_scores, NEG_INF), penalty,
                 ((step + 1) * beam + slots) * 2),
            ])
        best_possible = new_scores.max(1) / divisor[sentences]
        stopped = stopped | at_limit | (best_possible <= finished.scores[:, -1])

        placed_tokens = np.zeros((batch, beam), np.int64)
        placed_parents = np.zeros((batch, beam), np.int64)
        placed_tokens[sentences], placed_parents[sentences] = live_tokens, live_parents
        trace_tokens.append(placed_tokens)
        trace_parents.append(placed_parents)
        rows = (np.arange(active)[:, None] * beam + live_parents).reshape(-1)
        state = _select(state, rows)
        if history is not None:
            history = np.concatenate(
                [np.take_along_axis(history, live_parents[:, :, None], 1),
                 live_tokens[:, :, None]], 2)
        scores, tokens = new_scores, live_tokens.reshape(-1)

        done = np.flatnonzero(stopped)
        if done.size:
            results.put(sentences[done], finished.rows(done))
            keep = np.flatnonzero(~stopped)
            keep_rows = (keep[:, None] * beam + np.arange(beam)).reshape(-1)
            sentences, scores, stopped = sentences[keep], scores[keep], stopped[keep]
            finished = finished.rows(keep)
            tokens, state = tokens[keep_rows], _select(state, keep_rows)
            if history is not None:
                history = history[keep]
            if not sentences.size:
                break
    if sentences.size:
        results.put(sentences, finished)
    return _read(results, trace_tokens, trace_parents, batch, beam)


def _merge(finished: _Finished, new: list) -> _Finished:
    raw = np.concatenate([finished.raw] + [r for r, _, _ in new], 1)
    scores = np.concatenate([finished.scores] + [(r / p).astype(np.float32)
                                                 for r, p, _ in new], 1)
    code = np.concatenate([finished.code] + [c for _, _, c in new], 1)
    best, index = _topk(scores, finished.scores.shape[1])
    return _Finished(best, np.take_along_axis(raw, index, 1), np.take_along_axis(code, index, 1))


def _read(finished: _Finished, trace_tokens: list, trace_parents: list, batch: int,
          beam: int) -> list[list[Hypothesis]]:
    """Follow the back-pointers from each finished hypothesis to its first token."""
    nbest = finished.scores.shape[1]
    code = finished.code.reshape(-1)
    position = code // 2
    slot, last = position % beam, position // beam - 1
    sentence = np.repeat(np.arange(batch), nbest)
    steps = len(trace_tokens)
    outputs = np.zeros((code.shape[0], max(steps, 1)), np.int64)
    for step in range(steps - 1, -1, -1):
        reached = last >= step
        outputs[:, step] = np.where(reached, trace_tokens[step][sentence, slot], 0)
        slot = np.where(reached, trace_parents[step][sentence, slot], slot)
    found: list[list[Hypothesis]] = [[] for _ in range(batch)]
    rows = zip(outputs.tolist(), (last + 1).tolist(), finished.raw.reshape(-1).tolist(),
               finished.scores.reshape(-1).tolist())
    for index, (tokens, length, raw, score) in enumerate(rows):
        if score > -np.inf:
            found[index // nbest].append(Hypothesis(tokens[:length], raw, score))
    return found
