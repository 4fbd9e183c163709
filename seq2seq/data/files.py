"""Reading a user's data, a local file or a Hugging Face dataset: every failure is one line
naming it."""

from __future__ import annotations

import io
import os
import select
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from seq2seq.base.errors import UserError


def check_file(path: Path, expected: str = "") -> None:
    """A :class:`UserError` naming ``path`` unless it is a regular file (or a link to one):
    missing, a directory, or something else (a FIFO, a device); ``expected`` says what
    should be there (" (expected an image of a digit)")."""
    if path.is_file():
        return
    if path.is_dir():
        raise UserError(f"{path}: is a directory, not a file{expected}")
    if path.exists():
        raise UserError(f"{path}: not a regular file (a pipe, a device or a socket){expected}")
    raise UserError(f"{path}: no such file{expected}")


def read_bytes(path: Path) -> bytes:
    """The file's bytes; a missing or unreadable file is a :class:`UserError` naming it."""
    check_file(path)
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


READ_SIZE = 1 << 16


def ready_lines(stream: IO[bytes]) -> Iterator[bytes | None]:
    """The raw lines of ``stream`` (each with its ``\\n``, the last one perhaps without),
    and a ``None`` wherever the input has no more data ready just then: a person at a
    terminal between two lines, or a producer that has not written the next one yet. That
    is the moment to handle the lines read so far rather than wait. A regular file (or a
    stream without a file descriptor) never pauses. Read a stream nothing else has read
    from: its descriptor is read directly, past any buffer."""
    try:
        fd = stream.fileno()
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except (AttributeError, OSError, io.UnsupportedOperation, ValueError):
        regular = True
    if regular:
        yield from stream
        return
    parts: list[bytes] = []  # the line being read
    while True:
        if not select.select([fd], [], [], 0)[0]:
            yield None  # nothing ready: the caller handles what it has while we wait
        data = os.read(fd, READ_SIZE)
        if not data:
            if parts:
                yield b"".join(parts)
            return
        *complete, rest = data.split(b"\n")
        for piece in complete:
            parts.append(piece)
            yield b"".join(parts) + b"\n"
            parts = []
        if rest:
            parts.append(rest)


def stream_lines(stream: IO[bytes], name: str, pauses: bool = False) -> Iterator[str | None]:
    """The lines of a binary ``stream``, read lazily, split on ``\\n`` only (U+2028, U+0085
    or a form feed inside a line stay in it; a line's closing ``\\r`` goes). A bad byte is a
    :class:`UserError` naming ``name`` and the line. With ``pauses``, a ``None`` marks each
    point where the input has nothing more ready (:func:`ready_lines`)."""
    number = 0
    for raw in ready_lines(stream):
        if raw is None:
            if pauses:
                yield None
            continue
        number += 1
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
    """``items`` in lists of ``size``, taken lazily; a ``None`` item ends the list early
    (the input paused: :func:`stream_lines`), and the last list may be shorter."""
    chunk: list[Any] = []
    for item in items:
        if item is None:
            if chunk:
                yield chunk
                chunk = []
            continue
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
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
