"""Importing, on a background thread, modules a command is about to need.

Some imports cost most of a second or more: ``torch._dynamo`` (every torch optimizer's
first step imports it: about 1.4 s) and matplotlib (about 0.35 s). Started while the
command reads its data (file reads and gzip inflation release the GIL) or runs torch
kernels, they overlap that work instead of adding to it. Python's per-module import locks
make a concurrent import safe: a thread that needs a module another is importing waits
for it.
"""

from __future__ import annotations

import importlib
import threading

OPTIMIZER = ("torch._dynamo",)
PLOTS = ("matplotlib.figure", "matplotlib.backends.backend_agg")


def import_in_background(*modules: str) -> threading.Thread:
    """Start importing ``modules`` (in order) on a daemon thread and return it; an import
    that fails there is left for the code that needs the module to raise."""
    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the caller's own import will say why
                return

    thread = threading.Thread(target=load, name="preload", daemon=True)
    thread.start()
    return thread
