"""The Python API (:mod:`seq2seq.api`): ``Translator`` on a trained run, and its import
paths: ``from seq2seq import Translator`` (imported when asked for, so that
``import seq2seq`` stays without torch) and the former ``seq2seq.translator``."""

import subprocess
import sys

import pytest

from seq2seq.api import Translator
from tests.helpers import PAIRS


def test_python_api_beam_one_is_greedy(trained_run):
    translator = Translator.from_pretrained(trained_run)
    sentences = [src for src, _ in PAIRS]
    greedy = translator.translate(sentences)
    assert translator.translate(sentences, beam=1) == greedy
    hypotheses = translator.translate(sentences, beam=4, nbest=2)
    assert all(len(nbest) == 2 and nbest[0].text != nbest[1].text for nbest in hypotheses)


def test_translator_is_importable_from_the_package_and_the_former_path():
    import seq2seq
    from seq2seq import Translator
    from seq2seq.api import Translator as api_translator
    from seq2seq.translator import Alignment, Translation
    from seq2seq.translator import Translator as former

    assert Translator is api_translator is former
    assert (Alignment, Translation) == (seq2seq.api.Alignment, seq2seq.api.Translation)
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        seq2seq.Nothing  # noqa: B018


def test_importing_the_package_does_not_import_torch():
    script = ("import sys\nimport seq2seq\n"
              "assert 'torch' not in sys.modules, 'torch was imported'\n"
              "from seq2seq import Translator\nassert 'torch' in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
