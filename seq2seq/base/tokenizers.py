"""Tokenizers: text <-> ids, learned from the training side only and saved beside the weights.

Three kinds share one small protocol (:class:`Tokenizer`) and the same special ids::

    0 <pad>   1 <s> (bos)   2 </s> (eos)   3 <unk>

* :class:`CharTokenizer`: user-perceived characters (grapheme clusters, ``\\X``), so a letter
  with a combining accent or an emoji ZWJ sequence is one token.
* :class:`WordTokenizer`: whitespace-separated tokens (phoneme targets like ``"HH AH0 L OW1"``).
* :class:`SentencePieceTokenizer`: a sentencepiece unigram / bpe / char model trained in memory.

``encode`` never raises on unseen text: each unknown symbol becomes ``unk_id`` and is counted
in ``unknown_count``. A checkpoint directory holds ``{name}.tokenizer.json`` per tokenizer
(plus ``{name}.spm.model`` for sentencepiece), so ``"source"`` and ``"target"`` sit side by side.

Example::

    >>> tokenizer = CharTokenizer.train(["hello"])
    >>> tokenizer.decode(tokenizer.encode("hole"))
    'hole'
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal, Protocol, Self, get_args

import regex
import sentencepiece

from seq2seq.base.errors import UserError
from seq2seq.base.files import read_json_object, write_atomic

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)  # ids 0, 1, 2, 3 in every tokenizer
PAD_ID, BOS_ID, EOS_ID, UNK_ID = range(len(SPECIALS))
FORMAT_VERSION = 1
GRAPHEME = regex.compile(r"\X")

Kind = Literal["char", "sentencepiece", "words"]
ModelType = Literal["unigram", "bpe", "char"]


class Tokenizer(Protocol):
    """What the batching, search and translation code need from a tokenizer."""

    pad_id: int
    bos_id: int
    eos_id: int
    unk_id: int
    unknown_count: int  # unknown symbols encode() has met since creation

    def __len__(self) -> int: ...

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``, without bos/eos; unknown symbols become ``unk_id``."""

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` up to the first eos, without pad and bos."""

    def tokens(self, text: str) -> list[str]:
        """The symbols that :meth:`encode` maps to ids."""

    def save(self, directory: Path, name: str) -> None:
        """Write ``{name}.tokenizer.json`` (and any model file) into ``directory``."""


def content_ids(ids: Iterable[int]) -> Iterator[int]:
    """``ids`` up to the first eos, without pad and bos."""
    for token_id in ids:
        if token_id == EOS_ID:
            return
        if token_id not in (PAD_ID, BOS_ID):
            yield token_id


def _json_bytes(data: dict) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


class SymbolTokenizer:
    """A fixed vocabulary of symbols, each one id; subclasses say how text splits.

    Attributes:
        symbols: the vocabulary in id order, starting with :data:`SPECIALS`.
        pad_to: with ``pad_symbol``, :meth:`encode` appends that symbol until a text has
            ``pad_to`` symbols (0: never). It is an input convention, not padding: the
            Keras lstm_seq2seq example feeds every source padded with spaces to the longest
            source length, and a model imported from it (``seq2seq import-keras``) must see
            the same inputs.
    """

    kind: str
    separator: str  # what decode() puts between symbols
    pad_id, bos_id, eos_id, unk_id = PAD_ID, BOS_ID, EOS_ID, UNK_ID

    def __init__(self, symbols: Sequence[str], pad_to: int = 0, pad_symbol: str = "") -> None:
        if tuple(symbols[:len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"symbols must start with {list(SPECIALS)}, got {symbols[:4]}")
        self.symbols = list(symbols)
        # Specials are never learned symbols: the text "<s>" is unknown, not bos.
        self._ids = {symbol: i for i, symbol in enumerate(self.symbols) if i >= len(SPECIALS)}
        if pad_to and pad_symbol not in self._ids:
            raise ValueError(f"pad_symbol: {pad_symbol!r} is not in the vocabulary")
        self.pad_to, self.pad_symbol = pad_to, pad_symbol
        self.unknown_count = 0

    @staticmethod
    def split(text: str) -> list[str]:
        raise NotImplementedError

    @classmethod
    def train(cls, texts: Iterable[str], min_count: int = 1) -> Self:
        """Symbols seen at least ``min_count`` times, most frequent first, ties by symbol."""
        counts = Counter(symbol for text in texts for symbol in cls.split(text))
        kept = [s for s, count in counts.items() if count >= min_count and s not in SPECIALS]
        return cls([*SPECIALS, *sorted(kept, key=lambda s: (-counts[s], s))])

    def __len__(self) -> int:
        return len(self.symbols)

    def tokens(self, text: str) -> list[str]:
        return self.split(text)

    def encode(self, text: str) -> list[int]:
        ids = [self._ids.get(symbol, UNK_ID) for symbol in self.split(text)]
        self.unknown_count += ids.count(UNK_ID)
        if self.pad_to and ids and len(ids) < self.pad_to:  # an empty text stays empty
            ids += [self._ids[self.pad_symbol]] * (self.pad_to - len(ids))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.separator.join(self.symbols[i] for i in content_ids(ids))

    def save(self, directory: Path, name: str) -> None:
        data = {"kind": self.kind, "symbols": self.symbols, "version": FORMAT_VERSION}
        if self.pad_to:
            data |= {"pad_to": self.pad_to, "pad_symbol": self.pad_symbol}
        write_atomic(Path(directory) / f"{name}.tokenizer.json", _json_bytes(data))


class CharTokenizer(SymbolTokenizer):
    """User-perceived characters: ``"e\\u0301"`` (e + combining acute) is one token."""

    kind, separator = "char", ""

    @staticmethod
    def split(text: str) -> list[str]:
        return GRAPHEME.findall(text)


class WordTokenizer(SymbolTokenizer):
    """Whitespace-separated tokens; decode joins them with a single space.

    The words ``<pad> <s> </s> <unk>`` are reserved: in text they encode as ``unk_id``.
    """

    kind, separator = "words", " "

    @staticmethod
    def split(text: str) -> list[str]:
        return text.split()


class SentencePieceTokenizer:
    """A sentencepiece model, trained in memory with ids 0-3 = pad, bos, eos, unk.

    Text is not normalised and whitespace is kept as is, so text made of seen characters
    round-trips exactly. Attributes: ``model_proto`` (the serialised model), ``symbols``.
    """

    kind = "sentencepiece"
    pad_id, bos_id, eos_id, unk_id = PAD_ID, BOS_ID, EOS_ID, UNK_ID

    def __init__(self, model_proto: bytes) -> None:
        self.model_proto = model_proto
        self._processor = sentencepiece.SentencePieceProcessor()
        self._processor.LoadFromSerializedProto(model_proto)  # raises RuntimeError if corrupt
        self.symbols = [self._processor.id_to_piece(i) for i in range(len(self._processor))]
        self.unknown_count = 0

    @classmethod
    def train(cls, texts: Iterable[str], model_type: ModelType = "unigram",
              vocab_size: int = 1000) -> SentencePieceTokenizer:
        """Train on ``texts``; ``vocab_size`` is a ceiling (``hard_vocab_limit=False``)."""
        model = io.BytesIO()
        try:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=(text for text in texts if text.strip()), model_writer=model,
                model_type=model_type, vocab_size=vocab_size, hard_vocab_limit=False,
                pad_id=PAD_ID, bos_id=BOS_ID, eos_id=EOS_ID, unk_id=UNK_ID, unk_surface=UNK,
                character_coverage=1.0, normalization_rule_name="identity",
                remove_extra_whitespaces=False, minloglevel=2)
        except RuntimeError as error:
            reason = " ".join(str(error).split("] ", 1)[-1].split()) or "no training text"
            raise UserError(f"tokenizer: sentencepiece {model_type} training with sp_vocab_size="
                            f"{vocab_size} failed: {reason}") from None
        return cls(model.getvalue())

    def __len__(self) -> int:
        return len(self.symbols)

    def tokens(self, text: str) -> list[str]:
        return self._processor.encode(text, out_type=str)

    def encode(self, text: str) -> list[int]:
        ids = self._processor.encode(text)
        if UNK_ID in ids:  # a run of unknown characters is one unk piece: count its characters
            pieces = self._processor.encode(text, out_type=str)
            self.unknown_count += sum(len(GRAPHEME.findall(piece.lstrip("\u2581")))
                                      for piece, i in zip(pieces, ids) if i == UNK_ID)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return self._processor.decode(list(content_ids(ids)))

    def save(self, directory: Path, name: str) -> None:
        directory = Path(directory)
        model_name = f"{name}.spm.model"
        write_atomic(directory / model_name, self.model_proto)  # before the file naming it
        data = {"kind": self.kind, "model": model_name, "version": FORMAT_VERSION}
        write_atomic(directory / f"{name}.tokenizer.json", _json_bytes(data))


SYMBOL_TOKENIZERS: dict[str, type[SymbolTokenizer]] = {"char": CharTokenizer,
                                                       "words": WordTokenizer}


def load_tokenizer(directory: Path, name: str) -> Tokenizer:
    """The tokenizer that ``save(directory, name)`` wrote; a bad file is a UserError."""
    path = Path(directory) / f"{name}.tokenizer.json"
    data = read_json_object(path, "tokenizer file")
    if data.get("version") != FORMAT_VERSION:
        raise UserError(f"{path}: version: expected {FORMAT_VERSION}, got {data.get('version')!r}")
    kind = data.get("kind")
    if kind in SYMBOL_TOKENIZERS:
        symbols = _read_symbols(path, data.get("symbols"))
        pad_to, pad_symbol = data.get("pad_to", 0), data.get("pad_symbol", "")
        if not isinstance(pad_to, int) or pad_to < 0 or (pad_to and pad_symbol not in symbols):
            raise UserError(f"{path}: pad_to/pad_symbol: expected a count >= 0 and a symbol "
                            f"of the vocabulary, got {pad_to!r}, {pad_symbol!r}")
        return SYMBOL_TOKENIZERS[kind](symbols, pad_to, pad_symbol)
    if kind == "sentencepiece":
        return _read_sentencepiece(path, data.get("model"))
    raise UserError(f"{path}: kind: expected one of {list(get_args(Kind))}, got {kind!r}")


def _read_symbols(path: Path, symbols: object) -> list[str]:
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise UserError(f"{path}: symbols: expected a list of strings, got {symbols!r:.60}")
    if tuple(symbols[:len(SPECIALS)]) != SPECIALS:
        raise UserError(f"{path}: symbols: expected to start with {list(SPECIALS)}, "
                        f"got {symbols[:len(SPECIALS)]}")
    if len(set(symbols)) != len(symbols):
        repeated = sorted(s for s, count in Counter(symbols).items() if count > 1)
        raise UserError(f"{path}: symbols: expected each once, got repeats {repeated[:5]}")
    return symbols


def _read_sentencepiece(path: Path, model_name: object) -> SentencePieceTokenizer:
    if not isinstance(model_name, str) or not model_name:
        raise UserError(f"{path}: model: expected a model file name, got {model_name!r}")
    model_path = path.parent / model_name
    inside = path.parent.resolve()
    if Path(model_name).is_absolute() or not model_path.resolve().is_relative_to(inside):
        raise UserError(f"{path}: model: expected a file inside {path.parent}, "
                        f"got {model_name!r}")
    try:
        tokenizer = SentencePieceTokenizer(model_path.read_bytes())
    except FileNotFoundError:
        raise UserError(f"{model_path}: sentencepiece model not found (named by {path})") from None
    except (OSError, RuntimeError) as error:
        reason = " ".join(str(error).split())
        raise UserError(f"{model_path}: corrupt sentencepiece model ({reason})") from None
    if tuple(tokenizer.symbols[:len(SPECIALS)]) != SPECIALS:
        raise UserError(f"{model_path}: pieces 0-3: expected {list(SPECIALS)}, "
                        f"got {tokenizer.symbols[:len(SPECIALS)]}")
    return tokenizer
