"""The fill-in-the-blank model's side of ``train`` and ``evaluate``, and ``fill``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seq2seq.base.errors import UserError
from seq2seq.cli.common import check_positive, check_utf8, input_stream, run_training

SHOWN_EXAMPLES = 5
CHUNK_SENTENCES = 2048  # fill reads this many lines at a time


def train_fill(config, run_dir: Path, resuming: bool) -> None:
    from seq2seq.data.blanks import load_blank_splits
    from seq2seq.tasks.blank_filling import FillTask, load_fill_tokenizer
    from seq2seq.trainer import Trainer, pick_device

    splits = load_blank_splits(config.data)
    click.echo(f"data: {splits.source}: {len(splits.train):,} training sentences, "
               f"{len(splits.valid):,} held out"
               + (f"; {splits.dropped:,} repeated or unusable dropped" if splits.dropped else ""))
    tokenizer = load_fill_tokenizer(run_dir) if resuming else None
    task = FillTask(config, splits, pick_device(config.train.device), tokenizer)
    parameters = sum(p.numel() for p in task.model.parameters())
    context = {"both": "left and right context", "forward": "left context only",
               "backward": "right context only"}[config.model.direction]
    click.echo(f"vocabulary: {len(task.tokenizer)} symbols; model: {context}, "
               f"{parameters:,} parameters")
    trainer = Trainer(task, config.train, run_dir, log=click.echo)
    run_training(trainer, resuming, "seq2seq train")
    _show_examples(run_dir, splits)


def _show_examples(run_dir: Path, splits) -> None:
    """A few held-out blanks filled by the best checkpoint."""
    import dataclasses

    from seq2seq.data.blanks import show
    from seq2seq.runs import load_run
    from seq2seq.tasks.blank_filling import fill_blanks

    run = load_run(run_dir, expected_task="fill")
    shown = splits.valid[:: max(1, len(splits.valid) // SHOWN_EXAMPLES)][:SHOWN_EXAMPLES]
    greedy = dataclasses.replace(run.recipe.decode, beam_size=1, nbest=1, alpha=0.0)
    found = fill_blanks(run.model, run.tokenizers["text"], [b.text for b in shown], greedy)
    click.echo(f"best checkpoint: {run.checkpoint}")
    for blanked, candidates in zip(shown, found):
        click.echo(f"  {show(blanked.text, run.recipe.data.blank)}\n"
                   f"    -> {candidates[0].text!r} (answer: {blanked.answer!r})")


def evaluate_fill(run_dir: Path, nbest, overrides, as_json) -> None:
    """Top-1 and top-k exact match of RUN_DIR's best model on its held-out blanks."""
    import json

    from seq2seq.config import override_section
    from seq2seq.data.blanks import load_blank_splits
    from seq2seq.runs import check_held_out_overrides, load_run
    from seq2seq.tasks.blank_filling import held_out_accuracy

    nbest = 5 if nbest is None else nbest
    check_positive(("--nbest", nbest))
    run = load_run(run_dir, expected_task="fill")
    check_held_out_overrides(run.recipe.data, list(overrides))
    # the top-k search widens the run's beam to --nbest
    search = run.recipe.decode.changed({"beam_size": "--nbest", "nbest": "--nbest"},
                                       nbest=nbest,
                                       beam_size=max(run.recipe.decode.beam_size, nbest))
    splits = load_blank_splits(override_section(run.recipe.data, "data", list(overrides)))
    report = {"checkpoint": str(run.checkpoint), "direction": run.recipe.model.direction,
              **held_out_accuracy(run.model, run.tokenizers["text"], splits.valid,
                                  search, nbest)}
    if as_json:
        click.echo(json.dumps(report))
    else:
        click.echo(f"{report['sentences']:,} held-out blanks ({report['direction']}): "
                   f"top-1 {report['top1']:.2%}, top-{nbest} {report[f'top{nbest}']:.2%}")


