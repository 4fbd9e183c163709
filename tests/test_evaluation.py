"""Metrics and multi-reference grouping (scores from sacrebleu and jiwer)."""

import pytest

from seq2seq import metrics
from seq2seq.data.pairs import Pair
from seq2seq.evaluation import group_references


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
