"""Interleaved timing: every contender runs once per round, so drift hits all alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved_medians(
    contenders: dict[str, Callable[[], object]], rounds: int, warmup: int = 1,
    synchronize: Callable[[], object] = lambda: None,
) -> dict[str, float]:
    """Median seconds per call of each contender over ``rounds`` interleaved rounds.

    ``synchronize`` waits for queued device work (``torch.cuda.synchronize`` on a GPU, whose
    kernels run asynchronously): it runs before each clock starts and before it stops."""
    for _ in range(warmup):
        for run in contenders.values():
            run()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            synchronize()
            start = time.perf_counter()
            run()
            synchronize()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}


def where(threads: int, device: str) -> str:
    """How a table names where it ran: ``"2 threads"`` on the CPU, else the device."""
    return f"{threads} threads" if device == "cpu" else device
