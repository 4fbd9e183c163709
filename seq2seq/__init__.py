"""seq2seq: character-level sequence learning on one Keras-exact recurrent core."""

import importlib
import os
from importlib.metadata import PackageNotFoundError, version

# oneDNN (torch's fused CPU kernels) keeps its compiled kernels in a cache of 1,024 by
# default, one per shape. Our variable-length paths (an encoder call per run of steps
# between distinct lengths, a decoder cut by target length) meet many shapes: ragged
# batches of mixed lengths need more than 1,024 a round of training and decoding, and
# then rebuild their kernels every time. A larger default, read by oneDNN when it first
# runs (so set here, before any torch computation); a value already in the environment
# is kept. Recipes' length-bucketed batches meet few shapes and run the same either way.
ONEDNN_CACHE_CAPACITY = "16384"
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", ONEDNN_CACHE_CAPACITY)

try:
    __version__ = version("seq2seq")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

# the user-facing objects, imported (with torch) when first asked for:
# ``from seq2seq import Translator``
API = {"Translator": "seq2seq.api"}


def __getattr__(name: str):
    if name in API:
        return getattr(importlib.import_module(API[name]), name)
    raise AttributeError(f"module 'seq2seq' has no attribute {name!r}")
