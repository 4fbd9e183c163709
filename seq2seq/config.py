"""Recipes: TOML files loaded strictly into typed dataclasses, with ``--set`` overrides.

A recipe is the defaults of its dataclasses plus the keys its TOML file sets, plus
``--set section.key=value`` overrides. An unknown key, a wrong type or a value outside a
``Literal``'s choices is a :class:`UserError` naming the key and what is valid.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from seq2seq.base.errors import UserError
from seq2seq.base.files import write_atomic

T = TypeVar("T")
DOC = "doc"  # the field metadata key of a recipe key's one line of meaning


def setting(default: Any, doc: str) -> Any:
    """A recipe key: the dataclass field with its ``default`` and ``doc``, one line of what
    it means (``docs/recipes.md`` is generated from it). A list default is copied for each
    recipe. Example: ``units: int = setting(256, "hidden units of each recurrent layer")``."""
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata={DOC: doc})
    return dataclasses.field(default=default, metadata={DOC: doc})


def _type_name(kind: Any) -> str:
    if typing.get_origin(kind) is typing.Literal:
        return "one of " + ", ".join(repr(choice) for choice in typing.get_args(kind))
    return getattr(kind, "__name__", str(kind))


def _coerce(value: Any, kind: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``kind``; ints are accepted for floats."""
    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        choices = typing.get_args(kind)
        if value not in choices:
            raise UserError(f"{key}: expected one of {list(choices)}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _coerce(value, option, key)
            except UserError as error:
                errors.append(str(error))
        raise UserError(errors[0] if len(errors) == 1 else
                        f"{key}: expected {' or '.join(map(_type_name, options))}, got {value!r}")
    if origin in (list, tuple):
        (item,) = typing.get_args(kind)[:1]
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{key}: expected a list, got {value!r}")
        return origin(_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is float and isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{key}: expected a finite number, got {value!r}")
    if kind is Path and isinstance(value, str):
        return value
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UserError(f"{key}: expected {_type_name(kind)}, got {value!r}")
    return value


def from_mapping(cls: type[T], mapping: dict, prefix: str = "") -> T:
    """Build dataclass ``cls`` from a nested mapping, rejecting unknown keys."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for name, value in mapping.items():
        key = f"{prefix}{name}"
        if name not in fields:
            valid = ", ".join(f"{prefix}{n}" for n in fields)
            raise UserError(f"{key}: unknown key; valid keys here: {valid}")
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, dict):
                raise UserError(f"{key}: expected a table of settings, got {value!r}")
            values[name] = from_mapping(kind, value, f"{key}.")
        else:
            values[name] = _coerce(value, kind, key)
    recipe = cls(**values)
    check = getattr(recipe, "check", None)
    if check is not None:  # a table used in several places is told where it is
        if prefix and "table" in inspect.signature(check).parameters:
            check(table=prefix[:-1])
        else:
            check()
    return recipe


def reject_inapplicable(config: Any, prefix: str, rules: dict[str, tuple[bool, str]]) -> None:
    """A setting is a promise: a key set away from its default where it has no effect is
    an error naming it. ``rules``: key -> (whether it applies here, where it does)."""
    for field in dataclasses.fields(config):
        if field.name not in rules or rules[field.name][0]:
            continue
        default = (field.default if field.default is not dataclasses.MISSING
                   else field.default_factory())
        if getattr(config, field.name) != default:
            raise UserError(f"{prefix}{field.name}: applies only {rules[field.name][1]}; "
                            f"leave it at its default ({default!r}) here")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.epochs=3"`` -> (["train", "epochs"], 3); a bare word stays a string."""
    key, separator, raw = text.partition("=")
    if not separator or not key.strip():
        raise UserError(f"--set {text!r}: expected key=value, e.g. train.epochs=3")
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip().split("."), value


def read_toml(path: Path) -> dict:
    """A recipe file's table; a missing or malformed file is a :class:`UserError` naming it."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: recipe file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot read the recipe ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: not valid TOML: {error}") from None


def load_recipe(cls: type[T], path: str | Path | None, overrides: list[str] = ()) -> T:
    """Defaults of ``cls``, then the TOML file at ``path`` (if any), then ``overrides``."""
    mapping = read_toml(Path(path)) if path is not None else {}
    return from_mapping(cls, apply_overrides(mapping, overrides))


def apply_overrides(mapping: dict, overrides: list[str]) -> dict:
    """Set each ``section.key=value`` of ``overrides`` in the nested ``mapping`` (in place)."""
    for text in overrides:
        keys, value = parse_override(text)
        table = mapping
        for part in keys[:-1]:
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise UserError(f"--set {text!r}: {part} is a value, not a table")
        table[keys[-1]] = value
    return mapping


def override_section(config: Any, section: str, overrides: list[str]) -> Any:
    """``config`` (the dataclass of one recipe table) with ``section.KEY=value`` overrides."""
    for text in overrides:
        if parse_override(text)[0][0] != section:
            raise UserError(f"--set {text!r}: only {section}.KEY settings apply here")
    mapping = apply_overrides({section: to_mapping(config)}, overrides)[section]
    return from_mapping(type(config), mapping, f"{section}.")


def to_mapping(recipe: Any) -> dict:
    """The nested dict of a recipe (what ``from_mapping`` reads back)."""
    return dataclasses.asdict(recipe)


def save_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file, then rename)."""
    write_atomic(path, (json.dumps(data, indent=2, default=str) + "\n").encode("utf-8"))


def find_recipe(name_or_path: str, recipes_dir: Path) -> Path:
    """A recipe by path, or by name in ``recipes/`` (``mnist`` -> ``recipes/mnist.toml``)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return path
    candidate = recipes_dir / f"{name_or_path}.toml"
    if candidate.exists():
        return candidate
    known = sorted(p.stem for p in recipes_dir.glob("*.toml"))
    raise UserError(f"recipe {name_or_path!r}: no such file, and not one of {known}")
