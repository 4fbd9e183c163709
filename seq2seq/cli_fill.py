"""``seq2seq fill-train | fill``: the fill-in-the-blank model's commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seq2seq.cli_common import check_positive, prepare_run, run_training, training_options
from seq2seq.errors import UserError

SHOWN_EXAMPLES = 5


@click.command("fill-train")
@click.argument("recipe", required=False)
@training_options
def fill_train(recipe, overrides, run_dir, resume_dir, threads, device, bf16) -> None:
    """Train a fill-in-the-blank model from RECIPE (a name in recipes/ or a path; default:
    fill-demo)."""
    from seq2seq.data.blanks import load_blank_splits
    from seq2seq.tasks.blank_filling import TOKENIZER, FillRecipe, FillTask
    from seq2seq.tokenizers import load_tokenizer
    from seq2seq.trainer import Trainer, pick_device

    config, run_dir, resuming = prepare_run(FillRecipe, recipe, "fill-demo", overrides,
                                            run_dir, resume_dir, threads, device, bf16)
    splits = load_blank_splits(config.data)
    click.echo(f"data: {splits.source}: {len(splits.train):,} training sentences, "
               f"{len(splits.valid):,} held out"
               + (f"; {splits.dropped:,} repeated or unusable dropped" if splits.dropped else ""))
    tokenizer = load_tokenizer(run_dir, TOKENIZER) if resuming else None
    task = FillTask(config, splits, pick_device(config.train.device), tokenizer)
    parameters = sum(p.numel() for p in task.model.parameters())
    context = {"both": "left and right context", "forward": "left context only",
               "backward": "right context only"}[config.model.direction]
    click.echo(f"vocabulary: {len(task.tokenizer)} symbols; model: {context}, "
               f"{parameters:,} parameters")
    trainer = Trainer(task, config.train, run_dir, log=click.echo)
    run_training(trainer, resuming, "seq2seq fill-train")
    _show_examples(run_dir, splits)


def _show_examples(run_dir: Path, splits) -> None:
    """A few held-out blanks filled by the best checkpoint."""
    import dataclasses

    from seq2seq.data.blanks import show
    from seq2seq.tasks.blank_filling import fill_blanks, load_filler

    recipe, model, tokenizer, path = load_filler(run_dir)
    shown = splits.valid[:: max(1, len(splits.valid) // SHOWN_EXAMPLES)][:SHOWN_EXAMPLES]
    greedy = dataclasses.replace(recipe.decode, beam_size=1, nbest=1, alpha=0.0)
    found = fill_blanks(model, tokenizer, [b.text for b in shown], greedy)
    click.echo(f"best checkpoint: {path}")
    for blanked, candidates in zip(shown, found):
        click.echo(f"  {show(blanked.text, recipe.data.blank)}\n"
                   f"    -> {candidates[0].text!r} (answer: {blanked.answer!r})")


@click.command("fill")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("text", required=False)
@click.option("--nbest", type=int, default=1, show_default=True,
              help="Candidates per sentence, most probable first.")
@click.option("--beam", type=int,
              help="Beam size (default: the run's decode.beam_size, at least --nbest).")
def fill(run_dir, text, nbest, beam) -> None:
    """Fill the blank in TEXT (or in each line of standard input) with RUN_DIR's best model.

    The blank is written ____ (the run's data.blank), exactly once per sentence. Prints each
    sentence, then its candidates with their probabilities under the model.
    """
    import dataclasses

    from seq2seq.data.blanks import mark_blank
    from seq2seq.tasks.blank_filling import fill_blanks, load_filler

    check_positive(("--nbest", nbest), ("--beam", beam))
    if beam is not None and nbest > beam:
        raise UserError(f"--nbest: expected at most --beam ({beam}), got {nbest}")
    recipe, model, tokenizer, _ = load_filler(run_dir)
    lines = [text] if text is not None else sys.stdin.read().split("\n")
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise UserError(f"no sentence given; write one with {recipe.data.blank!r} where the "
                        f"missing text goes")
    texts = [mark_blank(line, recipe.data.blank, f"line {number}") for number, line in numbered]
    config = dataclasses.replace(recipe.decode, nbest=nbest,
                                 beam_size=beam or max(recipe.decode.beam_size, nbest))
    for (_, line), candidates in zip(numbered, fill_blanks(model, tokenizer, texts, config)):
        click.echo(line.strip())
        for candidate in candidates:
            click.echo(f"  {candidate.probability:9.3g}  {candidate.text or '(nothing)'}")
    if tokenizer.unknown_count:
        click.echo(f"note: {tokenizer.unknown_count} unknown symbol(s) read as <unk>", err=True)


@click.command("fill-eval")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--nbest", type=int, default=5, show_default=True,
              help="Count an answer found among this many candidates (top-k).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override the run's data settings, e.g. data.path=... (to find the data).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def fill_eval(run_dir, nbest, overrides, as_json) -> None:
    """Top-1 and top-k exact match of RUN_DIR's best model on its held-out blanks."""
    import json

    from seq2seq.config import override_section
    from seq2seq.data.blanks import load_blank_splits
    from seq2seq.tasks.blank_filling import held_out_accuracy, load_filler

    check_positive(("--nbest", nbest))
    recipe, model, tokenizer, path = load_filler(run_dir)
    splits = load_blank_splits(override_section(recipe.data, "data", list(overrides)))
    report = {"checkpoint": str(path), "direction": recipe.model.direction,
              **held_out_accuracy(model, tokenizer, splits.valid, recipe.decode, nbest)}
    if as_json:
        click.echo(json.dumps(report))
    else:
        click.echo(f"{report['sentences']:,} held-out blanks ({report['direction']}): "
                   f"top-1 {report['top1']:.2%}, top-{nbest} {report[f'top{nbest}']:.2%}")
