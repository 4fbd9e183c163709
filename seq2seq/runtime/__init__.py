"""The torch-free runtime: an exported model translating with NumPy, onnxruntime and the
tokenizers (sentencepiece, and ``regex`` for grapheme clusters) alone.

``seq2seq export RUN_DIR --out EXPORT_DIR`` writes an export; this package reads it::

    from seq2seq.runtime import OnnxTranslator

    OnnxTranslator("exports/fra-eng").translate(["I am cold."], beam=5, nbest=3)

It imports NumPy, onnxruntime and :mod:`seq2seq.base` (errors, files, tokenizers,
decoding settings and results, which the torch side uses too), never torch or the
training side of the toolkit. The torch side imports its
:mod:`~seq2seq.runtime.manifest` (the export writes the manifest and ``decode.json`` that
this package checks; ``seq2seq.runs`` and ``seq2seq.checkpoint`` tell a run directory from
an export by it), and the CLI and the decoding benchmark translate an export with
:class:`OnnxTranslator`. The search, :mod:`seq2seq.runtime.search`, is the torch search
(:mod:`seq2seq.search`) on arrays, function for function, held equal to it by tests.
Importing the package is cheap: onnxruntime loads with :class:`OnnxTranslator`.
"""

from __future__ import annotations

__all__ = ["OnnxTranslator", "UserError"]

from seq2seq.base.errors import UserError


def __getattr__(name: str):
    if name == "OnnxTranslator":
        from seq2seq.runtime.onnx_translator import OnnxTranslator

        return OnnxTranslator
    raise AttributeError(f"module 'seq2seq.runtime' has no attribute {name!r}")
