"""Models built around the shared recurrent core (:mod:`seq2seq.core`)."""

from .row_classifier import RowClassifier, RowClassifierConfig

__all__ = ["RowClassifier", "RowClassifierConfig"]
