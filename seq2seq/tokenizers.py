"""Tokenizers: text <-> ids, learned from the training side only and saved beside the weights.

The tokenizers themselves (:class:`CharTokenizer`, :class:`WordTokenizer`,
:class:`SentencePieceTokenizer`, their files and :func:`load_tokenizer`) live in the
torch-free base, :mod:`seq2seq.base.tokenizers`, with which the export runtime reads an
export's tokenizers too; this module adds a recipe's ``[tokenizer]`` table and training
from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

from seq2seq.base.errors import UserError
from seq2seq.base.tokenizers import (
    BOS,
    BOS_ID,
    EOS,
    EOS_ID,
    FORMAT_VERSION,
    GRAPHEME,
    PAD,
    PAD_ID,
    SPECIALS,
    SYMBOL_TOKENIZERS,
    UNK,
    UNK_ID,
    CharTokenizer,
    Kind,
    ModelType,
    SentencePieceTokenizer,
    SymbolTokenizer,
    Tokenizer,
    WordTokenizer,
    content_ids,
    load_tokenizer,
)
from seq2seq.config import reject_inapplicable, setting

__all__ = ["BOS", "BOS_ID", "EOS", "EOS_ID", "FORMAT_VERSION", "GRAPHEME", "PAD", "PAD_ID",
           "SPECIALS", "SYMBOL_TOKENIZERS", "UNK", "UNK_ID", "CharTokenizer", "Kind",
           "ModelType", "SentencePieceTokenizer", "SymbolTokenizer", "Tokenizer",
           "TokenizerConfig", "WordTokenizer", "content_ids", "load_tokenizer",
           "train_tokenizer"]


@dataclass
class TokenizerConfig:
    """One tokenizer: a fill recipe's ``[tokenizer]`` table, or one side of a translation
    recipe's."""

    kind: Kind = setting(
        "char", "how text splits into tokens: characters (grapheme clusters), sentencepiece "
                "pieces, or words")
    sp_model_type: ModelType = setting(
        "unigram", "sentencepiece only: the model that learns the pieces")
    sp_vocab_size: int = setting(
        1000, "sentencepiece only: the vocabulary size, a ceiling (small corpora get fewer pieces)")
    min_count: int = setting(1, "char and words: symbols seen fewer times in training become <unk>")

    def check(self, table: str = "tokenizer") -> None:
        """Reject a bad setting, naming it as ``{table}.KEY`` (``tokenizer.source.kind``)."""
        for name, choices in (("kind", get_args(Kind)), ("sp_model_type", get_args(ModelType))):
            if getattr(self, name) not in choices:
                raise UserError(f"{table}.{name}: expected one of {list(choices)}, "
                                f"got {getattr(self, name)!r}")
        if self.sp_vocab_size <= len(SPECIALS):
            raise UserError(f"{table}.sp_vocab_size: expected more than the {len(SPECIALS)} "
                            f"special symbols, got {self.sp_vocab_size}")
        if self.min_count < 1:
            raise UserError(f"{table}.min_count: expected a positive integer, "
                            f"got {self.min_count}")
        sentencepiece = self.kind == "sentencepiece"
        reject_inapplicable(self, f"{table}.", {
            "sp_model_type": (sentencepiece, "with kind = 'sentencepiece'"),
            "sp_vocab_size": (sentencepiece, "with kind = 'sentencepiece'"),
            "min_count": (not sentencepiece, "with kind = 'char' or 'words'"),
        })



def train_tokenizer(config: TokenizerConfig, texts: Sequence[str],
                    table: str = "tokenizer") -> Tokenizer:
    """A tokenizer of ``config.kind`` learned from ``texts`` (the training side only); an
    error names the recipe's ``table`` (``tokenizer.source``)."""
    config.check(table)
    if config.kind == "sentencepiece":
        try:
            return SentencePieceTokenizer.train(texts, config.sp_model_type,
                                                config.sp_vocab_size)
        except UserError as error:
            raise UserError(str(error).replace("tokenizer:", f"{table}:", 1)) from None
    return SYMBOL_TOKENIZERS[config.kind].train(texts, config.min_count)
