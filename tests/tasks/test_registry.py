"""The registry of tasks (:mod:`seq2seq.tasks`): every task resolves, a recipe's ``task``
picks its spec, an unknown task is one line, runs saved before recipes named their task are
told as before, and no module but the registry compares task names."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from seq2seq.config import to_mapping
from seq2seq.errors import UserError
from seq2seq.runs import load_task_recipe, read_saved_recipe
from seq2seq.tasks import TASKS, TaskSpec, recipe_type, saved_task, task_of, task_spec

PACKAGE = Path(__file__).resolve().parents[2] / "seq2seq"
REGISTRY = PACKAGE / "tasks" / "registry.py"
DEFAULT_RECIPES = {"translation": "demo", "mnist": "mnist", "fill": "fill-demo"}


def one_line_error(call, *args) -> str:
    with pytest.raises(UserError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", TASKS)
def test_every_task_resolves_its_spec_and_recipe_type(name):
    spec = task_spec(name)
    assert isinstance(spec, TaskSpec) and spec.name == name
    assert recipe_type(name) is spec.recipe
    assert spec.recipe().task == name  # a recipe's default task is its own
    for job in (spec.train, spec.evaluate, spec.summary, spec.load_tokenizers,
                spec.build_model, spec.recognises_saved):
        assert callable(job)
    api = spec.api_class()
    assert api is None or isinstance(api, type)


def test_translation_names_its_user_facing_class():
    from seq2seq.api import Translator

    assert task_spec("translation").api_class() is Translator


@pytest.mark.parametrize("name", TASKS)
def test_a_recipes_task_picks_its_spec(name):
    recipe = load_task_recipe(DEFAULT_RECIPES[name])
    assert recipe.task == name and isinstance(recipe, task_spec(name).recipe)


def test_a_recipe_without_a_task_is_a_translation_recipe(tmp_path):
    path = tmp_path / "plain.toml"
    path.write_text("[model]\nunits = 8\n")
    assert task_of({}, "x") == "translation"
    assert type(load_task_recipe(str(path))) is task_spec("translation").recipe


def test_an_unknown_task_is_one_line_naming_the_file_and_the_tasks(tmp_path):
    path = tmp_path / "odd.toml"
    path.write_text('task = "poetry"\n')
    message = one_line_error(load_task_recipe, str(path))
    assert message == (f"{path}: task: expected one of ['translation', 'mnist', 'fill'], "
                       f"got 'poetry'")
    assert one_line_error(task_spec, "poetry") == (
        "task: expected one of ['translation', 'mnist', 'fill'], got 'poetry'")


def test_an_unknown_task_on_the_command_line_is_one_line(tmp_path):
    from click.testing import CliRunner

    from seq2seq.cli import main

    path = tmp_path / "odd.toml"
    path.write_text('task = "poetry"\n')
    result = CliRunner().invoke(main, ["summary", str(path)])
    assert result.exit_code == 1
    assert result.output == (f"Error: {path}: task: expected one of ['translation', 'mnist', "
                             f"'fill'], got 'poetry'\n")


@pytest.mark.parametrize("name", TASKS)
def test_a_recipe_saved_without_a_task_is_told_by_its_keys(name, tmp_path):
    mapping = to_mapping(load_task_recipe(DEFAULT_RECIPES[name]))
    del mapping["task"]
    assert saved_task(mapping) == name
    (tmp_path / "config.json").write_text(json.dumps(mapping))
    assert read_saved_recipe(tmp_path).task == name


def test_an_old_translation_run_loses_its_retired_keys(tmp_path):
    mapping = to_mapping(load_task_recipe("demo"))
    del mapping["task"]
    mapping["eval"]["batch_unit"] = "tokens"  # saved by earlier versions; it never did anything
    (tmp_path / "config.json").write_text(json.dumps(mapping))
    recipe = read_saved_recipe(tmp_path)
    assert recipe.task == "translation" and not hasattr(recipe.eval, "batch_unit")
    assert task_spec("translation").retired_keys == (("eval", "batch_unit"),)


def test_the_earliest_saved_recipes_without_marks_are_mnist_as_before():
    """Before recipes named their task, translation runs were told by their
    ``[teacher_forcing]`` table, fill-in runs by ``model.direction``, anything else was mnist."""
    assert saved_task({"teacher_forcing": {}, "model": {"direction": "both"}}) == "translation"
    assert saved_task({"model": {"direction": "forward"}}) == "fill"
    assert saved_task({"model": {"units": 8}}) == "mnist"
    assert saved_task({}) == "mnist"


def test_importing_the_registry_does_not_import_torch():
    script = ("import sys\nimport seq2seq.tasks\nseq2seq.tasks.TASKS\n"
              "assert 'torch' not in sys.modules, 'torch was imported'\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def task_comparisons(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """``file:line`` of each comparison in ``path`` with a task name (a string in
    :data:`TASKS`) or with something called ``task`` (a name or an attribute)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Compare) and any(
                _names_a_task(part) for operand in (node.left, *node.comparators)
                for part in ast.walk(operand)):
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def _names_a_task(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "task"
            or isinstance(node, ast.Attribute) and node.attr == "task"
            or isinstance(node, ast.Constant) and node.value in TASKS)


def test_no_module_but_the_registry_compares_task_names():
    found = [where for path in sorted(PACKAGE.rglob("*.py")) if path != REGISTRY
             for where in task_comparisons(path)]
    assert found == []


def test_the_source_check_finds_a_task_comparison(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text('def f(config, task):\n    if config.task == "fill":\n        pass\n'
                    '    return task in ("mnist",)\n')
    assert task_comparisons(path, tmp_path) == ["probe.py:2", "probe.py:4"]
