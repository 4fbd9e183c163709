"""Bounds on settings that both the recipe checks and the command line enforce (no torch
import here: the command line loads this before it knows whether it needs torch)."""

from seq2seq.base.errors import UserError

MAX_SEED = 2**32 - 1  # torch's generators take 64 bits, and batching multiplies the seed
MAX_THREADS = 1024
# A model's sizes, far past any model that fits a machine's memory (a model that does
# not fit is an allocation error, said in one line by the command line): beyond them
# torch's size arithmetic overflows, or building the layers would not end, before any
# allocation is tried
MAX_UNITS = 1 << 20  # units, embedding, projection sizes and classes
MAX_LAYERS = 1024


def check_model_sizes(sizes: dict[str, int]) -> None:
    """``{"units": 256, "layers": 2, ...}`` within :data:`MAX_UNITS` and :data:`MAX_LAYERS`:
    an error naming ``model.KEY`` otherwise (the caller checks they are positive)."""
    for name, value in sizes.items():
        most = MAX_LAYERS if name == "layers" else MAX_UNITS
        if value > most:
            raise UserError(f"model.{name}: expected at most {most:,}, got {value:,}")


def check_positive(*options: tuple[str, int | None]) -> None:
    """Each ``(option name, value)`` given a value needs a positive integer."""
    for name, value in options:
        if value is not None and value < 1:
            raise UserError(f"{name}: expected a positive integer, got {value}")
