"""Write ``docs/recipes.md``, the reference of every recipe key, from the recipe dataclasses.

Each key's type and default come from its dataclass field, its meaning from the field's
``doc`` metadata (``seq2seq.config.setting(default, doc)``); a table's meaning is the first
line of its dataclass's docstring. A field without a doc stops the script, naming it.

    python scripts/recipes_reference.py            # write docs/recipes.md
    python scripts/recipes_reference.py --check    # exit 1 if docs/recipes.md is out of date
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "recipes.md"
REGENERATE = "python scripts/recipes_reference.py"
TOP_LEVEL = "Keys outside any table."
sys.path.insert(0, str(ROOT))  # describe the seq2seq beside this script, not an installed one

from seq2seq.config import DOC  # noqa: E402
from seq2seq.tasks import TASKS, recipe_type  # noqa: E402


def task_recipes() -> dict[str, type]:
    """Each task's name and recipe dataclass, in the order the tasks are listed."""
    return {task: recipe_type(task) for task in TASKS}


@dataclass
class Key:
    """One recipe key, spelled as ``--set`` spells it (``model.units``)."""

    name: str
    kind: str
    default: str
    doc: str


@dataclass
class Table:
    """One TOML table of a recipe (``name`` ``""``: the top level) and its own keys."""

    name: str
    doc: str
    keys: list[Key]


def type_text(kind: Any) -> str:
    """A field's annotation as a reader writes it: ``int``, ``"lstm" | "gru"``, ``list[str]``."""
    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        return " | ".join(json.dumps(choice) for choice in typing.get_args(kind))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_text(option) for option in typing.get_args(kind))
    if origin in (list, tuple):
        return f"{origin.__name__}[{', '.join(map(type_text, typing.get_args(kind)))}]"
    return kind.__name__


def toml_text(value: Any) -> str:
    """A default as a recipe file spells it: ``true``, ``"lstm"``, ``0.001``, ``["chrf"]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(toml_text, value)) + "]"
    if isinstance(value, (int, float)):
        return repr(value)
    raise SystemExit(f"recipes_reference: a default of type {type(value).__name__} "
                     f"({value!r}) has no TOML spelling here")


def default_of(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    return field.default_factory()


def summary(cls: type) -> str:
    """The first sentence of ``cls``'s own docstring (not the signature dataclass writes),
    up to its first blank line."""
    doc = (cls.__doc__ or "").strip()
    if not doc or doc.startswith(f"{cls.__name__}("):
        raise SystemExit(f"recipes_reference: {cls.__module__}.{cls.__qualname__} has no "
                         f"docstring; its summary line is its table's meaning")
    return " ".join(doc.split("\n\n")[0].split()).replace("``", "`")


def tables(cls: type, name: str = "") -> list[Table]:
    """The tables of recipe dataclass ``cls`` in field order: its own keys first, then each
    nested table (and the tables nested in it)."""
    hints = typing.get_type_hints(cls)
    table, nested = Table(name, summary(cls) if name else TOP_LEVEL, []), []
    for field in dataclasses.fields(cls):
        key = f"{name}.{field.name}" if name else field.name
        if dataclasses.is_dataclass(hints[field.name]):
            nested += tables(hints[field.name], key)
            continue
        doc = field.metadata.get(DOC, "").strip()
        if not doc:
            raise SystemExit(f"recipes_reference: {cls.__qualname__}.{field.name} ({key}) has "
                             f"no doc; give it one with seq2seq.config.setting(default, doc)")
        table.keys.append(Key(key, type_text(hints[field.name]),
                              toml_text(default_of(field)), doc))
    return ([table] if table.keys else []) + nested


def cell(text: str) -> str:
    """``text`` inside a Markdown table cell: ``|`` ends a cell and ``<`` opens HTML."""
    return text.replace("|", "\\|").replace("<", "&lt;")


def table_lines(table: Table) -> list[str]:
    title = f"`[{table.name}]`" if table.name else "Top level"
    lines = [f"### {title}", "", table.doc, "",
             "| key | type | default | meaning |", "|---|---|---|---|"]
    lines += [f"| `{key.name}` | `{cell(key.kind)}` | `{cell(key.default)}` | {cell(key.doc)} |"
              for key in table.keys]
    return lines + [""]


HEADER = f"""# Recipe reference

<!-- Generated by {REGENERATE}; do not edit by hand. -->

This page is generated from the recipe dataclasses: each key's type and default are its
field's, its meaning is the field's `doc` (`seq2seq.config.setting(default, doc)`). To
change the page, change the code and run `{REGENERATE}`;
`{REGENERATE} --check` and `tests/test_recipes_reference.py`
fail while the page is out of date.

A recipe is a TOML file: `task` names its task (default `"translation"`), each `[table]`
sets some of the keys below, and every key left out keeps its default. Loading is strict:
an unknown key, a value of the wrong type or outside a key's choices is a one-line error
naming the key. On the command line, `--set table.key=value` overrides one key of the
recipe, spelled as in the first column below; the value is read as TOML, and a bare word
is a string:

```sh
seq2seq train demo --set train.epochs=3 --set model.attention=general
```
"""


def render() -> str:
    """The whole page, from the recipe dataclasses alone (deterministic)."""
    recipes = task_recipes()
    found = {task: tables(cls) for task, cls in recipes.items()}
    lines = [HEADER, "Tasks:", ""]
    lines += [f"- [{task}](#{task}): {sum(len(table.keys) for table in found[task])} keys"
              for task in recipes]
    lines.append("")
    for task, cls in recipes.items():
        lines += [f"## {task}", "", summary(cls), ""]
        for table in found[task]:
            lines += table_lines(table)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/recipes.md differs from what would be written")
    args = parser.parse_args(argv)
    page = render()
    if args.check:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != page:
            print(f"docs/recipes.md is out of date with the recipe dataclasses; "
                  f"run: {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
