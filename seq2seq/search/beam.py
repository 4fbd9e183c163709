"""Beam search, batched across sentences and beams: one model step per time step.

Each step, every live hypothesis of every unfinished sentence is extended by every token,
and the extensions of each sentence are ranked by raw score (all have the same length, so
this is also the normalised order):

* an extension ending in eos that ranks among the first ``beam_size`` is *finished*: set
  aside with its score, while the others go on (a sentence never stops merely because its
  best hypothesis ended);
* the ``beam_size`` best extensions not ending in eos are the next live hypotheses; at the
  sentence's length limit (:func:`max_lengths`) they are finished as they are, without eos.

Stopping rule, per sentence: stop at the length limit, or once ``nbest`` hypotheses are
finished and no live one can still beat the ``nbest``-th best of them. Log-probabilities are
<= 0, so a live hypothesis with raw score ``s`` can end, at best, with normalised score
``s / length_penalty(limit, alpha)`` (``s`` itself when ``alpha`` is 0). That bound is
exact, not a heuristic: stopping never changes the ``nbest`` list that searching on to the
length limit would return. (With ``alpha`` > 0 the bound is loose, so sentences tend to
run longer.)

The first step runs once per sentence, not once per slot: every slot then holds the same
hypothesis (bos and the encoder's state), so its results are simply repeated per slot.

Bookkeeping, all on the device and the same cost at every step: one ``topk`` of
``beam_size`` over ``(sentences, beam × vocab)`` with the eos extensions left out gives
the live hypotheses; an eos extension is finished when fewer than ``beam_size``
extensions (live or eos) score above it, that is, when it is no lower than the
``beam_size``-th best of the live and eos ones (a ``topk`` over ``(sentences, 2 × beam)``:
a broadcast count over ``(sentences, beam, 2 × beam)`` cost three times as much on CPU);
the best live score is the first of the sorted ``topk``; each step stores only its
tokens and back-pointers (``parents``), and outputs are read back by following the
pointers once at the end; the best ``nbest`` finished hypotheses of each sentence are
kept as tensors (scores and where to start reading them back). Stopped sentences leave
the batch when the search checks for them (every step on CPU, where reading a flag back
costs nothing; every few steps on an accelerator, where it would stall the queue).

The model's state is never gathered per hypothesis by the search: the next step is taken
from the rows of the hypotheses' parents (:func:`~seq2seq.search.common.step_from`), so a
model can do once what hypotheses of one parent share. The LSTM decoder's step multiplies
each parent's recurrent state once (:class:`~seq2seq.core.LSTMStep`), and that product is
most of a step: a sentence's hypotheses often share parents (beam 5, a trained
``fra-eng-keras``: a median of 75% of a step's rows are distinct parents; a random model
forced to long outputs: 36%).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .common import (
    CHECK_EVERY_ON_ACCELERATOR,
    Decodable,
    Hypothesis,
    SearchConfig,
    State,
    forbid,
    length_penalty,
    max_lengths,
    repeat_state,
    step_from,
)

NEG_INF = float("-inf")


@dataclass
class Finished:
    """The best ``nbest`` finished hypotheses of each sentence, best first, as tensors.

    All ``(sentences, nbest)``: ``scores`` normalised (``-inf``: none yet), ``raw`` the raw
    log-probabilities, ``code`` where to read the output back: ``(last + 1) * beam + slot``
    times 2, plus 1 if it ended with eos, where ``(last, slot)`` is the step and beam slot
    of its last token before eos (``last = -1``: the empty output).
    """

    scores: torch.Tensor
    raw: torch.Tensor
    code: torch.Tensor

    def rows(self, index: torch.Tensor) -> Finished:
        return Finished(self.scores[index], self.raw[index], self.code[index])

    def put(self, sentences: torch.Tensor, other: Finished) -> None:
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
            first step. The state is not gathered per hypothesis: the model's step reads
            these rows (:func:`~seq2seq.search.common.step_from`), and may do once what
            hypotheses of one parent share
        first_rows: ``(active, 1)`` the state row of each sentence's first slot
            (``a * beam``)
        stopped: ``(active,)`` the sentences whose results are final
        finished: their best finished hypotheses
        history: ``(active, beam, time)`` the live hypotheses' tokens, kept only for
            n-gram blocking (which has to look at all of them)
    """

    sentences: torch.Tensor
    limits: torch.Tensor
    best_possible_divisor: torch.Tensor
    scores: torch.Tensor
    tokens: torch.Tensor
    state: State
    rows: torch.Tensor | None
    first_rows: torch.Tensor
    stopped: torch.Tensor
    finished: Finished
    history: torch.Tensor | None

    def keep(self, index: torch.Tensor, beam_size: int) -> Beams:
        """Only the sentences at ``index`` (positions in this batch)."""
        hypotheses = (index[:, None] * beam_size
                      + torch.arange(beam_size, device=index.device)).flatten()
        return Beams(self.sentences[index], self.limits[index],
                     self.best_possible_divisor[index], self.scores[index],
                     self.tokens[hypotheses], self.state, self.rows[hypotheses],
                     _first_rows(index.shape[0], beam_size, index.device),
                     self.stopped[index], self.finished.rows(index),
                     None if self.history is None else self.history[index])


