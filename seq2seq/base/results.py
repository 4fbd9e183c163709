"""What searching and translating give, whichever engine decodes (torch or the export
runtime): a search's :class:`Hypothesis` (token ids), a line's :class:`TranslatedLine`, its
:class:`Translation` hypotheses and their :class:`Alignment`, and
:func:`translate_sentences`, the rule for turning lines into them."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Alignment", "Hypothesis", "TranslatedLine", "Translation", "api_results",
           "translate_sentences"]


@dataclass
class Hypothesis:
    """One output of a search: its token ids (without bos/eos) and its log-probability under
    the model.

    ``score`` is the raw sum of log-probabilities of the tokens (and of eos when the output
    ended with it); ``normalized_score`` is what beam search ranks by (the search's
    ``length_penalty``), equal to ``score`` when ``alpha`` is 0.
    """

    tokens: list[int]
    score: float
    normalized_score: float = 0.0


@dataclass
class Alignment:
    """What the decoder attended to while writing one hypothesis: ``weights[i][j]`` is the
    weight of source token ``source[j]`` at the step that wrote ``output[i]`` (the last
    row, ``"</s>"``, is the step that ended the output, when it ended with eos)."""

    source: list[str]
    output: list[str]
    weights: list[list[float]]


@dataclass
class Translation:
    """One hypothesis as text, with its log-probability and its length-normalised score
    (and, when asked for, its :class:`Alignment`)."""

    text: str
    score: float
    normalized_score: float
    attention: Alignment | None = None


@dataclass
class TranslatedLine:
    """One input's n-best list and its length in source tokens; ``untranslated`` says why
    the list is empty: ``"too long"`` (over the input limit) or ``"no hypothesis"`` (every
    continuation forbidden by ``min_len``/``no_repeat_ngram``)."""

    hypotheses: list[Translation]
    source_tokens: int
    untranslated: Literal["", "too long", "no hypothesis"] = ""



def translate_sentences(sentences: list[str], source, target, max_input_len: int,
                        decode: Callable[[list[list[int]]], Sequence[Sequence[Hypothesis]]],
                        align: Callable | None = None) -> list[TranslatedLine]:
    """Every sentence's :class:`TranslatedLine`, in the input's order; each sentence is
    encoded once with ``source`` and its hypotheses decoded with ``target``.

    ``decode(id_lists)`` returns each id list's n-best hypotheses (``tokens``, ``score``,
    ``normalized_score``); ``align(sentences, id_lists, found)``, when given, one
    :class:`Alignment` per hypothesis of ``found``, in order. An empty (or all-blank)
    sentence translates to one empty translation. A sentence of more than
    ``max_input_len`` source tokens (if > 0), or one for which the search finds no
    hypothesis, gets an empty list and the reason.
    """
    encoded = [source.encode(s) for s in sentences]
    results = [TranslatedLine([Translation("", 0.0, 0.0)], len(ids)) for ids in encoded]
    todo = [i for i, ids in enumerate(encoded) if ids and sentences[i].strip()]
    if max_input_len:
        for i in [i for i in todo if len(encoded[i]) > max_input_len]:
            results[i] = TranslatedLine([], len(encoded[i]), "too long")
        todo = [i for i in todo if len(encoded[i]) <= max_input_len]
    found = decode([encoded[i] for i in todo])
    alignments = iter(align([sentences[i] for i in todo], [encoded[i] for i in todo], found)
                      if align else [])
    for index, nbest in zip(todo, found):
        results[index] = TranslatedLine(
            [Translation(target.decode(h.tokens), h.score, h.normalized_score,
                         next(alignments) if align else None) for h in nbest],
            len(encoded[index]), "" if nbest else "no hypothesis")
    return results


def api_results(lines: list[TranslatedLine], max_input_len: int, with_scores: bool):
    """What ``translate`` returns for ``lines``: texts (``""`` where a line was left
    untranslated), or with ``with_scores`` the n-best lists; a warning per reason a line
    was left untranslated, naming the first such line."""
    for reason, why in (("too long", f"over max_input_len {max_input_len} tokens"),
                        ("no hypothesis", "the search found no hypothesis")):
        left = [i for i, line in enumerate(lines) if line.untranslated == reason]
        if left:
            warnings.warn(f"{len(left)} sentence(s) left untranslated ({why}), first: "
                          f"index {left[0]}", stacklevel=3)
    if with_scores:
        return [line.hypotheses for line in lines]
    return [line.hypotheses[0].text if line.hypotheses else "" for line in lines]
