"""Corpus metrics from kept libraries: sacrebleu (BLEU, chrF, TER), jiwer (WER, PER, CER).

Every function takes the system outputs and, per output, a list of references (one or
more: Tatoeba has many translations of one sentence, CMUdict several pronunciations of
one word) and returns a percentage.
"""

from __future__ import annotations

from collections.abc import Sequence

import jiwer
import sacrebleu

References = Sequence[Sequence[str]]


def _reference_streams(references: References) -> list[list[str | None]]:
    """sacrebleu's layout: stream k holds each sentence's k-th reference, ``None`` where a
    sentence has fewer (sacrebleu skips ``None``; an ``""`` would count as a real, empty
    reference)."""
    width = max((len(refs) for refs in references), default=1)
    return [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]


def bleu(hypotheses: Sequence[str], references: References) -> float:
    return sacrebleu.corpus_bleu(list(hypotheses), _reference_streams(references)).score


def chrf(hypotheses: Sequence[str], references: References) -> float:
    return sacrebleu.corpus_chrf(list(hypotheses), _reference_streams(references)).score


def ter(hypotheses: Sequence[str], references: References) -> float:
    return sacrebleu.corpus_ter(list(hypotheses), _reference_streams(references)).score


def exact(hypotheses: Sequence[str], references: References) -> float:
    """Percentage of outputs equal to one of their references."""
    hits = sum(h in refs for h, refs in zip(hypotheses, references))
    return 100.0 * hits / max(len(hypotheses), 1)


def _edits(alignment) -> int:
    return alignment.substitutions + alignment.deletions + alignment.insertions


def _closest(hypothesis: str, references: Sequence[str], align) -> str:
    """The reference needing the fewest edits to become ``hypothesis`` (the first on ties)."""
    return min(references, key=lambda ref: _edits(align(ref or " ", hypothesis or " ")))


def _edit_rate(hypotheses, references, align) -> float:
    """Edits against each output's closest reference, over those references' lengths."""
    chosen = [_closest(h, refs, align) for h, refs in zip(hypotheses, references)]
    alignment = align([r or " " for r in chosen], [h or " " for h in hypotheses])
    reference_length = alignment.hits + alignment.substitutions + alignment.deletions
    return 100.0 * _edits(alignment) / max(reference_length, 1)


def word_error_rate(hypotheses: Sequence[str], references: References) -> float:
    """Word edits / reference words, against each output's closest reference (fewest edits).

    Over phoneme strings ("HH AH L OW") this is the phoneme error rate (PER).
    """
    return _edit_rate(hypotheses, references, jiwer.process_words)


def character_error_rate(hypotheses: Sequence[str], references: References) -> float:
    """Character edits / reference characters, against each output's closest reference."""
    return _edit_rate(hypotheses, references, jiwer.process_characters)


def sequence_error_rate(hypotheses: Sequence[str], references: References) -> float:
    """Percentage of outputs matching none of their references: G2P's word error rate."""
    return 100.0 - exact(hypotheses, references)


METRICS = {
    "bleu": bleu, "chrf": chrf, "ter": ter, "exact": exact,
    "wer": word_error_rate, "per": word_error_rate, "cer": character_error_rate,
    "ser": sequence_error_rate,
}
