"""What the commands share: training options, the run directory, resume, Ctrl-C, checks.

Nothing here imports torch at import time: ``seq2seq --help`` must stay fast.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from seq2seq.base.errors import UserError
from seq2seq.limits import MAX_THREADS
from seq2seq.tasks import is_other_task


def training_options(command):
    """``--set``, ``--out``, ``--resume``, ``--threads``, ``--device``, ``--bf16``."""
    options = [
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="Override a recipe key, e.g. --set train.epochs=3 (repeatable)."),
        click.option("--out", "run_dir", type=click.Path(path_type=Path),
                     help="Run directory (checkpoints, metrics.jsonl, plots)."),
        click.option("--resume", "resume_dir", type=click.Path(path_type=Path),
                     help="Continue the run in this directory from its last checkpoint."),
        click.option("--threads", type=int, help="torch threads."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"])),
        click.option("--bf16/--no-bf16", default=None,
                     help="bfloat16 autocast on (an error where the device has no native "
                          "bf16) or off; default: the recipe's train.bf16 (auto: where "
                          "native)."),
    ]
    return functools.reduce(lambda cmd, option: option(cmd), reversed(options), command)


def prepare_run(recipe, default_recipe, overrides, run_dir, resume_dir, threads, device, bf16,
                expected_task: str | None = None):
    """The recipe (any task) and run directory of a new or resumed run; seeds and threads
    set, and the precision chosen and said before any data is read.

    Returns ``(config, run_dir, resuming)``.
    """
    import torch

    from seq2seq.runs import check_new_run_dir, load_task_recipe, read_resumed_recipe
    from seq2seq.trainer import choose_autocast, pick_device

    if resume_dir is not None:
        for name, given in (("RECIPE", recipe), ("--out", run_dir)):
            if given is not None:  # the run's own recipe and directory go on
                raise UserError(f"--resume {resume_dir}: continues that run in its directory "
                                f"with its saved recipe; drop {name} ({given})")
        run_dir = resume_dir
        config = read_resumed_recipe(run_dir, overrides)
    else:
        if run_dir is None:
            raise click.UsageError("give --out RUN_DIR (or --resume RUN_DIR)")
        check_new_run_dir(run_dir)
        config = load_task_recipe(recipe or default_recipe, overrides)
    if is_other_task(config.task, expected_task):
        raise UserError(f"{recipe or run_dir}: a {config.task} recipe; this command trains "
                        f"{expected_task} (use seq2seq train)")
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise UserError(f"--threads: expected 1 to {MAX_THREADS}, got {threads}")
    for name, value in (("threads", threads), ("device", device), ("bf16", bf16)):
        if value is not None:
            setattr(config.train, name, value)
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    _, reason = choose_autocast(config.train, pick_device(config.train.device))
    click.echo(reason)  # before any data is read: a bf16 = true that cannot run fails here
    torch.manual_seed(config.train.seed)
    return config, run_dir, resume_dir is not None


def run_training(trainer, resuming: bool, resume_command: str) -> None:
    """Fit (after resuming if asked); Ctrl-C ends with status 130 and how to continue."""
    from seq2seq.trainer import Interrupted

    if resuming:  # the checkpoints a run reads at its end, checked before it trains
        _check_checkpoints(trainer.run_dir)
    trainer.run_dir.mkdir(parents=True, exist_ok=True)
    trainer.task.save_extra(trainer.run_dir)
    if resuming:
        trainer.resume()
    try:
        trainer.fit()
    except Interrupted as stop:
        click.echo(f"{stop}; continue with: {resume_command} --resume {trainer.run_dir}",
                   err=True)
        raise SystemExit(130) from None


def _check_checkpoints(run_dir: Path) -> None:
    """Both links of a run being resumed lead to a checkpoint inside it with its saved
    recipe: a bad ``best`` link or a checkpoint without its ``config.json`` was found only
    after an epoch's training, by then pruned of the run's only checkpoint."""
    from seq2seq import checkpoint
    from seq2seq.runs import read_saved_recipe

    for which in ("last", "best"):
        read_saved_recipe(checkpoint.resolve(run_dir, which))


def check_utf8(text: str, name: str) -> str:
    """``text``, a command-line argument; bytes in it that are not UTF-8 (which Python
    carries as surrogate escapes) are an error naming ``name``, as in an input file."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        code = ord(text[error.start])
        what = (f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF
                else f"character U+{code:04X}")
        raise UserError(f"{name}: expected UTF-8 text, got {what}") from None
    return text


def input_stream(path: Path | None):
    """The binary stream of ``--input`` (or standard input), for :func:`stream_lines`."""
    if path is None:
        return sys.stdin.buffer, "<stdin>"
    try:
        return path.open("rb"), str(path)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read: {error.strerror or error}") from None
