"""``seq2seq train | translate | summary``: the translator's commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seq2seq.cli_common import RECIPES, check_positive, prepare_run, run_training, training_options
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
    from seq2seq import checkpoint
    from seq2seq.trainer import read_metrics
    from seq2seq.translator import Translator

    path = checkpoint.resolve(run_dir, "best")
    translator = Translator.from_pretrained(path)
    pairs = splits.valid[:: max(1, len(splits.valid) // SHOWN_EXAMPLES)][:SHOWN_EXAMPLES]
    outputs = translator.translate([p.src for p in pairs])
    click.echo(f"best checkpoint: {path}")
    for pair, output in zip(pairs, outputs):
        click.echo(f"  {pair.src}\n    -> {output}\n    (reference: {pair.tgt})")
    best = [row for row in read_metrics(run_dir) if row["step"] == checkpoint.step_of(path)]
    if best:
        scores = {k: v for k, v in best[-1].items() if k.startswith("valid_")}
        click.echo("scores: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))


@click.command("translate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--input", "input_path", type=click.Path(path_type=Path),
              help="A file of source sentences, one per line (default: standard input).")
@click.option("--beam", type=int, help="Beam size (1: greedy).")
@click.option("--nbest", type=int, default=1, show_default=True,
              help="Hypotheses per sentence (at most the beam size).")
@click.option("--alpha", type=float, help="GNMT length normalisation (0: raw log-prob).")
@click.option("--batch-size", type=int, help="Sentences per decoding batch.")
@click.option("--max-len-ratio", type=float, help="Output length limit, times the source's.")
@click.option("--format", "output_format", type=click.Choice(["text", "jsonl"]), default="text",
              show_default=True, help="text: the best (or n-best, tab-separated) per line; "
              "jsonl: the source and its hypotheses with scores.")
def translate_command(run_dir, input_path, beam, nbest, alpha, batch_size, max_len_ratio,
                      output_format) -> None:
    """Translate lines (stdin or --input) with RUN_DIR's best model, one output line each."""
    import json

    from seq2seq.translator import Translator

    check_positive(("--beam", beam), ("--nbest", nbest), ("--batch-size", batch_size))
    translator = Translator.from_pretrained(run_dir)
    lines = _read_lines(input_path)
    found = translator.translate(lines, beam=beam, nbest=nbest, alpha=alpha, scores=True,
                                 batch_size=batch_size, max_len_ratio=max_len_ratio)
    for line, hypotheses in zip(lines, found):
        if output_format == "jsonl":
            record = {"source": line, "hypotheses": [
                {"text": h.text, "score": round(h.score, 4),
                 "normalized_score": round(h.normalized_score, 4)} for h in hypotheses]}
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write("\t".join(h.text for h in hypotheses) + "\n")
    if translator.source.unknown_count:
        click.echo(f"note: {translator.source.unknown_count} unknown source symbol(s) read as "
                   "<unk>", err=True)


@click.command("evaluate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--data", "data_path", type=click.Path(path_type=Path),
              help="Held-out pairs (tsv, csv or jsonl, as the recipe's data).")
@click.option("--split", type=click.Choice(["valid", "test"]),
              help="Instead of --data: the run's own held-out split, as its recipe makes it.")
@click.option("--beam", type=int, help="Beam size (1: greedy).")
@click.option("--alpha", type=float, help="GNMT length normalisation.")
@click.option("--metrics", "metric_list", default="bleu,chrf", show_default=True,
              help="Comma-separated: bleu, chrf, ter, wer, per, cer, exact, ser.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_command(run_dir, data_path, split, beam, alpha, metric_list, as_json) -> None:
    """Score RUN_DIR's best model on --data or --split, single- and multi-reference."""
    import dataclasses
    import json

    from seq2seq import metrics
    from seq2seq.data.pairs import read_pairs
    from seq2seq.evaluation import evaluate_pairs, format_report
    from seq2seq.translator import Translator

    names = [name.strip() for name in metric_list.split(",") if name.strip()]
    unknown = sorted(set(names) - set(metrics.METRICS))
    if unknown or not names:
        raise UserError(f"--metrics: unknown {unknown or names}; valid: {sorted(metrics.METRICS)}")
    check_positive(("--beam", beam))
    if (data_path is None) == (split is None):
        raise UserError("evaluate: give either --data FILE or --split valid|test")
    translator = Translator.from_pretrained(run_dir)
    if data_path is not None:
        pairs, _ = read_pairs(data_path, translator.recipe.data)
    else:
        pairs = getattr(_load_splits(translator.recipe), split)
        if not pairs:
            how = "data.valid_path or data.valid_fraction" if split == "valid" else (
                "data.test_path, or data.test_fraction for cmudict")
            raise UserError(f"--split {split}: {run_dir}'s recipe holds out no {split} pairs "
                            f"(set {how})")
    report = evaluate_pairs(translator, pairs, names,
                            translator.search_config(beam_size=beam, alpha=alpha))
    click.echo(json.dumps(dataclasses.asdict(report)) if as_json else format_report(report))


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