class Trace:
    """Each step's tokens and back-pointers, ``(batch, beam)`` per step over the whole input
    batch, to read outputs back once at the end."""

    def __init__(self, batch: int, beam_size: int) -> None:
        self.batch, self.beam_size = batch, beam_size
        self.tokens: list[torch.Tensor] = []
        self.parents: list[torch.Tensor] = []

    def append(self, sentences: torch.Tensor, tokens: torch.Tensor, parents: torch.Tensor):
        if sentences.shape[0] != self.batch:  # some sentences have left: place the rest
            tokens = tokens.new_zeros(self.batch, self.beam_size).index_copy_(0, sentences,
                                                                               tokens)
            parents = parents.new_zeros(self.batch, self.beam_size).index_copy_(0, sentences,
                                                                                 parents)
        self.tokens.append(tokens)
        self.parents.append(parents)

    def read(self, finished: Finished) -> list[list[Hypothesis]]:
        """The hypotheses that ``finished`` points to, per sentence, best first."""
        nbest = finished.scores.shape[1]
        code = finished.code.flatten()
        position = code // 2
        slot, last = position % self.beam_size, position // self.beam_size - 1
        sentence = torch.arange(self.batch, device=code.device).repeat_interleave(nbest)
        steps = len(self.tokens)
        outputs = torch.zeros(code.shape[0], max(steps, 1), dtype=torch.long, device=code.device)
        for step in range(steps - 1, -1, -1):  # follow the back-pointers from the end
            reached = last >= step
            outputs[:, step] = torch.where(reached, self.tokens[step][sentence, slot], 0)
            slot = torch.where(reached, self.parents[step][sentence, slot], slot)
        found: list[list[Hypothesis]] = [[] for _ in range(self.batch)]
        rows = zip(outputs.tolist(), (last + 1).tolist(), finished.raw.flatten().tolist(),
                   finished.scores.flatten().tolist())
        for index, (tokens, length, raw, score) in enumerate(rows):
            if score > NEG_INF:
                found[index // nbest].append(Hypothesis(tokens[:length], raw, score))
        return found


@torch.no_grad()
def beam_search(model: Decodable, src: torch.Tensor, src_lengths: torch.Tensor,
                bos_id: int, eos_id: int, config: SearchConfig) -> list[list[Hypothesis]]:
    """Up to ``config.nbest`` hypotheses per sentence, best (normalised score) first.

    ``Hypothesis.score`` is the raw log-probability; ``normalized_score`` divides it by
    ``((5 + length) / 6) ** alpha`` where ``length`` counts eos when the output has it.
    A sentence for which every continuation is forbidden (by ``min_len`` and
    ``no_repeat_ngram`` together) gets an empty list. See the module docstring for the
    search, its stopping rule and its bookkeeping.

    Example::

        nbest_lists = beam_search(model, src, src_lengths, bos_id, eos_id,
                                  SearchConfig(beam_size=5, nbest=3, alpha=0.6))
    """
    config.check()
    batch, beam_size = src.shape[0], config.beam_size
    beams = _start(model, src, src_lengths, bos_id, config)
    results = Finished(beams.finished.scores.clone(), beams.finished.raw.clone(),
                       beams.finished.code.clone())
    trace = Trace(batch, beam_size)
    check_every = 1 if src.device.type == "cpu" else CHECK_EVERY_ON_ACCELERATOR
    longest = int(beams.limits.max())
    for step in range(longest):
        logits, state = step_from(model, beams.tokens, beams.state, beams.rows)
        if step == 0:  # one row per sentence so far (see _start): now one per slot
            logits, state = logits.repeat_interleave(beam_size, 0), repeat_state(state, beam_size)
        log_probs = logits.float().log_softmax(-1)
        history = None if beams.history is None else beams.history.flatten(0, 1)
        forbid(log_probs, history, step, eos_id, config)
        beams = _advance(beams, state, log_probs, step, eos_id, config, trace)
        if (step + 1) % check_every == 0 or step + 1 == longest:
            stopped = beams.stopped.nonzero()[:, 0]
            if stopped.numel():
                results.put(beams.sentences[stopped], beams.finished.rows(stopped))
                beams = beams.keep((~beams.stopped).nonzero()[:, 0], beam_size)
                if not beams.sentences.numel():
                    break
    if beams.sentences.numel():
        results.put(beams.sentences, beams.finished)
    return trace.read(results)


def _start(model: Decodable, src: torch.Tensor, src_lengths: torch.Tensor, bos_id: int,
           config: SearchConfig) -> Beams:
    batch, beam_size, nbest, device = src.shape[0], config.beam_size, config.nbest, src.device
    scores = torch.full((batch, beam_size), NEG_INF, device=device)
    scores[:, 0] = 0.0  # one live hypothesis at first, so that the first extensions differ
    limits = max_lengths(src_lengths, config).to(device)
    return Beams(
        sentences=torch.arange(batch, device=device),
        limits=limits,
        best_possible_divisor=length_penalty(limits.float(), config.alpha),
        scores=scores,
        # every slot starts from bos and the encoder's state, so the first step runs once
        # per sentence and its results are repeated per slot (beam_search)
        tokens=torch.full((batch,), bos_id, dtype=torch.long, device=device),
        state=model.encode(src, src_lengths),
        rows=None,
        first_rows=_first_rows(batch, beam_size, device),
        stopped=torch.zeros(batch, dtype=torch.bool, device=device),
        finished=Finished(torch.full((batch, nbest), NEG_INF, device=device),
                          torch.full((batch, nbest), NEG_INF, device=device),
                          torch.zeros(batch, nbest, dtype=torch.long, device=device)),
        history=(torch.zeros(batch, beam_size, 0, dtype=torch.long, device=device)
                 if config.no_repeat_ngram else None),
    )


def _advance(beams: Beams, state: State, log_probs: torch.Tensor, step: int, eos_id: int,
             config: SearchConfig, trace: Trace) -> Beams:
    """One step: rank the extensions, set finished ones aside, keep the live ones."""
    active, beam_size = beams.scores.shape
    vocab = log_probs.shape[1]
    totals = beams.scores.view(-1, 1) + log_probs
    # an empty slot (-inf) extends to nothing, even where its log_probs are nan (a row
    # whose every token the model gives probability 0)
    totals.nan_to_num_(nan=NEG_INF, neginf=NEG_INF)
    ended = totals[:, eos_id].clone().view(active, beam_size)  # each slot's eos extension
    totals[:, eos_id] = NEG_INF
    # the next live hypotheses: the beam_size best extensions not ending in eos
    scores, flat = totals.view(active, beam_size * vocab).topk(beam_size, dim=1)
    live_parents, live_tokens = flat // vocab, flat % vocab
    # an eos extension is finished if it ranks among the beam_size best of all extensions,
    # that is, if fewer than beam_size others (live or ending) score above it: if it is no
    # lower than the beam_size-th best of them, which is among the live and ending ones
    kept = torch.cat([scores, ended], 1).topk(beam_size, dim=1).values[:, -1:]

    length = step + 1  # tokens after this step; both kinds of finished have this many
    penalty = length_penalty(length, config.alpha)
    searching = ~beams.stopped[:, None]
    at_limit = beams.limits <= length
    with_eos = (ended >= kept) & searching
    without_eos = at_limit[:, None] & searching
    finished = beams.finished
    # on CPU, where reading a flag back costs nothing, a step at which no hypothesis
    # finishes skips the merge; on an accelerator it always merges, with no read-back
    if scores.device.type != "cpu" or bool((with_eos | without_eos).any()):
        slots = torch.arange(beam_size, device=scores.device).expand(active, beam_size)
        finished = _merge(finished, [
            (ended.masked_fill(~with_eos, NEG_INF), penalty, (step * beam_size + slots) * 2 + 1),
            (scores.masked_fill(~without_eos, NEG_INF), penalty,
             ((step + 1) * beam_size + slots) * 2),
        ])
    best_possible = scores[:, 0] / beams.best_possible_divisor  # topk sorts: 0 is the best
    stopped = beams.stopped | at_limit | (best_possible <= finished.scores[:, -1])

    trace.append(beams.sentences, live_tokens, live_parents)
    rows = (beams.first_rows + live_parents).flatten()
    history = beams.history
    if history is not None:
        parents_history = history.gather(1, live_parents[:, :, None].expand_as(history))
        history = torch.cat([parents_history, live_tokens[:, :, None]], 2)
    return Beams(beams.sentences, beams.limits, beams.best_possible_divisor, scores,
                 live_tokens.flatten(), state, rows, beams.first_rows, stopped, finished,
                 history)


def _first_rows(sentences: int, beam_size: int, device: torch.device) -> torch.Tensor:
    return torch.arange(sentences, device=device)[:, None] * beam_size


def _merge(finished: Finished, new: list[tuple[torch.Tensor, float, torch.Tensor]]
           ) -> Finished:
    """``finished`` with the new finished hypotheses ``(raw, penalty, code)`` (``-inf`` raw
    where there is none), keeping the best ``nbest`` of each sentence."""
    raw = torch.cat([finished.raw] + [r for r, _, _ in new], 1)
    scores = torch.cat([finished.scores] + [r / penalty for r, penalty, _ in new], 1)
    code = torch.cat([finished.code] + [c for _, _, c in new], 1)
    best, index = scores.topk(finished.scores.shape[1], dim=1)
    return Finished(best, raw.gather(1, index), code.gather(1, index))
