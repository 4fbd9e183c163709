"""Decoding through the model's ``encode``/``step`` protocol: greedy, beam search, sampling.

A model is anything with ``encode(src, src_lengths) -> state`` and
``step(tokens, state) -> (logits, state)``, where ``state`` is a list (one entry per
decoder layer) of tuples of ``(batch, units)`` tensors. Search never looks inside it
except to repeat and select batch rows. Every search is batched: one ``model.step`` call
per time step for the whole batch (times the beam).
"""

from __future__ import annotations

import torch

from seq2seq.batching import collate, sorted_batches

from .beam import beam_search
from .common import (
    Decodable,
    Hypothesis,
    SearchConfig,
    State,
    length_penalty,
    max_lengths,
    repeat_state,
    select_state,
)
from .greedy import greedy_search, sample

__all__ = ["Decodable", "Hypothesis", "SearchConfig", "State", "beam_search", "decode",
           "decode_sequences", "greedy_search", "length_penalty", "max_lengths", "repeat_state",
           "sample", "select_state"]


def decode(model: Decodable, src: torch.Tensor, src_lengths: torch.Tensor, bos_id: int,
           eos_id: int, config: SearchConfig,
           generator: torch.Generator | None = None) -> list[list[Hypothesis]]:
    """Each sentence's n-best list under ``config``: one drawn output with
    ``config.sample`` (from ``generator``), else beam search, or greedy search (as
    one-element lists) when that gives the same answer faster (``beam_size == nbest == 1``
    and ``alpha == 0``). A sentence whose every continuation is forbidden gets ``[]``."""
    config.check()
    if config.sample:
        found = sample(model, src, src_lengths, bos_id, eos_id, config, generator)
    elif config.beam_size == 1 and config.nbest == 1 and config.alpha == 0:
        found = greedy_search(model, src, src_lengths, bos_id, eos_id, config)
    else:
        return beam_search(model, src, src_lengths, bos_id, eos_id, config)
    return [[hypothesis] if hypothesis.score > float("-inf") else [] for hypothesis in found]


@torch.no_grad()
def decode_sequences(model: Decodable, sequences: list[list[int]], pad_id: int, bos_id: int,
                     eos_id: int, config: SearchConfig,
                     generator: torch.Generator | None = None) -> list[list[Hypothesis]]:
    """:func:`decode` for source id sequences of any number: each one's n-best list, in
    their order, decoded in batches of ``config.batch_size`` of similar length."""
    device = next(model.parameters()).device
    results: list[list[Hypothesis]] = [[] for _ in sequences]
    for indices in sorted_batches([len(ids) for ids in sequences], config.batch_size):
        batch = collate([(sequences[i], []) for i in indices], indices, pad_id, bos_id,
                        eos_id).to(device)
        found = decode(model, batch.src, batch.src_lengths, bos_id, eos_id, config, generator)
        for index, nbest in zip(indices, found):
            results[index] = nbest
    return results
