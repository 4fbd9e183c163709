"""``seq2seq bench train``: seconds per training epoch of a translation recipe.

Runs the recipe through the real trainer for a few epochs in a temporary run directory
and reports, per epoch, the seconds spent in training steps (what Keras reports as the
epoch time, less its validation-loss pass) and in evaluation, and target tokens/s.
With ``--attention`` it compares the training speed of every attention setting (none;
dot, general and bahdanau, each without and with input feeding) on the recipe's model:
each setting's model trains on the same batches (the first ``--steps`` of the first
epoch) through the trainer's own step, round after round, the settings taking turns
within each round, so that a slow spell of the machine falls on all of them rather
than on whichever setting was training then; each keeps its fastest round.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from seq2seq.base.errors import UserError
from seq2seq.benchmarks.timing import where
from seq2seq.config import find_recipe, load_recipe


def run_train_benchmark(recipe_name: str, recipes_dir: Path, overrides: list[str],
                        epochs: int, threads: int, device: str = "cpu"
                        ) -> tuple[list[dict], str, int]:
    """Metrics rows of ``epochs`` epochs on ``device``, the data description, and tokens
    per epoch."""
    from seq2seq.tasks.translation import TranslationRecipe, TranslationTask, load_splits
    from seq2seq.trainer import Trainer, pick_device

    torch.set_num_threads(threads)
    recipe = load_recipe(TranslationRecipe, find_recipe(recipe_name, recipes_dir),
                         [*overrides, f"train.epochs={epochs}", "train.early_stopping_patience=0",
                          f"train.device={device}"])
    torch.manual_seed(recipe.train.seed)
    splits = load_splits(recipe.data)
    task = TranslationTask(recipe, splits, pick_device(recipe.train.device))
    tokens = sum(target for _, target in task.train_lengths)
    steps = len(task.batches(0, recipe.train.seed))
    with tempfile.TemporaryDirectory() as run_dir:
        rows = Trainer(task, recipe.train, Path(run_dir), log=lambda _m: None).fit()
    for row in rows:
        row["steps"] = steps
    return rows, splits.source, tokens


def format_train_table(recipe_name: str, rows: list[dict], source: str, tokens: int,
                       threads: int, device: str = "cpu") -> str:
    lines = [f"{recipe_name}: {source}; {tokens:,} target tokens per epoch; "
             f"{where(threads, device)}",
             f"{'epoch':>5} {'train s':>8} {'tok/s':>8} {'eval s':>7} {'other s':>8} "
             f"{'epoch s':>8} {'valid loss':>10}"]
    previous = 0.0
    for row in rows:  # "other": the epoch's time outside its training steps and evaluation
        epoch_seconds, previous = row["elapsed_s"] - previous, row["elapsed_s"]
        other = epoch_seconds - row["train_seconds"] - row["eval_seconds"]
        lines.append(f"{row['epoch']:>5} {row['train_seconds']:>8.2f} "
                     f"{tokens / row['train_seconds']:>8,.0f} {row['eval_seconds']:>7.2f} "
                     f"{other:>8.2f} {epoch_seconds:>8.2f} {row['valid_loss']:>10.4f}")
    steady = rows[1:] or rows
    median = lambda values: sorted(values)[len(values) // 2]  # noqa: E731
    train = median([row["train_seconds"] for row in steady])
    outside = median([row["elapsed_s"] - before["elapsed_s"] - row["train_seconds"]
                      for before, row in zip(rows, rows[1:])] or [0.0])
    per_step = 1000 * train / rows[0]["steps"]
    lines.append(f"median training time per epoch (after the first): {train:.2f} s "
                 f"({per_step:.2f} ms per step of {rows[0]['steps']}); outside "
                 f"the training steps (evaluation, checkpoint, plot): {outside:.2f} s "
                 f"({outside / train:.0%} of the steps)")
    return "\n".join(lines)


ATTENTION_VARIANTS = [("none", False), ("dot", False), ("general", False),
                      ("bahdanau", False), ("dot", True), ("general", True),
                      ("bahdanau", True)]


def run_attention_benchmark(recipe_name: str, recipes_dir: Path, overrides: list[str],
                            steps: int, rounds: int, threads: int, device: str = "cpu"
                            ) -> tuple[list[tuple], str, int]:
    """``(attention, input_feeding, training tokens/s)`` per setting (its fastest of
    ``rounds`` rounds of ``steps`` training steps, after one round to warm up), the data
    description and the target tokens of those steps. A setting the recipe's model cannot
    take (``dot`` beside a bidirectional encoder whose directions are concatenated) is not
    run: its speed is the reason instead."""
    from seq2seq.tasks.translation import TranslationRecipe, TranslationTask, load_splits
    from seq2seq.trainer import Trainer, pick_device

    torch.set_num_threads(threads)
    path = find_recipe(recipe_name, recipes_dir)
    fixed = [*overrides, "train.early_stopping_patience=0", f"train.device={device}"]
    splits = load_splits(load_recipe(TranslationRecipe, path, fixed).data)
    tokenizers = None
    contenders, not_run = [], {}
    with tempfile.TemporaryDirectory() as run_dir:
        for kind, feeding in ATTENTION_VARIANTS:
            # both keys, whatever the recipe sets (its own input feeding would stop "none")
            settings = [f"model.attention={kind}", f"model.input_feeding={str(feeding).lower()}"]
            try:
                recipe = load_recipe(TranslationRecipe, path, [*fixed, *settings])
            except UserError as error:
                if kind == "none":  # never, where the recipe itself loaded; no baseline
                    raise
                not_run[kind, feeding] = str(error)
                continue
            torch.manual_seed(recipe.train.seed)
            task = TranslationTask(recipe, splits, pick_device(recipe.train.device), tokenizers)
            tokenizers = task.source, task.target  # every setting reads the same vocabularies
            trainer = Trainer(task, recipe.train, Path(run_dir) / f"{kind}-{feeding}",
                              log=lambda _m: None)
            contenders.append(((kind, feeding), trainer,
                               task.batches(0, recipe.train.seed)[:steps]))
        _, first, timed = contenders[0]  # every setting trains on these same batches
        tokens = sum(first.task.train_lengths[i][1] for batch in timed for i in batch)
        fastest: dict[tuple[str, bool], float] = {}
        for round_index in range(rounds + 1):  # round 0 warms up and is not counted
            for variant, trainer, batches in contenders:
                start = time.perf_counter()
                trainer.train_steps(batches)
                seconds = time.perf_counter() - start
                if round_index:
                    fastest[variant] = min(seconds, fastest.get(variant, float("inf")))
    return ([(kind, feeding, not_run.get((kind, feeding)) or tokens / fastest[kind, feeding])
             for kind, feeding in ATTENTION_VARIANTS], splits.source, tokens)


def format_attention_table(recipe_name: str, results: list[tuple], source: str,
                           threads: int, steps: int, rounds: int, tokens: int) -> str:
    baseline = results[0][2]
    lines = [f"{recipe_name}: {source}; {threads} threads; training tokens/s of the same "
             f"{steps} steps ({tokens:,} target tokens), the settings in turn, fastest of "
             f"{rounds} rounds; ratio to the model without attention",
             f"{'attention':<10} {'input feeding':<14} {'tok/s':>8} {'ratio':>6}"]
    for kind, feeding, speed in results:
        setting = f"{kind:<10} {'yes' if feeding else 'no':<14}"
        if isinstance(speed, str):  # the recipe's model cannot take this setting
            lines.append(f"{setting} not run: {speed}")
        else:
            lines.append(f"{setting} {speed:>8,.0f} {speed / baseline:>6.2f}")
    return "\n".join(lines)
