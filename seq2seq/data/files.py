"""Reading a user's file: every failure is one line naming the file."""

from __future__ import annotations

from pathlib import Path

from seq2seq.errors import UserError


def read_bytes(path: Path) -> bytes:
    """The file's bytes; a missing or unreadable file is a :class:`UserError` naming it."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        return path.read_bytes()
    except OSError as error:
        raise UserError(f"{path}: cannot read: {error.strerror or error}") from error
