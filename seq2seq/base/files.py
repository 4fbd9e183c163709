"""Reading and writing the small files of runs and exports: JSON objects, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from seq2seq.base.errors import UserError

__all__ = ["read_json_object", "write_atomic"]


def read_json_object(path: Path, what: str) -> dict:
    """The JSON object in ``path`` (``what`` names it in errors: "tokenizer file")."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: corrupt {what} ({error})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: corrupt {what} (expected a JSON object)")
    return data


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``: a
    reader (or a process killed mid-write) sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
