"""Reading a user's data, a local file or a Hugging Face dataset: every failure is one line
naming it."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

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


def stream_lines(stream: IO[bytes], name: str) -> Iterator[str]:
    """The lines of a binary ``stream``, read lazily, split on ``\\n`` only (U+2028, U+0085
    or a form feed inside a line stay in it; a line's closing ``\\r`` goes). A bad byte is a
    :class:`UserError` naming ``name`` and the line."""
    for number, raw in enumerate(stream, start=1):
        raw = raw[:-1] if raw.endswith(b"\n") else raw
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a byte-order mark
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UserError(f"{name}:{number}: expected UTF-8 text, got byte "
                            f"0x{raw[error.start]:02x} at column {error.start + 1} "
                            f"({error.reason})") from None


def chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of ``size`` (the last one shorter), taken lazily."""
    while chunk := list(islice(items, size)):
        yield chunk


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
