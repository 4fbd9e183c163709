"""Models built around the shared recurrent core (:mod:`seq2seq.core`)."""

from .blank_filler import BlankFiller, BlankFillerConfig
from .row_classifier import RowClassifier, RowClassifierConfig
from .translator import EncoderDecoder, TranslatorConfig

__all__ = ["BlankFiller", "BlankFillerConfig", "EncoderDecoder", "RowClassifier",
           "RowClassifierConfig", "TranslatorConfig"]
