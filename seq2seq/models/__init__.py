"""Models built around the shared recurrent core (:mod:`seq2seq.core`)."""

from .encoder_decoder import EncoderDecoder, TranslatorConfig
from .ensemble import Ensemble
from .filler import BlankFiller, BlankFillerConfig
from .row_classifier import RowClassifier, RowClassifierConfig

__all__ = ["BlankFiller", "BlankFillerConfig", "EncoderDecoder", "Ensemble", "RowClassifier",
           "RowClassifierConfig", "TranslatorConfig"]