def summary_fill(config) -> None:
    import torch

    from seq2seq.core import summary
    from seq2seq.data.blanks import load_blank_splits
    from seq2seq.tasks.blank_filling import FillTask

    task = FillTask(config, load_blank_splits(config.data), torch.device("cpu"))
    blank = task.model.blank_id
    src = torch.tensor([[5, 6, blank, 7, 8, 9, 5], [6, blank, 5, 7, 8, 0, 0]])
    tgt = torch.ones(2, 4, dtype=torch.long)
    summary(task.model, inputs=[src, torch.tensor([7, 5]), tgt], print_fn=click.echo)


def _numbered(lines):
    """``(line number, line)`` of each non-blank line, and the input's pauses (``None``)."""
    number = 0
    for line in lines:
        if line is None:
            yield None
            continue
        number += 1
        if line.strip():
            yield number, line


@click.command("fill")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("text", required=False)
@click.option("--input", "input_path", type=click.Path(path_type=Path),
              help="A file of sentences, one per line (default: TEXT, else standard input).")
@click.option("--nbest", type=int, default=1, show_default=True,
              help="Candidates per sentence, most probable first.")
@click.option("--beam", type=int,
              help="Beam size (default: the run's decode.beam_size, at least --nbest).")
def fill(run_dir, text, input_path, nbest, beam) -> None:
    """Fill the blank in TEXT (or in each line of --input or standard input) with RUN_DIR's
    best model.

    The blank is written ____ (the run's data.blank), exactly once per sentence. Prints each
    sentence, then its candidates with their probabilities under the model. Input is read
    and answered a chunk of lines at a time, so any input size runs in bounded memory.
    """
    from seq2seq.data.blanks import mark_blank
    from seq2seq.data.files import chunks, stream_lines
    from seq2seq.runs import load_run
    from seq2seq.tasks.blank_filling import fill_blanks

    check_positive(("--nbest", nbest), ("--beam", beam))
    if beam is not None and nbest > beam:
        raise UserError(f"--nbest: expected at most --beam ({beam}), got {nbest}")
    if text is not None and input_path is not None:
        raise UserError("fill: give TEXT or --input FILE, not both")
    run = load_run(run_dir, expected_task="fill")
    recipe, tokenizer = run.recipe, run.tokenizers["text"]
    # without --beam, the beam widens to --nbest: a beam too wide is --nbest's doing
    config = recipe.decode.changed({"beam_size": "--beam" if beam else "--nbest",
                                    "nbest": "--nbest"},
                                   nbest=nbest, beam_size=beam or max(recipe.decode.beam_size,
                                                                      nbest))
    if text is not None:
        lines, name = iter([check_utf8(text, "TEXT")]), "TEXT"
    else:
        stream, name = input_stream(input_path)
        lines = stream_lines(stream, name, pauses=True)
    numbered = _numbered(lines)
    seen = 0
    for chunk in chunks(numbered, CHUNK_SENTENCES):
        texts = [mark_blank(line, recipe.data.blank,
                            f"{name}:{number}" if input_path else f"line {number}")
                 for number, line in chunk]
        for (_, line), candidates in zip(chunk, fill_blanks(run.model, tokenizer, texts,
                                                              config)):
            click.echo(line.strip())
            for candidate in candidates:
                click.echo(f"  {candidate.probability:9.3g}  {candidate.text or '(nothing)'}")
            if not candidates:
                click.echo("  (no candidate: decode.min_len and decode.no_repeat_ngram forbid "
                           "every answer)")
        seen += len(chunk)
        sys.stdout.flush()
    if not seen:
        raise UserError(f"no sentence given; write one with {recipe.data.blank!r} where the "
                        f"missing text goes")
    if tokenizer.unknown_count:
        click.echo(f"note: {tokenizer.unknown_count} unknown symbol(s) read as <unk>", err=True)
