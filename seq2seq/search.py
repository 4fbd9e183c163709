"""Decoding through the model's ``encode``/``step`` protocol: batched greedy search.

A model is anything with ``encode(src, src_lengths) -> state`` and
``step(tokens, state) -> (logits, state)``, where ``state`` is a list (one entry per
decoder layer) of tuples of ``(batch, units)`` tensors. Search never looks inside it
except to select batch rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


class Decodable(Protocol):
    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor): ...

    def step(self, tokens: torch.Tensor, state): ...


@dataclass
class Hypothesis:
    """One output: its token ids (without bos/eos) and its log-probability under the model."""

    tokens: list[int]
    score: float


@dataclass
class SearchConfig:
    """The ``[decode]`` table: output length limits (ratio and offset of the source length)."""

    max_len_ratio: float = 2.0
    max_len_offset: int = 10
    batch_size: int = 256  # sentences per decoding batch


def max_lengths(src_lengths: torch.Tensor, config: SearchConfig) -> torch.Tensor:
    """Longest output allowed per sentence, eos included."""
    return (src_lengths.float() * config.max_len_ratio).long() + config.max_len_offset


@torch.no_grad()
def greedy_search(model: Decodable, src: torch.Tensor, src_lengths: torch.Tensor,
                  bos_id: int, eos_id: int, config: SearchConfig) -> list[Hypothesis]:
    """The most probable next token at each step, for a whole batch at once.

    A sentence stops at eos or at its length limit; the batch stops when all have.
    """
    state = model.encode(src, src_lengths)
    batch = src.shape[0]
    limits = max_lengths(src_lengths, config).to(src.device)
    tokens = torch.full((batch,), bos_id, dtype=torch.long, device=src.device)
    scores = torch.zeros(batch, device=src.device)
    finished = torch.zeros(batch, dtype=torch.bool, device=src.device)
    outputs = []
    for t in range(int(limits.max())):
        logits, state = model.step(tokens, state)
        log_probs = logits.float().log_softmax(-1)
        tokens = log_probs.argmax(-1)
        scores += torch.where(finished, 0.0, log_probs.gather(1, tokens[:, None])[:, 0])
        outputs.append(torch.where(finished, eos_id, tokens))
        finished |= (tokens == eos_id) | (t + 1 >= limits)
        if bool(finished.all()):
            break
    rows = torch.stack(outputs, 1).tolist()
    return [Hypothesis(_until_eos(row, eos_id), float(score)) for row, score in zip(rows, scores)]


def _until_eos(ids: list[int], eos_id: int) -> list[int]:
    return ids[: ids.index(eos_id)] if eos_id in ids else ids
