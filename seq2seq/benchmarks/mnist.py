"""``seq2seq bench mnist``: the ``mnist-pytorch`` recipe against the tutorial's own loop.

The tutorial's loop is the plain PyTorch one: ``nn.LSTM(28, 64)`` and ``nn.Linear(64,
10)``, Adam 0.01, batch 64, shuffled, one epoch, then the test accuracy. Ours is the
same recipe through the whole trainer (progress bar, evaluation, checkpoints, plots).
Both run on the same tensors in the same process, alternately, and each run's time
covers training and its test evaluation, not data loading.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from seq2seq.benchmarks.mnist_tutorial import train_and_test
from seq2seq.config import find_recipe, load_recipe

TUTORIAL_PROGRAM = "seq2seq.benchmarks.mnist_tutorial"


@dataclass
class RunResult:
    seconds: float
    accuracy: float


def run_tutorial(train_x, train_y, test_x, test_y, seed: int) -> RunResult:
    """The tutorial's loop (:func:`mnist_tutorial.train_and_test`), timed."""
    start = time.perf_counter()
    accuracy = train_and_test(train_x, train_y, test_x, test_y, seed)
    return RunResult(time.perf_counter() - start, accuracy)


def run_ours(digits, recipes_dir: Path, seed: int) -> RunResult:
    """The ``mnist-pytorch`` recipe through :class:`Trainer`, in a temporary run directory."""
    from seq2seq.tasks.mnist import MnistRecipe, MnistTask
    from seq2seq.trainer import Trainer

    recipe = load_recipe(MnistRecipe, find_recipe("mnist-pytorch", recipes_dir),
                         [f"train.seed={seed}"])
    start = time.perf_counter()
    torch.manual_seed(seed)
    task = MnistTask(recipe, digits, torch.device("cpu"))
    with tempfile.TemporaryDirectory() as run_dir:
        rows = Trainer(task, recipe.train, Path(run_dir), log=lambda _m: None).fit()
    return RunResult(time.perf_counter() - start, rows[-1]["test_accuracy"])


def run_mnist_benchmark(digits, recipes_dir: Path, rounds: int = 2, threads: int = 2):
    """Alternate the two ``rounds`` times; returns (tutorial runs, our runs)."""
    torch.set_num_threads(threads)
    train_x, train_y = digits.train_images.float() / 255, digits.train_labels
    test_x, test_y = digits.test_images.float() / 255, digits.test_labels
    tutorial, ours = [], []
    for round_index in range(rounds):
        tutorial.append(run_tutorial(train_x, train_y, test_x, test_y, seed=round_index))
        ours.append(run_ours(digits, recipes_dir, seed=round_index))
    return tutorial, ours


def format_mnist_table(tutorial: list[RunResult], ours: list[RunResult], source: str) -> str:
    def line(name, runs):
        seconds = statistics.median(r.seconds for r in runs)
        accuracy = statistics.mean(r.accuracy for r in runs)
        return f"{name:<34} {seconds:>8.2f} s {accuracy:>9.2%}", seconds

    first, tutorial_seconds = line("tutorial loop (plain PyTorch)", tutorial)
    second, our_seconds = line("seq2seq mnist-pytorch (trainer)", ours)
    return "\n".join([
        f"MNIST, one epoch, LSTM 64, batch 64, Adam 0.01; data: {source}",
        f"{'':<34} {'median':>10} {'accuracy':>9}",
        first,
        second,
        f"trainer overhead: {our_seconds / tutorial_seconds - 1:+.1%} "
        f"({len(ours)} alternating runs each)",
    ])


def run_process_benchmark(data_dir: Path, rounds: int = 5) -> tuple[list[float], list[float]]:
    """Whole processes, alternately: the tutorial as a program (``python -m
    seq2seq.benchmarks.mnist_tutorial``) against ``seq2seq train mnist-pytorch`` (startup,
    imports, data, training, test pass, plots, checkpoints). Wall seconds of each run."""
    import subprocess
    import sys

    tutorial, ours = [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as run_dir:
            for command, times in (
                    ([sys.executable, "-m", TUTORIAL_PROGRAM, str(data_dir)], tutorial),
                    ([sys.executable, "-m", "seq2seq", "train", "mnist-pytorch", "--data-dir",
                      str(data_dir), "--threads", "2", "--out", f"{run_dir}/run"], ours)):
                start = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True)
                times.append(time.perf_counter() - start)
    return tutorial, ours


def format_process_table(tutorial: list[float], ours: list[float]) -> str:
    first, second = statistics.median(tutorial), statistics.median(ours)
    return "\n".join([
        f"whole process, {len(ours)} alternating runs each (median, min-max):",
        f"{'tutorial program (plain PyTorch)':<34} {first:>8.2f} s "
        f"({min(tutorial):.2f}-{max(tutorial):.2f})",
        f"{'seq2seq train mnist-pytorch':<34} {second:>8.2f} s ({min(ours):.2f}-{max(ours):.2f})",
        f"whole-process overhead: {second / first - 1:+.1%}",
    ])
