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


def _reference_streams(references: References) -> list[list[str]]:
    """sacrebleu's layout: stream k holds each sentence's k-th reference ('' if none)."""
    width = max(len(refs) for refs in references)
    return [[refs[k] if k < len(refs) else "" for refs in references] for k in range(width)]


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


def _closest(hypothesis: str, references: Sequence[str], measure) -> str:
    return min(references, key=lambda ref: measure(ref or " ", hypothesis or " "))


def _edit_rate(hypotheses, references, measure) -> float:
    chosen = [_closest(h, refs, measure) for h, refs in zip(hypotheses, references)]
    return 100.0 * measure([r or " " for r in chosen], [h or " " for h in hypotheses])


def word_error_rate(hypotheses: Sequence[str], references: References) -> float:
    """Word-level edit distance / reference words, against each output's closest reference.

    Over phoneme strings ("HH AH L OW") this is the phoneme error rate (PER).
    """
    return _edit_rate(hypotheses, references, jiwer.wer)


def character_error_rate(hypotheses: Sequence[str], references: References) -> float:
    return _edit_rate(hypotheses, references, jiwer.cer)


def sequence_error_rate(hypotheses: Sequence[str], references: References) -> float:
    """Percentage of outputs matching none of their references: G2P's word error rate."""
    return 100.0 - exact(hypotheses, references)


METRICS = {
    "bleu": bleu, "chrf": chrf, "ter": ter, "exact": exact,
    "wer": word_error_rate, "per": word_error_rate, "cer": character_error_rate,
    "ser": sequence_error_rate,
}
