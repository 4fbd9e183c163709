"""Models built around the shared recurrent core (:mod:`seq2seq.core`)."""

from .row_classifier import RowClassifier, RowClassifierConfig
from .translator import EncoderDecoder, TranslatorConfig

__all__ = ["EncoderDecoder", "RowClassifier", "RowClassifierConfig", "TranslatorConfig"]
