"""Reading a user's data, a local file or a Hugging Face dataset: every failure is one line
naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seq2seq.errors import UserError


def read_bytes(path: Path) -> bytes:
    """The file's bytes; a missing or unreadable file is a :class:`UserError` naming it."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        return path.read_bytes()
    except OSError as error:
        raise UserError(f"{path}: cannot read: {error.strerror or error}") from error


def read_text(path: Path) -> str:
    """The file as strict UTF-8 text (a byte-order mark is dropped); a bad byte is an error
    naming the line."""
    raw = read_bytes(path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise UserError(f"{path}:{line}: expected UTF-8 text, got byte 0x{raw[error.start]:02x} "
                        f"at offset {error.start} ({error.reason})") from None


def load_hub_dataset(where: str, *args: Any, **kwargs: Any) -> Any:
    """``datasets.load_dataset(*args, **kwargs)``; any failure (network, missing split,
    format, path) is one :class:`UserError` naming ``where``."""
    try:
        import datasets
    except ImportError as error:
        raise UserError(f"{where}: needs the 'datasets' package (pip install datasets)") from error
    try:
        return datasets.load_dataset(*args, **kwargs)
    except Exception as error:  # datasets raises many types
        raise UserError(f"{where}: cannot load: {one_line(error)}") from error


def one_line(error: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(error).split()) or type(error).__name__


def short_repr(value: object, limit: int = 60) -> str:
    """A repr of ``value``, a string cut to about ``limit`` characters."""
    if isinstance(value, str) and len(value) > limit:
        value = value[:limit] + "..."
    return repr(value)
