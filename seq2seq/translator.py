"""The former import path of the Python API, kept for code that uses it: :mod:`seq2seq.api`."""

from seq2seq.api import Alignment, Translation, Translator

__all__ = ["Alignment", "Translation", "Translator"]
