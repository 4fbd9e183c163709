"""The tasks: one module per task (:mod:`~seq2seq.tasks.translation`,
:mod:`~seq2seq.tasks.mnist`, :mod:`~seq2seq.tasks.fill`) and the registry of them by name
(:mod:`seq2seq.tasks.registry`), whose names are re-exported here. Importing this package
imports no task module, and so no torch."""

from seq2seq.tasks.registry import (
    DEFAULT_TASK,
    MODULES,
    TASKS,
    TaskSpec,
    check_options,
    is_other_task,
    recipe_type,
    saved_task,
    task_of,
    task_spec,
)

__all__ = ["DEFAULT_TASK", "MODULES", "TASKS", "TaskSpec", "check_options", "is_other_task",
           "recipe_type", "saved_task", "task_of", "task_spec"]
