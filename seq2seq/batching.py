"""Padded tensor batches from tokenised (source ids, target ids) pairs, bucketed by length.

:func:`bucket_batches` groups example indices for training so that each batch holds examples
of similar length (little padding) while the order still changes every epoch;
:func:`sorted_batches` does the same deterministically for evaluation and translation.
:func:`collate` turns one group of examples into a :class:`Batch` of int64 tensors.

A length is either one int per example or a ``(source, target)`` pair, counted in the
positions the batch will hold (so a target length includes its eos).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Literal

import torch

from seq2seq.base.errors import UserError

POOL_BATCHES = 100  # a pool holds about this many batches; sorting happens inside a pool
SEED_STRIDE = 1_000_003  # generator seed = seed * SEED_STRIDE + epoch

Length = int | Sequence[int]


@dataclass
class Batch:
    """A padded batch for the translator (teacher forcing).

    Attributes:
        src: ``(batch, src_time)`` int64 source ids, padded with ``pad_id``.
        src_lengths: ``(batch,)`` int64 real source lengths, each >= 1.
        tgt_in: ``(batch, tgt_time)`` bos + target ids, the decoder input, padded.
        tgt_out: ``(batch, tgt_time)`` target ids + eos, what the decoder must predict, padded.
        tgt_lengths: ``(batch,)`` ``len(target) + 1``.
        indices: ``(batch,)`` positions of these examples in the dataset.
    """

    src: torch.Tensor
    src_lengths: torch.Tensor
    tgt_in: torch.Tensor
    tgt_out: torch.Tensor
    tgt_lengths: torch.Tensor
    indices: torch.Tensor

    def to(self, device: torch.device | str) -> Batch:
        """The same batch with every tensor on ``device``."""
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @property
    def target_tokens(self) -> int:
        """Real (non-pad) target positions: the tokens the loss is averaged over."""
        return int(self.tgt_lengths.sum())


def collate(examples: Sequence[tuple[Sequence[int], Sequence[int]]], indices: Sequence[int],
            pad_id: int, bos_id: int, eos_id: int) -> Batch:
    """Pad a group of (source ids, target ids) pairs into a :class:`Batch`.

    Sources get no bos/eos, except that an empty source becomes ``[eos_id]``: every source
    then has length >= 1, which packed recurrences and attention masks need. Targets become
    ``tgt_in = [bos, *target]`` and ``tgt_out = [*target, eos]``, both of length
    ``len(target) + 1``.

    Example:
        >>> batch = collate([([5, 6], [7]), ([], [8, 9])], [3, 0], pad_id=0, bos_id=1, eos_id=2)
        >>> batch.src.tolist(), batch.tgt_in.tolist(), batch.tgt_out.tolist()
        ([[5, 6], [2, 0]], [[1, 7, 0], [1, 8, 9]], [[7, 2, 0], [8, 9, 2]])
    """
    if len(examples) != len(indices):
        raise ValueError(f"collate: {len(examples)} examples but {len(indices)} indices")
    if not examples:
        raise ValueError("collate: expected at least one example, got none")
    sources = [list(source) or [eos_id] for source, _ in examples]
    targets = [list(target) for _, target in examples]
    return Batch(
        src=pad_rows(sources, pad_id),
        src_lengths=torch.tensor([len(source) for source in sources], dtype=torch.int64),
        tgt_in=pad_rows([[bos_id, *target] for target in targets], pad_id),
        tgt_out=pad_rows([[*target, eos_id] for target in targets], pad_id),
        tgt_lengths=torch.tensor([len(target) + 1 for target in targets], dtype=torch.int64),
        indices=torch.tensor(list(indices), dtype=torch.int64),
    )


def bucket_batches(lengths: Sequence[Length], batch_size: int,
                   unit: Literal["sentences", "tokens"], seed: int, epoch: int,
                   shuffle: bool = True) -> list[list[int]]:
    """Group example indices into training batches of similar length.

    1. Permute all indices with ``torch.Generator().manual_seed(seed * 1_000_003 + epoch)``
       (the identity when ``shuffle`` is false).
    2. Cut the permutation into pools of about 100 batches and sort each pool by the longer
       side, then the target, then the source (of the orders tried on fra-eng this pads least).
    3. Cut each sorted pool into batches: ``batch_size`` examples each for
       ``unit="sentences"``; for ``unit="tokens"`` as many as fit with
       ``examples * longest side <= batch_size`` (always at least one).
    4. Shuffle the order of the batches with the same generator (not when ``shuffle`` is false).

    Every index appears exactly once. The result depends only on ``(seed, epoch)``.

    Raises:
        UserError: ``batch_size`` is not a positive integer or ``unit`` is unknown.
    """
    _check_batch_size(batch_size)
    if unit not in ("sentences", "tokens"):
        raise UserError(f"batch unit: expected 'sentences' or 'tokens', got {unit!r}")
    sides = [_sides(length) for length in lengths]
    if not sides:
        return []
    generator = torch.Generator().manual_seed(seed * SEED_STRIDE + epoch)
    order = torch.randperm(len(sides), generator=generator).tolist() if shuffle \
        else list(range(len(sides)))
    if unit == "sentences":
        pool_size = POOL_BATCHES * batch_size
    else:
        mean_longest = sum(max(pair) for pair in sides) / len(sides)
        pool_size = max(1, round(POOL_BATCHES * batch_size / max(mean_longest, 1.0)))
    batches: list[list[int]] = []
    for start in range(0, len(order), pool_size):
        pool = sorted(order[start:start + pool_size], key=lambda i: _sort_key(sides[i]))
        if unit == "sentences":
            batches += [pool[at:at + batch_size] for at in range(0, len(pool), batch_size)]
        else:
            batches += _cut_by_tokens(pool, sides, batch_size)
    if shuffle:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


def sorted_batches(lengths: Sequence[Length], batch_size: int) -> list[list[int]]:
    """Indices sorted by length, longest first (ties by index), cut into batches; pairs
    sort by their longer side, then target, then source (so both sides pad little).

    For evaluation and translation: deterministic, and callers restore the dataset order
    through :attr:`Batch.indices`.
    """
    _check_batch_size(batch_size)
    keys = [tuple(-side for side in _sort_key(_sides(length))) for length in lengths]
    order = sorted(range(len(keys)), key=lambda i: (keys[i], i))
    return [order[at:at + batch_size] for at in range(0, len(order), batch_size)]


def padding_ratio(batches: Sequence[Sequence[int]], lengths: Sequence[Length]) -> float:
    """Padded positions / all positions of the padded batches, source and target together."""
    padded = total = 0
    for batch in batches:
        sides = [_sides(lengths[i]) for i in batch]
        for side in range(len(sides[0]) if sides else 0):
            longest = max(pair[side] for pair in sides)
            total += longest * len(batch)
            padded += sum(longest - pair[side] for pair in sides)
    return padded / total if total else 0.0


def pad_rows(rows: list[list[int]], pad_id: int,
             device: torch.device | str | None = None) -> torch.Tensor:
    """``(len(rows), longest row)`` int64 on ``device``, each row left-aligned, the rest
    ``pad_id``."""
    longest = max(len(row) for row in rows)
    return torch.tensor([[*row, *[pad_id] * (longest - len(row))] for row in rows],
                        dtype=torch.int64, device=device)


def _sides(length: Length) -> tuple[int, ...]:
    """``(length,)`` for one int, ``(source, target)`` for a pair."""
    if isinstance(length, (tuple, list)):
        return tuple(int(side) for side in length)
    return (int(length),)


def _sort_key(sides: tuple[int, ...]) -> tuple[int, ...]:
    """Longer side first, then target, then source."""
    return (max(sides), *reversed(sides))


def _cut_by_tokens(pool: list[int], sides: list[tuple[int, ...]], budget: int) -> list[list[int]]:
    """Cut a sorted pool so that ``len(batch) * longest side in batch <= budget``."""
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in pool:
        candidate = max(longest, *sides[index])
        if current and (len(current) + 1) * candidate > budget:
            batches.append(current)
            current, candidate = [], max(sides[index])
        current.append(index)
        longest = candidate
    if current:
        batches.append(current)
    return batches


def _check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UserError(f"batch_size: expected a positive integer, got {batch_size!r}")
