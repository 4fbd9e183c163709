"""``seq2seq bench precision``: a translation recipe's first training steps in fp32, bf16
autocast and fp16 with loss scaling, side by side.

Each precision trains from the same seed (so the same initial weights and the same
batches) for the first ``steps`` batches of the first epoch, through the real trainer,
then evaluates once. The table gives the mean training loss over those steps, the
validation loss after them and training tokens/s. A precision the device cannot run is
listed with the trainer's reason (bf16 where it is not native, fp16 off CUDA).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from seq2seq.base.errors import UserError
from seq2seq.config import find_recipe, load_recipe

PRECISIONS = {
    "fp32": ["train.bf16=false", "train.fp16=false"],
    "bf16": ["train.bf16=true", "train.fp16=false"],
    "fp16": ["train.bf16=false", "train.fp16=true"],
}


class FirstSteps:
    """A task whose every epoch is its first ``steps`` batches; all else is the task's."""

    def __init__(self, task, steps: int) -> None:
        self._task, self._steps = task, steps

    def __getattr__(self, name: str):
        return getattr(self._task, name)

    def batches(self, epoch: int, seed: int):
        return self._task.batches(epoch, seed)[: self._steps]


@dataclass
class PrecisionRun:
    precision: str
    train_loss: float | None = None
    valid_loss: float | None = None
    tokens_per_second: float | None = None
    not_run: str = ""  # why, when the device cannot run this precision


def run_precision_benchmark(recipe_name: str, recipes_dir: Path, overrides: list[str],
                            steps: int, device: str, threads: int,
                            out: Path | None = None) -> tuple[list[PrecisionRun], str]:
    """One :class:`PrecisionRun` per precision, and the data description. With ``out``, the
    runs are kept in ``out/fp32``, ``out/bf16`` and ``out/fp16``."""
    from seq2seq.tasks.translation import TranslationRecipe, TranslationTask, load_splits
    from seq2seq.trainer import Trainer, pick_device

    torch.set_num_threads(threads)
    settings = [*overrides, "train.epochs=1", "train.early_stopping_patience=0",
                "train.max_minutes=0", f"train.device={device}"]
    base = load_recipe(TranslationRecipe, find_recipe(recipe_name, recipes_dir), settings)
    splits = load_splits(base.data)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, precision in PRECISIONS.items():
            recipe = load_recipe(TranslationRecipe, find_recipe(recipe_name, recipes_dir),
                                 [*settings, *precision])
            torch.manual_seed(recipe.train.seed)
            task = TranslationTask(recipe, splits, pick_device(recipe.train.device))
            run_dir = (out or Path(scratch)) / name
            try:
                trainer = Trainer(FirstSteps(task, steps), recipe.train, run_dir,
                                  log=lambda _m: None)
            except UserError as error:
                results.append(PrecisionRun(name, not_run=str(error)))
                continue
            tokens = sum(task.train_lengths[i][1]
                         for batch in task.batches(0, recipe.train.seed)[:steps] for i in batch)
            row = trainer.fit()[-1]
            results.append(PrecisionRun(name, row["train_loss"], row["valid_loss"],
                                        tokens / row["train_seconds"]))
    return results, splits.source


def format_precision_table(recipe_name: str, results: list[PrecisionRun], source: str,
                           steps: int, device: str) -> str:
    lines = [f"{recipe_name} on {device}: {source}; the first {steps} training steps from one "
             f"seed, then one evaluation",
             f"{'precision':<10} {'train loss':>10} {'valid loss':>10} {'tok/s':>10}"]
    for run in results:
        if run.not_run:
            lines.append(f"{run.precision:<10} not run: {run.not_run}")
        else:
            lines.append(f"{run.precision:<10} {run.train_loss:>10.4f} {run.valid_loss:>10.4f} "
                         f"{run.tokens_per_second:>10,.0f}")
    return "\n".join(lines)
