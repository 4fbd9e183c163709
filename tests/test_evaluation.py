"""Metrics and multi-reference grouping (scores from sacrebleu and jiwer)."""

import pytest
import sacrebleu

from seq2seq import metrics
from seq2seq.data.pairs import Pair
from seq2seq.evaluation import group_references, sample_sources


def test_multi_reference_takes_the_best_match():
    hypotheses = ["Bouge !"]
    assert metrics.exact(hypotheses, [["Va !"]]) == 0
    assert metrics.exact(hypotheses, [["Va !", "Bouge !"]]) == 100
    assert metrics.chrf(hypotheses, [["Va !", "Bouge !"]]) == pytest.approx(100)
    sentence = "the cat sat on the mat today"
    assert metrics.bleu([sentence], [["a dog sat on a rug", sentence]]) == pytest.approx(100)


def test_error_rates_are_edit_distances_against_the_closest_reference():
    assert metrics.word_error_rate(["HH AH L OW"], [["HH EH L OW"]]) == pytest.approx(25)
    assert metrics.word_error_rate(["R EH D"], [["R IY D", "R EH D"]]) == 0
    assert metrics.character_error_rate(["abd"], [["abc"]]) == pytest.approx(100 / 3)
    assert metrics.sequence_error_rate(["a", "b"], [["a"], ["c", "d"]]) == 50


def test_group_references_keeps_first_appearance_order():
    pairs = [Pair("Go.", "Va !"), Pair("Hi.", "Salut !"), Pair("Go.", "Bouge !"),
             Pair("Go.", "Va !")]
    assert group_references(pairs) == {"Go.": ["Va !", "Bouge !"], "Hi.": ["Salut !"]}


def test_samples_are_the_first_source_then_every_len_over_count_th():
    sources = [f"s{i}" for i in range(1460)]  # fra-eng-full's test split: every 146th
    assert sample_sources(sources, 10) == [f"s{146 * i}" for i in range(10)]
    assert sample_sources(sources[:7], 3) == ["s0", "s2", "s4"]
    assert sample_sources(sources[:2], 5) == ["s0", "s1"]
    assert sample_sources(sources, 0) == []


# Sources with 1, 3 and 2 references: sacrebleu pads the shorter lists with None.
UNEVEN_HYPOTHESES = ["the cat sat on the mat", "he went home early", "it is cold today"]
UNEVEN_REFERENCES = [["the cat is on the mat"],
                     ["he went home", "he left for home early", "early he went home"],
                     ["today it is cold", "it's cold today"]]


def summed_sentence_statistics(metric):
    """Corpus statistics summed over sentences, each scored by sacrebleu against exactly its
    own references (no padding involved): the independent expectation."""
    return [metric(h, refs) for h, refs in zip(UNEVEN_HYPOTHESES, UNEVEN_REFERENCES)]


def test_multi_reference_bleu_with_uneven_reference_counts():
    from sacrebleu.metrics import BLEU

    scores = summed_sentence_statistics(
        lambda h, refs: BLEU().corpus_score([h], [[r] for r in refs]))
    expected = BLEU.compute_bleu([sum(s.counts[n] for s in scores) for n in range(4)],
                                 [sum(s.totals[n] for s in scores) for n in range(4)],
                                 sum(s.sys_len for s in scores), sum(s.ref_len for s in scores),
                                 smooth_method="exp").score
    assert metrics.bleu(UNEVEN_HYPOTHESES, UNEVEN_REFERENCES) == pytest.approx(expected, abs=1e-9)


def test_multi_reference_ter_with_uneven_reference_counts():
    from sacrebleu.metrics import TER

    scores = summed_sentence_statistics(
        lambda h, refs: TER().corpus_score([h], [[r] for r in refs]))
    expected = 100 * sum(s.num_edits for s in scores) / sum(s.ref_length for s in scores)
    got = metrics.ter(UNEVEN_HYPOTHESES, UNEVEN_REFERENCES)
    assert got == pytest.approx(expected, abs=1e-9)
    padded = sacrebleu.corpus_ter(UNEVEN_HYPOTHESES, [[refs[k] if k < len(refs) else ""
                                                       for refs in UNEVEN_REFERENCES]
                                                      for k in range(3)]).score
    assert got != pytest.approx(padded)  # "" counts as a real, empty reference


def test_multi_reference_chrf_with_uneven_reference_counts():
    from sacrebleu.metrics import CHRF

    chrf = CHRF()

    def best_reference_statistics(hypothesis, references):  # chrF keeps the best reference
        best = max(references, key=lambda r: chrf.sentence_score(hypothesis, [r]).score)
        return chrf._extract_corpus_statistics([hypothesis], [[best]])[0]

    statistics = summed_sentence_statistics(best_reference_statistics)
    expected = chrf._compute_score_from_stats([sum(column) for column in zip(*statistics)]).score
    assert metrics.chrf(UNEVEN_HYPOTHESES, UNEVEN_REFERENCES) == pytest.approx(expected,
                                                                                abs=1e-9)


@pytest.mark.parametrize("name", ["bleu", "chrf", "ter"])
def test_one_reference_per_source_is_the_single_reference_score(name):
    references = [refs[0] for refs in UNEVEN_REFERENCES]
    single = getattr(sacrebleu, f"corpus_{name}")(UNEVEN_HYPOTHESES, [references]).score
    assert metrics.METRICS[name](UNEVEN_HYPOTHESES, [[r] for r in references]) == single


def test_the_closest_reference_is_the_one_with_the_fewest_edits():
    # "A B" needs 4 edits (rate 4/2), the long one 12 (rate 12/12): fewest edits wins
    hypothesis, short, long = "A B C D E F", "A B", "Z Y X W V U T S R Q P O"
    assert metrics.word_error_rate([hypothesis], [[long, short]]) == pytest.approx(200)
    assert metrics.word_error_rate([hypothesis], [[short, long]]) == pytest.approx(200)
    assert metrics.character_error_rate(["abcdef"], [["ab", "zyxwvutsrqpo"]]) == pytest.approx(
        200)
