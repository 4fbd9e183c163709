"""Recipes and run directories of any task, in one place.

A recipe names its task (``task = "translation" | "mnist" | "fill"``, default
translation); :func:`load_task_recipe` reads a recipe file into that task's dataclass, and
:func:`load_run` loads a run (or checkpoint) directory of any task: its saved recipe, its
tokenizers and its model with the checkpoint's weights, each as the task's spec
(:mod:`seq2seq.tasks`) says. The API (``Translator``), the command line and the tasks'
``evaluate`` are built on it.

Example::

    run = load_run("runs/demo")            # Run(task="translation", recipe=..., model=...)
    run.model, run.tokenizers["source"], run.checkpoint
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seq2seq import checkpoint
from seq2seq.base.errors import UserError
from seq2seq.base.files import read_json_object
from seq2seq.config import (
    apply_overrides,
    find_recipe,
    from_mapping,
    parse_override,
    read_toml,
    to_mapping,
)
from seq2seq.runtime.manifest import is_export
from seq2seq.tasks import is_other_task, recipe_type, saved_task, task_of, task_spec

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def load_task_recipe(name_or_path: str, overrides: list[str] = ()) -> Any:
    """A recipe file (a path, or a name in ``recipes/``) with ``--set`` overrides, as the
    dataclass of the task it names."""
    path = find_recipe(name_or_path, RECIPES)
    mapping = apply_overrides(read_toml(path), list(overrides))
    return from_mapping(recipe_type(task_of(mapping, str(path))), mapping)


def read_saved_recipe(directory: Path) -> Any:
    """The recipe saved in a run or checkpoint directory (``config.json``), any task; its
    faults name that file."""
    path = Path(directory) / "config.json"
    mapping = read_json_object(path, "saved recipe")
    mapping.setdefault("task", saved_task(mapping))
    task = task_of(mapping, str(path))
    for table, key in task_spec(task).retired_keys:
        mapping.get(table, {}).pop(key, None)
    try:
        return from_mapping(recipe_type(task), mapping)
    except UserError as error:
        raise UserError(f"{path}: {error}") from None


# What ``--resume --set`` may change: how long the run goes on, where it runs, and where
# its data lies now. Anything else is fixed by the checkpoint (the optimiser and schedule
# states, the vocabularies, the model, the evaluations that early stopping compares): a
# change would be written to config.json and silently not take effect.
# where a run's data lies: the keys that may change without changing which data it is
DATA_LOCATION_KEYS = ("data.path", "data.valid_path", "data.test_path", "data.hf", "data.dir",
                      "data.hub")
RESUMABLE_KEYS = ("train.epochs", "train.max_minutes", "train.early_stopping_patience",
                  "train.threads", "train.device", "train.bf16", *DATA_LOCATION_KEYS)


def check_held_out_overrides(data_config: Any, overrides: list[str]) -> None:
    """``--set`` on a run's own held-out data may say only where that data lies now (the
    location keys its ``[data]`` table has): anything else would change which sentences
    are held out, and score training sentences as held-out ones."""
    allowed = [key for key in DATA_LOCATION_KEYS if hasattr(data_config, key.split(".")[1])]
    for text in overrides:
        if ".".join(parse_override(text)[0]) not in allowed:
            raise UserError(f"--set {text!r}: the held-out data is the run's own; only where "
                            f"the data lies may change: {', '.join(allowed)}")


def read_resumed_recipe(directory: Path, overrides: list[str] = ()) -> Any:
    """The recipe of the run in ``directory`` with ``--set`` overrides for resuming it;
    an override of a key outside :data:`RESUMABLE_KEYS` that changes it is an error
    naming it."""
    if not (Path(directory) / "config.json").exists():
        checkpoint.refuse_export(directory)
    saved = read_saved_recipe(directory)
    config = from_mapping(type(saved), apply_overrides(to_mapping(saved), list(overrides)))
    before, after = flat_keys(to_mapping(saved)), flat_keys(to_mapping(config))
    for key, value in after.items():
        if value != before.get(key) and key not in RESUMABLE_KEYS:
            raise UserError(f"{key}: fixed by the run being resumed ({directory}: "
                            f"{before.get(key)!r}); --resume --set changes only "
                            f"{', '.join(RESUMABLE_KEYS)}; start a new run (--out) to change it")
    return config


def check_new_run_dir(run_dir: Path) -> None:
    """``--out`` of a new run (``train``, ``import-keras``) holds nothing the run would add
    to or overwrite: not a run, an export, a file, or a ``config.json`` that is not a
    recipe a run saved (a run that failed before its first checkpoint leaves one, and may
    start again there); an error naming what is there otherwise."""
    if (run_dir / "checkpoints").exists():
        raise UserError(f"{run_dir}: already holds a run; use --resume {run_dir} to continue "
                        "it, or choose another --out")
    if (run_dir / "metrics.jsonl").exists():  # a run that failed before its checkpoint
        raise UserError(f"{run_dir / 'metrics.jsonl'}: left by a run that saved no "
                        "checkpoint; a new run would add to it: remove it, or choose "
                        "another --out")
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--out {run_dir}: a file, not a directory")
    if is_export(run_dir):  # exporting again there would replace the run whole
        raise UserError(f"--out {run_dir}: holds an export (seq2seq export); choose "
                        "another --out")
    if not (run_dir / "config.json").is_file():
        return
    try:
        read_saved_recipe(run_dir)
    except UserError as error:
        raise UserError(f"--out {run_dir}: holds a config.json that this version does not "
                        f"read as a run's saved recipe, which a new run would overwrite "
                        f"({error}); choose another --out") from None


def flat_keys(mapping: dict, prefix: str = "") -> dict:
    """A nested mapping's leaves by dotted key: ``{"model": {"units": 8}}`` ->
    ``{"model.units": 8}``."""
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(flat_keys(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@dataclass
class Run:
    """A loaded run: its task, recipe, model (eval mode) and tokenizers by name."""

    task: str
    recipe: Any
    model: Any
    checkpoint: Path
    tokenizers: dict[str, Any] = field(default_factory=dict)


def load_run(run_dir: str | Path, which: str = "best", expected_task: str | None = None) -> Run:
    """The ``best`` (or ``last``) checkpoint of a run directory, or a checkpoint directory.

    Raises:
        UserError: no checkpoint, a bad file in it, or a run of another task than
            ``expected_task``.
    """
    path = checkpoint.resolve(Path(run_dir), which)
    recipe = read_saved_recipe(path)
    if is_other_task(recipe.task, expected_task):
        raise UserError(f"{run_dir}: a {recipe.task} run; expected a {expected_task} run")
    spec = task_spec(recipe.task)
    tokenizers = spec.load_tokenizers(path)
    model = spec.build_model(recipe, tokenizers)
    checkpoint.load_weights(model, path)
    model.eval()
    return Run(recipe.task, recipe, model, path, tokenizers)

