"""``seq2seq bench train``: seconds per training epoch of a translation recipe.

Runs the recipe through the real trainer for a few epochs in a temporary run directory
and reports, per epoch, the seconds spent in training steps (what Keras reports as the
epoch time, less its validation-loss pass) and in evaluation, and target tokens/s.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from seq2seq.config import find_recipe, load_recipe


def run_train_benchmark(recipe_name: str, recipes_dir: Path, overrides: list[str],
                        epochs: int, threads: int) -> tuple[list[dict], str, int]:
    """Metrics rows of ``epochs`` epochs, the data description, and tokens per epoch."""
    from seq2seq.tasks.translation import TranslationRecipe, TranslationTask, load_splits
    from seq2seq.trainer import Trainer

    torch.set_num_threads(threads)
    recipe = load_recipe(TranslationRecipe, find_recipe(recipe_name, recipes_dir),
                         [*overrides, f"train.epochs={epochs}", "train.early_stopping_patience=0"])
    torch.manual_seed(recipe.train.seed)
    splits = load_splits(recipe.data)
    task = TranslationTask(recipe, splits, torch.device("cpu"))
    tokens = sum(target for _, target in task.train_lengths)
    with tempfile.TemporaryDirectory() as run_dir:
        rows = Trainer(task, recipe.train, Path(run_dir), log=lambda _m: None).fit()
    return rows, splits.source, tokens


def format_train_table(recipe_name: str, rows: list[dict], source: str, tokens: int,
                       threads: int) -> str:
    lines = [f"{recipe_name}: {source}; {tokens:,} target tokens per epoch; {threads} threads",
             f"{'epoch':>5} {'train s':>8} {'tok/s':>8} {'eval s':>7} {'valid loss':>10}"]
    for row in rows:
        lines.append(f"{row['epoch']:>5} {row['train_seconds']:>8.2f} "
                     f"{tokens / row['train_seconds']:>8,.0f} {row['eval_seconds']:>7.2f} "
                     f"{row['valid_loss']:>10.4f}")
    steady = sorted(row["train_seconds"] for row in rows[1:] or rows)
    lines.append(f"median training time per epoch (after the first): "
                 f"{steady[len(steady) // 2]:.2f} s")
    return "\n".join(lines)
