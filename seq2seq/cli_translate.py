"""``seq2seq train | translate | summary``: the translator's commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seq2seq.cli_common import RECIPES, prepare_run, run_training, training_options
from seq2seq.errors import UserError

SHOWN_EXAMPLES = 5


def _load_splits(recipe):
    from seq2seq.data.pairs import load_pair_splits

    return load_pair_splits(recipe.data)


@click.command("train")
@click.argument("recipe", required=False)
@training_options
def train(recipe, overrides, run_dir, resume_dir, threads, device, bf16) -> None:
    """Train a translator from RECIPE (a name in recipes/ or a path; default: demo)."""
    from seq2seq.tasks.translation import TranslationRecipe, TranslationTask, load_tokenizers
    from seq2seq.trainer import Trainer, pick_device

    config, run_dir, resuming = prepare_run(TranslationRecipe, recipe, "demo", overrides,
                                            run_dir, resume_dir, threads, device, bf16)
    splits = _load_splits(config)
    click.echo(f"data: {splits.source}: {len(splits.train):,} training pairs, "
               f"{len(splits.valid):,} validation, {len(splits.test):,} test"
               + (f"; {splits.skipped} bad lines skipped" if splits.skipped else "")
               + (f"; {splits.filtered} over the length limits" if splits.filtered else ""))
    tokenizers = load_tokenizers(run_dir) if resuming else None
    task = TranslationTask(config, splits, pick_device(config.train.device), tokenizers)
    click.echo(f"vocabulary: {len(task.source)} source, {len(task.target)} target symbols")
    trainer = Trainer(task, config.train, run_dir, log=click.echo)
    run_training(trainer, resuming, "seq2seq train")
    _show_examples(run_dir, splits)


def _show_examples(run_dir: Path, splits) -> None:
    """A few validation translations from the best checkpoint, and its scores."""
    from seq2seq.tasks.translation import load_translator, translate

    recipe, model, source, target, path = load_translator(run_dir)
    pairs = splits.valid[:: max(1, len(splits.valid) // SHOWN_EXAMPLES)][:SHOWN_EXAMPLES]
    outputs = translate(model, source, target, [p.src for p in pairs], recipe.decode,
                        next(model.parameters()).device)
    click.echo(f"best checkpoint: {path}")
    for pair, output in zip(pairs, outputs):
        click.echo(f"  {pair.src}\n    -> {output}\n    (reference: {pair.tgt})")
    best = [row for row in _metrics(run_dir) if row["step"] == int(path.name.split("-")[-1])]
    if best:
        scores = {k: v for k, v in best[-1].items() if k.startswith("valid_")}
        click.echo("scores: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))


def _metrics(run_dir: Path) -> list[dict]:
    import json

    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line] \
        if path.exists() else []


@click.command("translate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--input", "input_path", type=click.Path(path_type=Path),
              help="A file of source sentences, one per line (default: standard input).")
@click.option("--batch-size", type=int, help="Sentences per decoding batch.")
def translate_command(run_dir, input_path, batch_size) -> None:
    """Translate lines (stdin or --input) with RUN_DIR's best model, one output line each."""
    from seq2seq.tasks.translation import load_translator, translate

    recipe, model, source, target, _ = load_translator(run_dir)
    if batch_size is not None:
        if batch_size < 1:
            raise UserError(f"--batch-size: expected a positive integer, got {batch_size}")
        recipe.decode.batch_size = batch_size
    lines = _read_lines(input_path)
    outputs = translate(model, source, target, lines, recipe.decode,
                        next(model.parameters()).device)
    sys.stdout.write("".join(output + "\n" for output in outputs))
    if source.unknown_count:
        click.echo(f"note: {source.unknown_count} unknown source symbol(s) read as <unk>",
                   err=True)


def _read_lines(path: Path | None) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8") if path else sys.stdin.read()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{path or '<stdin>'}: not UTF-8 text ({error.reason} at byte "
                        f"{error.start})") from None
    return text.splitlines()


@click.command("summary")
@click.argument("recipe", required=False)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe key (repeatable).")
def summary_command(recipe, overrides) -> None:
    """Print RECIPE's translator as a Keras-style table (vocabularies from its data)."""
    import torch

    from seq2seq.config import find_recipe, load_recipe
    from seq2seq.core import summary
    from seq2seq.tasks.translation import TranslationRecipe, TranslationTask

    config = load_recipe(TranslationRecipe, find_recipe(recipe or "demo", RECIPES), overrides)
    task = TranslationTask(config, _load_splits(config), torch.device("cpu"))
    src = torch.ones(2, 7, dtype=torch.long)
    tgt = torch.ones(2, 9, dtype=torch.long)
    summary(task.model, inputs=[src, torch.tensor([7, 5]), tgt], print_fn=click.echo)
