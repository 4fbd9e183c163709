"""An export of a model trained on the real fra-eng pairs (../shared/data/fra-eng/fra.txt)
translates token for token as the run does: slow, skipped without the data."""

import itertools

import pytest

from seq2seq import metrics
from seq2seq.api import Translator
from seq2seq.config import override_section
from seq2seq.export import export_run
from seq2seq.runtime import OnnxTranslator
from seq2seq.tasks.translation import load_splits
from tests.helpers import run_cli

pytestmark = pytest.mark.slow


def test_an_exported_keras_model_translates_300_sources_as_torch_does(fra_txt, tmp_path):  # noqa: F811
    """fra-eng-keras after 4 epochs; 300 validation sources, greedy and beam 5: the same
    outputs and scores within 1e-4 from the fp32 export; the int8 export within a point
    of chrF."""
    run = tmp_path / "run"
    result = run_cli("train", "fra-eng-keras", "--set", f"data.path={fra_txt}", "--set",
                     "train.epochs=4", "--threads", "2", "--out", str(run))
    assert result.exit_code == 0, result.output
    export_run(run, tmp_path / "fp32", log=lambda _: None)
    export_run(run, tmp_path / "int8", "int8", log=lambda _: None)
    torch_side = Translator.from_pretrained(run)
    fp32, int8 = OnnxTranslator(tmp_path / "fp32"), OnnxTranslator(tmp_path / "int8")
    data = override_section(torch_side.recipe.data, "data", [f"data.path={fra_txt}"])
    pairs = load_splits(data).valid[:300]
    sources, references = [p.src for p in pairs], [[p.tgt] for p in pairs]
    for beam in (1, 5):
        expected = torch_side.translate(sources, beam=beam, scores=True)
        got = fp32.translate(sources, beam=beam, scores=True)
        assert [[t.text for t in n] for n in got] == [[t.text for t in n] for n in expected]
        assert max(abs(a.score - b.score) for a, b in
                   zip(itertools.chain(*got), itertools.chain(*expected))) < 1e-4
        chrf = metrics.METRICS["chrf"]
        quantized = int8.translate(sources, beam=beam)
        assert abs(chrf(quantized, references) - chrf([n[0].text for n in expected],
                                                      references)) < 1.0
