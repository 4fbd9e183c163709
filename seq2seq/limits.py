"""Bounds on settings that both the recipe checks and the command line enforce (no torch
import here: the command line loads this before it knows whether it needs torch)."""

from seq2seq.errors import UserError

MAX_SEED = 2**32 - 1  # torch's generators take 64 bits, and batching multiplies the seed
MAX_THREADS = 1024
# A model's sizes: past these the weights (one LSTM layer of 16,384 units holds 4 GB of
# kernels in fp32, before the optimiser's state) fail to allocate deep inside torch
MAX_UNITS = 16_384  # units, embedding and projection sizes
MAX_LAYERS = 64


def check_model_sizes(sizes: dict[str, int]) -> None:
    """``{"units": 256, "layers": 2, ...}`` within :data:`MAX_UNITS` and :data:`MAX_LAYERS`:
    an error naming ``model.KEY`` otherwise (the caller checks they are positive)."""
    for name, value in sizes.items():
        most = MAX_LAYERS if name == "layers" else MAX_UNITS
        if value > most:
            raise UserError(f"model.{name}: expected at most {most:,}, got {value:,}")
