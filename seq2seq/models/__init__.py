"""Models built around the shared recurrent core (:mod:`seq2seq.core`)."""

from .blank_filler import BlankFiller, BlankFillerConfig
from .ensemble import Ensemble
from .row_classifier import RowClassifier, RowClassifierConfig
from .translator import EncoderDecoder, TranslatorConfig

__all__ = ["BlankFiller", "BlankFillerConfig", "EncoderDecoder", "Ensemble", "RowClassifier",
           "RowClassifierConfig", "TranslatorConfig"]
