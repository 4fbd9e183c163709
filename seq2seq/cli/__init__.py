"""The ``seq2seq`` command line: one click group, a subcommand per job.

Subcommands are imported when they run, so that ``seq2seq --help`` and ``--version``
answer without importing torch.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys

import click

from seq2seq import __version__
from seq2seq.base.errors import UserError

# name -> (module, attribute, one line of help shown by --help without importing it)
COMMANDS = {
    "train": ("seq2seq.cli.train", "train",
              "Train a model from a recipe (translation, mnist or fill)."),
    "evaluate": ("seq2seq.cli.train", "evaluate", "Score a run of any task."),
    "summary": ("seq2seq.cli.train", "summary", "Print a recipe's model as a Keras-style table."),
    "translate": ("seq2seq.cli.translation", "translate",
                  "Translate lines with a run's best model, one output line each."),
    "align": ("seq2seq.cli.translation", "align",
              "Draw an attention model's source x output weights for a sentence."),
    "export": ("seq2seq.cli.translation", "export",
               "A translation run as ONNX graphs that translate without torch."),
    "import-keras": ("seq2seq.cli.translation", "import_keras",
                     "A model saved by the Keras lstm_seq2seq example, as a run directory."),
    "fill": ("seq2seq.cli.fill", "fill", "Fill the blank in sentences with a fill-in run."),
    "mnist": ("seq2seq.cli", "mnist_group",
              "mnist predict (and the aliases mnist train, mnist eval)."),
    "bench": ("seq2seq.cli.bench", "bench", "Benchmarks against a reference in one process."),
    "fill-train": ("seq2seq.cli.train", "fill_train", "Alias of train for fill recipes."),
    "fill-eval": ("seq2seq.cli.train", "fill_eval", "Alias of evaluate for fill runs."),
}
MNIST_COMMANDS = {
    "predict": ("seq2seq.cli.mnist", "predict",
                "The digit in each image (PNG/JPG, any size) and its probability."),
    "train": ("seq2seq.cli.train", "mnist_train", "Alias of seq2seq train for mnist recipes."),
    "eval": ("seq2seq.cli.train", "mnist_eval", "Alias of seq2seq evaluate for mnist runs."),
}


class LazyGroup(click.Group):
    """A group whose subcommands (``lazy``: name -> (module, attribute, help)) are imported
    only when one is run or asked for its help."""

    def __init__(self, *args, lazy: dict | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *sorted(set(self.commands) - set(self.lazy))]

    def get_command(self, ctx: click.Context, name: str):
        if name in self.commands:
            return self.commands[name]
        if name not in self.lazy:
            return None
        module, attribute, _ = self.lazy[name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, spec[2]) for name, spec in self.lazy.items()]
        rows += [(name, command.get_short_help_str()) for name, command in
                 sorted(self.commands.items()) if name not in self.lazy]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class Seq2SeqGroup(LazyGroup):
    """Bad input (:class:`UserError`) ends as one line on stderr and exit status 1; so does
    a path the system refuses (a directory where a file goes, no permission, a full disk)."""

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        try:  # --help and --version print while the arguments are parsed
            return super().make_context(info_name, args, parent, **extra)
        except OSError as error:
            if error.errno not in OUTPUT_FULL:
                raise
            _drop_stdout()
            raise click.ClickException(f"writing the output: {error.strerror}") from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as error:
            raise click.ClickException(str(error)) from None
        except (MemoryError, RuntimeError) as error:
            if not _out_of_memory(error):
                raise
            detail = str(error).split("\n")[0].split("can't allocate memory: ")[-1]
            raise click.ClickException(
                f"out of memory ({detail or type(error).__name__}); a smaller model "
                f"(model.units, model.layers), batch (train.batch_size, decode.batch_size) "
                f"or longest sentence (data.max_src_len, data.max_tgt_len) needs less"
            ) from None
        except BrokenPipeError:
            raise
        except OSError as error:
            path = error.filename2 or error.filename  # a rename's target, else the path
            if path is None and error.errno in OUTPUT_FULL:  # standard output, say
                _drop_stdout()
                raise click.ClickException(f"writing the output: {error.strerror}") from None
            if path is None:
                raise
            raise click.ClickException(f"{path}: {error.strerror or error}") from None


def _out_of_memory(error: BaseException) -> bool:
    """A failed allocation: Python's, torch's on CPU, or CUDA's (without importing torch)."""
    return (isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError"
            or "can't allocate memory" in str(error))


# a write that failed for want of room (a full disk, a quota, /dev/full)
OUTPUT_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _drop_stdout() -> None:
    """Point standard output at /dev/null, so that Python's flush at exit does not fail
    a second time on what is left in its buffer."""
    try:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (open until the process ends)
    except OSError:
        pass


@click.group(cls=Seq2SeqGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="seq2seq")
def main() -> None:
    """Character-level sequence learning on one Keras-exact recurrent core."""


@click.group("mnist", cls=LazyGroup, lazy=MNIST_COMMANDS)
def mnist_group() -> None:
    """MNIST read as 28 steps of 28 pixels: predict (train and eval: aliases of seq2seq
    train and seq2seq evaluate)."""
