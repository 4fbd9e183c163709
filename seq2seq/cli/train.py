"""``seq2seq train | evaluate | summary`` for every task: the recipe (or the run) names it.

The older spellings stay as aliases: ``fill-train`` and ``mnist train`` are ``train``
(with their tasks' default recipes), ``fill-eval`` and ``mnist eval`` are ``evaluate``.
"""

from __future__ import annotations

from pathlib import Path

import click

from seq2seq import preload
from seq2seq.base.errors import UserError
from seq2seq.cli.common import prepare_run, run_training, training_options
from seq2seq.tasks import check_options, is_other_task, task_spec

DEFAULT_RECIPE = "demo"
DATA_DIR = click.option("--data-dir", type=click.Path(path_type=Path),
                        help="mnist: a directory of IDX files (sets data.dir).")


def _train(recipe, overrides, run_dir, resume_dir, threads, device, bf16, data_dir,
           default_recipe: str, expected_task: str | None = None) -> None:
    config, run_dir, resuming = prepare_run(recipe, default_recipe, overrides, run_dir,
                                            resume_dir, threads, device, bf16, expected_task)
    spec = task_spec(config.task)
    check_options(spec, {"--data-dir": data_dir}, "train_options")
    # what the optimizer's first step and loss.png import, while the data is read
    preload.import_in_background(*preload.OPTIMIZER, *preload.PLOTS)
    spec.train(config, run_dir, resuming, {"data_dir": data_dir},
               lambda trainer: run_training(trainer, resuming, "seq2seq train"), click.echo)


@click.command("train")
@click.argument("recipe", required=False)
@training_options
@DATA_DIR
def train(recipe, overrides, run_dir, resume_dir, threads, device, bf16, data_dir) -> None:
    """Train a model from RECIPE (a name in recipes/ or a path; default: demo), of the task
    the recipe names (translation, mnist or fill); or continue one with --resume RUN_DIR."""
    _train(recipe, overrides, run_dir, resume_dir, threads, device, bf16, data_dir,
           DEFAULT_RECIPE)


@click.command("fill-train")
@click.argument("recipe", required=False)
@training_options
def fill_train(recipe, overrides, run_dir, resume_dir, threads, device, bf16) -> None:
    """Alias of `train` for fill recipes (default: fill-demo)."""
    _train(recipe, overrides, run_dir, resume_dir, threads, device, bf16, None, "fill-demo",
           "fill")


@click.command("train")
@click.argument("recipe", required=False)
@training_options
@DATA_DIR
def mnist_train(recipe, overrides, run_dir, resume_dir, threads, device, bf16, data_dir) -> None:
    """Alias of `seq2seq train` for mnist recipes (default: mnist)."""
    _train(recipe, overrides, run_dir, resume_dir, threads, device, bf16, data_dir, "mnist",
           "mnist")


def evaluate_options(command):
    for option in reversed([
        click.argument("run_dir", type=click.Path(path_type=Path)),
        click.option("--data", "data_path", type=click.Path(path_type=Path),
                     help="translation: held-out pairs (tsv, csv or jsonl, as the recipe's)."),
        click.option("--split", type=click.Choice(["valid", "test"]),
                     help="translation, instead of --data: the run's own held-out split, as "
                          "its recipe makes it."),
        click.option("--beam", type=int, help="translation: beam size (1: greedy)."),
        click.option("--alpha", type=float, help="translation: GNMT length normalisation."),
        click.option("--metrics", "metric_list",
                     help="translation, comma-separated (default bleu,chrf): bleu, chrf, ter, "
                          "wer, per, cer, exact, ser."),
        click.option("--samples", type=int,
                     help="translation: also show this many distinct sources with their "
                          "output and references, spread evenly (the first, then every "
                          "(distinct sources // N)-th)."),
        click.option("--nbest", type=int,
                     help="fill: count an answer found among this many candidates (default 5)."),
        click.option("--ensemble", "ensemble", multiple=True, metavar="RUN_DIR",
                     type=click.Path(path_type=Path),
                     help="translation: another run trained on the same data, decoding "
                          "together with RUN_DIR's model (their mean log-probabilities; "
                          "repeatable)."),
        DATA_DIR,
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="translation, fill: override the run's data settings, e.g. "
                          "data.path=... (to find the data)."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object."),
    ]):
        command = option(command)
    return command


# evaluate's options that a task may not take, by parameter name: the flag errors name
EVALUATE_FLAGS = {"data_path": "--data", "split": "--split", "beam": "--beam",
                  "alpha": "--alpha", "metric_list": "--metrics", "samples": "--samples",
                  "nbest": "--nbest", "data_dir": "--data-dir", "overrides": "--set",
                  "ensemble": "--ensemble"}


def _evaluate(run_dir, expected_task: str | None = None, **options) -> None:
    from seq2seq import checkpoint
    from seq2seq.runs import read_saved_recipe

    task = read_saved_recipe(checkpoint.resolve(run_dir, "best")).task
    if is_other_task(task, expected_task):
        raise UserError(f"{run_dir}: a {task} run; expected a {expected_task} run "
                        f"(use seq2seq evaluate)")
    spec = task_spec(task)
    check_options(spec, {flag: options[name] for name, flag in EVALUATE_FLAGS.items()},
                  "evaluate_options")
    spec.evaluate(run_dir, options, click.echo)


@click.command("evaluate")
@evaluate_options
def evaluate(**options) -> None:
    """Score RUN_DIR's best model, of any task: translation on --data or --split (single- and
    multi-reference), fill-in on its held-out blanks (top-1 and top-k), mnist on the test
    images."""
    _evaluate(**options)


@click.command("fill-eval")
@evaluate_options
def fill_eval(**options) -> None:
    """Alias of `evaluate` for fill runs."""
    _evaluate(**options, expected_task="fill")


@click.command("eval")
@evaluate_options
def mnist_eval(**options) -> None:
    """Alias of `seq2seq evaluate` for mnist runs."""
    _evaluate(**options, expected_task="mnist")


@click.command("summary")
@click.argument("recipe", required=False)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe key (repeatable).")
def summary(recipe, overrides) -> None:
    """Print RECIPE's model as a Keras-style table, any task (vocabularies from its data)."""
    from seq2seq.runs import load_task_recipe

    config = load_task_recipe(recipe or DEFAULT_RECIPE, overrides)
    task_spec(config.task).summary(config, click.echo)
