"""Searches that follow one path per sentence: greedy search and sampling, batched."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .common import Decodable, Hypothesis, SearchConfig, constrain, length_penalty, max_lengths


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
    config.check()

    def choose(log_probs: torch.Tensor) -> torch.Tensor:
        weights = log_probs / config.temperature
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
    """Decode with ``choose(log_probs (batch, vocab)) -> tokens (batch,)`` at every step."""
    state = model.encode(src, src_lengths)
    batch = src.shape[0]
    limits = max_lengths(src_lengths, config).to(src.device)
    tokens = torch.full((batch,), bos_id, dtype=torch.long, device=src.device)
    history = torch.zeros(batch, 0, dtype=torch.long, device=src.device)
    scores = torch.zeros(batch, device=src.device)
    finished = torch.zeros(batch, dtype=torch.bool, device=src.device)
    for t in range(int(limits.max())):
        logits, state = model.step(tokens, state)
        log_probs = constrain(logits.float().log_softmax(-1), history, eos_id, config)
        tokens = choose(log_probs)
        scores += torch.where(finished, 0.0, log_probs.gather(1, tokens[:, None])[:, 0])
        history = torch.cat([history, torch.where(finished, eos_id, tokens)[:, None]], 1)
        finished |= (tokens == eos_id) | (t + 1 >= limits)
        if bool(finished.all()):
            break
    hypotheses = []
    for row, score in zip(history.tolist(), scores.tolist()):
        output = _until_eos(row, eos_id)
        scored_length = len(output) + (eos_id in row)
        hypotheses.append(Hypothesis(output, score,
                                     score / length_penalty(scored_length, config.alpha)))
    return hypotheses


def _until_eos(ids: list[int], eos_id: int) -> list[int]:
    return ids[: ids.index(eos_id)] if eos_id in ids else ids
