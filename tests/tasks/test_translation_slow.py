"""The Keras example's model on the real fra-eng pairs (../shared/data/fra-eng/fra.txt):
slow, skipped without it."""

import json

import pytest

from tests.helpers import run_cli

pytestmark = pytest.mark.slow


def test_fra_eng_keras_learns_and_scores_its_held_out_split(fra_txt, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("train", "fra-eng-keras", "--set", f"data.path={fra_txt}", "--set",
                     "train.epochs=5", "--threads", "2", "--out", str(run_dir))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [row["valid_loss"] for row in rows]
    assert len(losses) == 5 and losses == sorted(losses, reverse=True)
    assert losses[-1] < 2.0  # this seed: 1.89 per real token after 5 epochs

    scored = run_cli("evaluate", str(run_dir), "--split", "valid", "--json")
    assert scored.exit_code == 0, scored.output
    report = json.loads(scored.output)
    assert (report["pairs"], report["distinct_sources"]) == (2000, 1208)
    assert report["multi_reference"]["chrf"] > report["single_reference"]["chrf"]

    first_300 = tmp_path / "first-300.txt"  # what training scores (eval.max_sentences = 300)
    lines = fra_txt.read_text(encoding="utf-8").splitlines(keepends=True)
    first_300.write_text("".join(lines[8000:8300]), encoding="utf-8")
    scored = run_cli("evaluate", str(run_dir), "--data", str(first_300), "--json")
    assert scored.exit_code == 0, scored.output
    chrf = json.loads(scored.output)["single_reference"]["chrf"]
    assert chrf == pytest.approx(rows[-1]["valid_chrf"], abs=1e-6)

    translated = run_cli("translate", str(run_dir), input="Go.\nI am cold.\n")
    assert translated.exit_code == 0, translated.output
    assert len(translated.stdout.splitlines()) == 2
