"""The torch-free runtime: an exported model translating with NumPy, onnxruntime and the
tokenizers (sentencepiece, and ``regex`` for grapheme clusters) alone.

``seq2seq export RUN_DIR --out EXPORT_DIR`` writes an export; this package reads it::

    from seq2seq.runtime import OnnxTranslator

    OnnxTranslator("exports/fra-eng").translate(["I am cold."], beam=5, nbest=3)

Nothing here imports torch or the training side of the toolkit; the toolkit builds on
this package instead (its :class:`UserError`, file helpers, tokenizers, decoding settings
and translation results live here). The search is :mod:`seq2seq.runtime.search`, held
equal to the torch search by tests. Importing the package is cheap: onnxruntime loads
with :class:`OnnxTranslator`.
"""

from __future__ import annotations

__all__ = ["OnnxTranslator", "UserError"]

from seq2seq.runtime.errors import UserError


def __getattr__(name: str):
    if name == "OnnxTranslator":
        from seq2seq.runtime.translator import OnnxTranslator

        return OnnxTranslator
    raise AttributeError(f"module 'seq2seq.runtime' has no attribute {name!r}")
