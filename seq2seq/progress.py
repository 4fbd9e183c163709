"""Progress of a loop: a live bar on a terminal, plain lines in a log file.

On a terminal, tqdm's bar (updated in place with carriage returns). Anywhere else (a
file, a pipe, CI) carriage-return updates would pile up into one enormous line, so
progress is one plain line every ``every_seconds`` instead, and none for loops shorter
than that.
"""

from __future__ import annotations

import sys
import time
from typing import IO

PLAIN_EVERY_SECONDS = 30.0


class PlainProgress:
    """tqdm's ``update`` / ``set_postfix_str`` / ``close``, as a line every few seconds."""

    def __init__(self, total: int, initial: int, description: str, stream: IO[str],
                 every_seconds: float = PLAIN_EVERY_SECONDS, clock=time.monotonic) -> None:
        self.total, self.done, self.description = total, initial, description
        self.stream, self.every, self.clock = stream, every_seconds, clock
        self.postfix = ""
        self.last_shown = clock()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def update(self, count: int = 1) -> None:
        self.done += count
        now = self.clock()
        if now - self.last_shown >= self.every:
            self.last_shown = now
            postfix = f", {self.postfix}" if self.postfix else ""
            self.stream.write(f"{self.description}: {self.done}/{self.total}{postfix}\n")
            self.stream.flush()

    def close(self) -> None:
        pass


def progress_bar(total: int, initial: int, description: str, unit: str = "batch",
                 stream: IO[str] | None = None):
    """A tqdm bar on a terminal, else :class:`PlainProgress` (both on ``stream``, stderr by
    default)."""
    stream = stream or sys.stderr
    if stream.isatty():
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, unit=unit, leave=False, desc=description,
                    dynamic_ncols=True, file=stream)
    return PlainProgress(total, initial, description, stream)
