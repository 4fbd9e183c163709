"""Searches that follow one path per sentence: greedy search and sampling, batched."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from .common import (
    CHECK_EVERY_ON_ACCELERATOR,
    Decodable,
    Hypothesis,
    SearchConfig,
    forbid,
    length_penalty,
    max_lengths,
)


@torch.no_grad()
def greedy_search(model: Decodable, src: torch.Tensor, src_lengths: torch.Tensor,
                  bos_id: int, eos_id: int, config: SearchConfig) -> list[Hypothesis]:
    """The most probable next token at each step, for a whole batch at once.

    A sentence stops at eos or at its length limit; the batch stops when all have.
    ``config.min_len`` and ``config.no_repeat_ngram`` forbid tokens as in beam search.
    """
    return _one_path(model, src, src_lengths, bos_id, eos_id, config,
                     choose=lambda log_probs: log_probs.argmax(-1))


@torch.no_grad()
def sample(model: Decodable, src: torch.Tensor, src_lengths: torch.Tensor, bos_id: int,
           eos_id: int, config: SearchConfig,
           generator: torch.Generator | None = None) -> list[Hypothesis]:
    """One output per sentence, each token drawn from ``softmax(logits / temperature)``.

    With ``config.top_k`` > 0 only the ``top_k`` most probable tokens can be drawn.
    ``Hypothesis.score`` is still the model's log-probability of the output (temperature 1,
    whole vocabulary). Draws come from ``generator`` (torch's default one when ``None``).

    Example::

        outputs = sample(model, src, src_lengths, bos_id, eos_id,
                         SearchConfig(temperature=0.7, top_k=10), torch.Generator().manual_seed(0))
    """
    config = dataclasses.replace(config, sample=True)
    config.check()

    def choose(log_probs: torch.Tensor) -> torch.Tensor:
        # each row's best token at 0 before dividing: a temperature near 0 then makes the
        # others -inf (a one-hot on the best) rather than every token -inf
        best = log_probs.amax(1, keepdim=True)
        weights = (log_probs - best.nan_to_num(neginf=0.0)) / config.temperature
        if config.top_k and config.top_k < weights.shape[1]:
            kth = weights.topk(config.top_k, dim=1).values[:, -1:]
            weights = weights.masked_fill(weights < kth, float("-inf"))
        # a row with every token forbidden draws uniformly; its score is -inf anyway
        nothing_allowed = ~torch.isfinite(weights).any(1, keepdim=True)
        weights = weights.masked_fill(nothing_allowed, 0.0)
        return torch.multinomial(weights.softmax(-1), 1, generator=generator)[:, 0]

    return _one_path(model, src, src_lengths, bos_id, eos_id, config, choose)


def _one_path(model: Decodable, src: torch.Tensor, src_lengths: torch.Tensor, bos_id: int,
              eos_id: int, config: SearchConfig,
              choose: Callable[[torch.Tensor], torch.Tensor]) -> list[Hypothesis]:
    """Decode with ``choose(log_probs (batch, vocab)) -> tokens (batch,)`` at every step.

    Each step costs the same at any position: its tokens go into a buffer (written in
    place, no regathering of the history); the loop reads back "has every sentence
    ended?" every step on CPU and every few steps on an accelerator.
    """
    state = model.encode(src, src_lengths)
    batch, device = src.shape[0], src.device
    limits = max_lengths(src_lengths, config).to(device)
    longest = int(limits.max())
    check_every = 1 if device.type == "cpu" else CHECK_EVERY_ON_ACCELERATOR
    tokens = torch.full((batch,), bos_id, dtype=torch.long, device=device)
    outputs = torch.full((batch, longest), eos_id, dtype=torch.long, device=device)
    scores = torch.zeros(batch, device=device)
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    # chose eos (the rows stopped by their limit are padded with eos all the same)
    ended = torch.zeros(batch, dtype=torch.bool, device=device)
    steps = 0
    for step in range(longest):
        logits, state = model.step(tokens, state)
        log_probs = logits.float().log_softmax(-1)
        forbid(log_probs, outputs[:, :step], step, eos_id, config)
        tokens = choose(log_probs)
        scores += log_probs.gather(1, tokens[:, None])[:, 0].masked_fill_(finished, 0.0)
        outputs[:, step] = tokens.masked_fill(finished, eos_id)
        ended |= (tokens == eos_id) & ~finished
        finished |= (tokens == eos_id) | (step + 1 >= limits)
        steps = step + 1
        if steps % check_every == 0 and bool(finished.all()):
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
