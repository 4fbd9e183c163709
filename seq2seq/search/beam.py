"""Beam search, batched across sentences and beams: one ``model.step`` per time step.

Each step, every live hypothesis of every unfinished sentence is extended by every token,
and the ``2 * beam_size`` best extensions of each sentence are ranked by raw score (all
have the same length, so this is also the normalised order):

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
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .common import (
    Decodable,
    Hypothesis,
    SearchConfig,
    State,
    constrain,
    length_penalty,
    max_lengths,
    repeat_state,
    select_state,
)

NEG_INF = float("-inf")


@dataclass
class Beams:
    """The live hypotheses of the unfinished sentences, ``beam`` slots per sentence.

    Attributes:
        sentences: ``(active,)`` each unfinished sentence's index in the input batch
        limits: ``(active,)`` its output length limit, eos included
        scores: ``(active, beam)`` raw log-probability of each live hypothesis; ``-inf`` marks
            an empty slot
        history: ``(active, beam, 1 + time)`` bos, then their tokens so far
        state: the model's state; row ``a * beam + k`` is sentence ``a``'s hypothesis ``k``
        best_finished: ``(active, nbest)`` normalised scores of the best finished hypotheses,
            best first, ``-inf`` while there are fewer than ``nbest``
    """

    sentences: torch.Tensor
    limits: torch.Tensor
    scores: torch.Tensor
    history: torch.Tensor
    state: State
    best_finished: torch.Tensor

    @property
    def last_tokens(self) -> torch.Tensor:
        """``(active * beam,)`` the next step's input: each hypothesis's last token."""
        return self.history[:, :, -1].flatten()


@dataclass
class Candidates:
    """The ``2 * beam`` best one-token extensions of each sentence's live hypotheses.

    All ``(active, 2 * beam)``, best first: raw ``scores``, the live hypothesis each extends
    (``parents``) and the token it adds (``tokens``).
    """

    scores: torch.Tensor
    parents: torch.Tensor
    tokens: torch.Tensor


@torch.no_grad()
def beam_search(model: Decodable, src: torch.Tensor, src_lengths: torch.Tensor,
                bos_id: int, eos_id: int, config: SearchConfig) -> list[list[Hypothesis]]:
    """Up to ``config.nbest`` hypotheses per sentence, best (normalised score) first.

    ``Hypothesis.score`` is the raw log-probability; ``normalized_score`` divides it by
    ``((5 + length) / 6) ** alpha`` where ``length`` counts eos when the output has it.
    See the module docstring for the search and its stopping rule.

    Example::

        nbest_lists = beam_search(model, src, src_lengths, bos_id, eos_id,
                                  SearchConfig(beam_size=5, nbest=3, alpha=0.6))
    """
    config.check()
    beams = _start(model, src, src_lengths, bos_id, config)
    finished: list[list[Hypothesis]] = [[] for _ in range(src.shape[0])]
    while beams.sentences.numel():
        logits, state = model.step(beams.last_tokens, beams.state)
        history = beams.history[:, :, 1:].flatten(0, 1)
        log_probs = constrain(logits.float().log_softmax(-1), history, eos_id, config)
        candidates = _extend(beams.scores, log_probs)
        beams = _advance(beams, state, candidates, eos_id, config, finished)
    return [sorted(hypotheses, key=lambda h: -h.normalized_score)[: config.nbest]
            for hypotheses in finished]


def _start(model: Decodable, src: torch.Tensor, src_lengths: torch.Tensor, bos_id: int,
           config: SearchConfig) -> Beams:
    batch, beam_size, device = src.shape[0], config.beam_size, src.device
    scores = torch.full((batch, beam_size), NEG_INF, device=device)
    scores[:, 0] = 0.0  # one live hypothesis at first, so that the first extensions differ
    return Beams(
        sentences=torch.arange(batch, device=device),
        limits=max_lengths(src_lengths, config).to(device),
        scores=scores,
        history=torch.full((batch, beam_size, 1), bos_id, dtype=torch.long, device=device),
        state=repeat_state(model.encode(src, src_lengths), beam_size),
        best_finished=torch.full((batch, config.nbest), NEG_INF, device=device),
    )


def _extend(scores: torch.Tensor, log_probs: torch.Tensor) -> Candidates:
    """The ``2 * beam`` best extensions of ``scores (active, beam)`` by
    ``log_probs (active * beam, vocab)``."""
    active, beam_size = scores.shape
    vocab = log_probs.shape[1]
    scores = scores.reshape(-1, 1)
    # an empty slot extends to nothing (even where its log_probs are nan)
    totals = torch.where(torch.isfinite(scores), scores + log_probs, NEG_INF)
    totals = totals.view(active, beam_size * vocab)
    best, flat = totals.topk(min(2 * beam_size, beam_size * vocab), dim=1)
    return Candidates(best, flat // vocab, flat % vocab)


def _advance(beams: Beams, state: State, candidates: Candidates, eos_id: int,
             config: SearchConfig, finished: list[list[Hypothesis]]) -> Beams:
    """Set finished extensions aside, then keep the live ones of the unfinished sentences."""
    beam_size = config.beam_size
    length = beams.history.shape[2]  # bos + t tokens so far = t + 1 tokens after this step
    rank = torch.arange(candidates.scores.shape[1], device=candidates.scores.device)
    possible = torch.isfinite(candidates.scores)
    ends = (candidates.tokens == eos_id) & possible
    # the next live hypotheses: the best extensions not ending in eos (stable sort keeps rank)
    chosen = torch.sort((ends | ~possible).int(), dim=1, stable=True).indices[:, :beam_size]
    scores = candidates.scores.gather(1, chosen).masked_fill(ends.gather(1, chosen), NEG_INF)
    parents, tokens = candidates.parents.gather(1, chosen), candidates.tokens.gather(1, chosen)
    history = torch.cat([_rows(beams.history, parents), tokens[:, :, None]], 2)

    at_limit = length >= beams.limits
    penalty = length_penalty(length, config.alpha)  # both kinds of finished have `length` tokens
    with_eos = ends & (rank < beam_size)
    without_eos = at_limit[:, None] & torch.isfinite(scores)
    _set_aside(finished, beams.sentences, _rows(beams.history, candidates.parents),
               with_eos, candidates.scores, penalty)
    _set_aside(finished, beams.sentences, history, without_eos, scores, penalty)
    newly = torch.cat([candidates.scores.masked_fill(~with_eos, NEG_INF),
                       scores.masked_fill(~without_eos, NEG_INF)], 1) / penalty
    best_finished = torch.cat([beams.best_finished, newly], 1).topk(config.nbest, 1).values

    best_possible = scores.max(1).values / length_penalty(beams.limits, config.alpha)
    going_on = (~at_limit & (best_possible > best_finished[:, -1])).nonzero()[:, 0]
    rows = (going_on[:, None] * beam_size + parents[going_on]).flatten()
    return Beams(sentences=beams.sentences[going_on], limits=beams.limits[going_on],
                 scores=scores[going_on], history=history[going_on],
                 state=select_state(state, rows), best_finished=best_finished[going_on])


def _rows(history: torch.Tensor, parents: torch.Tensor) -> torch.Tensor:
    """``history (active, beam, time)`` of each hypothesis in ``parents (active, n)``."""
    return history.gather(1, parents[:, :, None].expand(-1, -1, history.shape[2]))


def _set_aside(finished: list[list[Hypothesis]], sentences: torch.Tensor, history: torch.Tensor,
               mask: torch.Tensor, scores: torch.Tensor, penalty: float) -> None:
    """Append the hypotheses where ``mask (active, n)`` to their sentences' finished lists.

    ``history (active, n, time)``: their tokens after bos (an eos they end with is not there).
    """
    for sentence, tokens, score in zip(sentences[mask.nonzero()[:, 0]].tolist(),
                                       history[mask][:, 1:].tolist(), scores[mask].tolist()):
        finished[sentence].append(Hypothesis(tokens, score, score / penalty))
