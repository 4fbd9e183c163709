"""The Python API (``Translator``) on a trained run."""

from seq2seq.translator import Translator
from tests.helpers import PAIRS


def test_python_api_beam_one_is_greedy(trained_run):
    translator = Translator.from_pretrained(trained_run)
    sentences = [src for src, _ in PAIRS]
    greedy = translator.translate(sentences)
    assert translator.translate(sentences, beam=1) == greedy
    hypotheses = translator.translate(sentences, beam=4, nbest=2)
    assert all(len(nbest) == 2 and nbest[0].text != nbest[1].text for nbest in hypotheses)
