"""The ``fill`` command (the fill-in task's ``train``, ``evaluate`` and ``summary`` are the
task's: :mod:`seq2seq.tasks.fill`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seq2seq.base.errors import UserError
from seq2seq.cli.common import check_utf8, input_stream
from seq2seq.limits import check_positive

CHUNK_SENTENCES = 2048  # fill reads this many lines at a time


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
    from seq2seq.data.files import chunks, stream_lines
    from seq2seq.data.fill import mark_blank
    from seq2seq.runs import load_run
    from seq2seq.tasks.fill import fill_blanks

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
