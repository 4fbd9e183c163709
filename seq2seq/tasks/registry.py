"""The tasks, in one place: a :class:`TaskSpec` per task, and the registry of them by name.

Each task module (:mod:`seq2seq.tasks.translation`, :mod:`seq2seq.tasks.mnist`,
:mod:`seq2seq.tasks.fill`) defines its ``SPEC``: its recipe dataclass, how a run of it is
rebuilt (tokenizers, model), its ``train`` / ``evaluate`` / ``summary``, which command-line
options apply to it, and how its runs saved before recipes named their task are told. The
registry maps a task name to that module and imports it only when a spec is asked for, so
that importing this package (``seq2seq --help``) does not import torch, and so that the run
loader (:mod:`seq2seq.runs`), which reads specs, and the tasks' ``train`` and ``evaluate``,
which load runs with it, never import each other while they load.

This is the only module that compares task names: everything else asks the spec.

Example::

    spec = task_spec("fill")                   # imports seq2seq.tasks.fill
    spec.recipe                                # FillRecipe
    model = spec.build_model(recipe, spec.load_tokenizers(run_dir))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seq2seq.base.errors import UserError

# name -> the module that defines the task's SPEC, in the order errors list them
MODULES = {
    "translation": "seq2seq.tasks.translation",
    "mnist": "seq2seq.tasks.mnist",
    "fill": "seq2seq.tasks.fill",
}
TASKS = tuple(MODULES)
DEFAULT_TASK = "translation"  # a recipe without a ``task`` key


@dataclass(frozen=True)
class TaskSpec:
    """What a task provides, for the run loader (:mod:`seq2seq.runs`) and the commands.

    Attributes:
        name: the recipe's ``task`` value.
        recipe: the recipe dataclass (its ``task`` field defaults to ``name``).
        load_tokenizers: ``(run or checkpoint directory) -> {name: tokenizer}`` (``{}``
            for a task without one).
        build_model: ``(recipe, tokenizers) -> model``, untrained, for the loader to fill
            with a checkpoint's weights.
        train: ``(recipe, run_dir, resuming, options, fit, log)``: read the data, build
            the trainer, hand it to ``fit`` (which the command line wraps in resume and
            Ctrl-C handling), then report on the best checkpoint.
        evaluate: ``(run_dir, options, log)``: score a run's best checkpoint.
        summary: ``(recipe, log)``: print the recipe's model as a Keras-style table.
        train_options: ``train``'s options (beyond every task's) that apply to this task.
        evaluate_options: ``evaluate``'s options that apply to this task's runs.
        retired_keys: ``(table, key)`` that runs saved by earlier versions carry and that
            never did anything: dropped when such a run is read.
        recognises_saved: whether a recipe saved before recipes named their task (a
            mapping without ``task``) is this task's.
        api: the user-facing class, as ``"module:attribute"`` (it is built on the run
            loader, which is built on this registry); ``None`` where there is none yet.

    ``options`` is ``{option name: value}`` as the command line gave it (``None`` when not
    given); ``log`` prints a line (``click.echo``'s signature: ``err=True`` for standard
    error).
    """

    name: str
    recipe: type
    load_tokenizers: Callable[[Any], dict[str, Any]]
    build_model: Callable[[Any, dict[str, Any]], Any]
    train: Callable[..., None]
    evaluate: Callable[..., None]
    summary: Callable[..., None]
    recognises_saved: Callable[[dict], bool]
    train_options: tuple[str, ...] = ()
    evaluate_options: tuple[str, ...] = ()
    retired_keys: tuple[tuple[str, str], ...] = ()
    api: str | None = None

    def api_class(self) -> type | None:
        """The class :attr:`api` names, imported."""
        if self.api is None:
            return None
        module, attribute = self.api.split(":")
        return getattr(importlib.import_module(module), attribute)


def task_spec(name: str, where: str = "") -> TaskSpec:
    """The spec of task ``name``; an unknown name is a :class:`UserError` listing the
    tasks (prefixed by ``where``, the file it came from, when given)."""
    if name not in MODULES:
        prefix = f"{where}: " if where else ""
        raise UserError(f"{prefix}task: expected one of {list(TASKS)}, got {name!r}")
    return importlib.import_module(MODULES[name]).SPEC


def recipe_type(task: str) -> type:
    """The recipe dataclass of ``task``."""
    return task_spec(task).recipe


def task_of(mapping: dict, where: str) -> str:
    """The task a recipe mapping names (:data:`DEFAULT_TASK` when it names none), checked."""
    task = mapping.get("task", DEFAULT_TASK)
    task_spec(task, where)
    return task


def saved_task(mapping: dict) -> str:
    """The task of a recipe saved before recipes named it: the first whose spec
    recognises it."""
    for name in TASKS:
        if task_spec(name).recognises_saved(mapping):
            return name
    raise UserError(f"task: no task recognises this saved recipe; add task = one of "
                    f"{list(TASKS)}")


def check_options(spec: TaskSpec, given: dict[str, object], applying: str) -> None:
    """Each option in ``given`` with a value must be among the spec's ``applying``
    options (``"train_options"`` or ``"evaluate_options"``); an error names the first that
    is not, and the tasks it applies to."""
    for option, value in given.items():
        if value in (None, False, ()) or option in getattr(spec, applying):
            continue
        tasks = [name for name in TASKS if option in getattr(task_spec(name), applying)]
        raise UserError(f"{option}: applies to {' and '.join(tasks)} runs, "
                        f"not to this {spec.name} run")


def is_other_task(task: str, expected: str | None) -> bool:
    """Whether a run or recipe of ``task`` is not of the ``expected`` task (``None``: any
    task is expected)."""
    return expected is not None and task != expected
