"""``translate`` and ``evaluate`` with ``--ensemble`` (the model itself:
tests/models/test_ensemble.py): members checked by name, decoding as one."""

import json
import shutil

import pytest

from seq2seq.api import Translator
from seq2seq.errors import UserError
from tests.helpers import FAST, assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def second_run(pairs_file, tmp_path_factory):
    """Another run on :func:`pairs_file`, from another seed: the same tokenizers and split,
    other weights."""
    run_dir = tmp_path_factory.mktemp("runs") / "fra-seed-1"
    result = run_cli("train", "fra-eng", *FAST, "--set", f"data.path={pairs_file}", "--set",
                     "train.seed=1", "--out", str(run_dir))
    assert result.exit_code == 0, result.output
    return run_dir


def test_translate_and_evaluate_decode_with_the_ensemble(trained_run, second_run, pairs_file,
                                                         tmp_path):
    lines = ["Go.", "I see.", "Smile.", "Wait!"]
    source = tmp_path / "input.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    translate = ["translate", str(trained_run), "--input", str(source), "--beam", "3",
                 "--format", "jsonl"]
    result = run_cli(*translate, "--ensemble", str(second_run))
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    ensemble = Translator.from_pretrained(trained_run, ensemble=[second_run])
    expected = ensemble.translate(lines, beam=3, scores=True)
    assert [r["hypotheses"][0]["text"] for r in records] == [t[0].text for t in expected]
    assert [r["hypotheses"][0]["score"] for r in records] \
        == pytest.approx([t[0].score for t in expected], abs=1.5e-4)
    alone = [json.loads(line) for line in run_cli(*translate).stdout.splitlines()]
    assert [r["hypotheses"][0]["score"] for r in alone] \
        != pytest.approx([r["hypotheses"][0]["score"] for r in records], abs=1e-3)

    # evaluate: the ensemble's outputs (every validation source shown with --samples)
    evaluate = ["evaluate", str(trained_run), "--split", "valid", "--metrics", "chrf,exact",
                "--samples", "100", "--json"]
    scored = json.loads(run_cli(*evaluate, "--ensemble", str(second_run)).stdout)
    sources = [sample["source"] for sample in scored["samples"]]
    assert sources and [sample["output"] for sample in scored["samples"]] \
        == ensemble.translate(sources)
    alone = json.loads(run_cli(*evaluate).stdout)
    assert [sample["output"] for sample in alone["samples"]] \
        == Translator.from_pretrained(trained_run).translate(sources) \
        != ensemble.translate(sources)


def altered_copy(run_dir, tmp_path, name: str, change) -> str:
    """A copy of ``run_dir`` whose best checkpoint's file ``name`` (JSON) is ``change``d."""
    copy = tmp_path / f"{change.__name__}"
    shutil.copytree(run_dir, copy)
    path = copy / "checkpoints" / "best" / name
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(copy)


def test_members_with_other_tokenizers_or_another_split_are_refused_by_name(
        trained_run, second_run, tmp_path):
    def swap_two_symbols(data):
        data["symbols"][-1], data["symbols"][-2] = data["symbols"][-2], data["symbols"][-1]

    other_symbols = altered_copy(second_run, tmp_path, "target.tokenizer.json",
                                 swap_two_symbols)
    result = run_cli("translate", str(trained_run), "--ensemble", other_symbols, input="Go.\n")
    assert_one_line_error(result)
    assert result.output.strip().splitlines() == [
        f"Error: ensemble member {other_symbols}: its target tokenizer ({other_symbols}/"
        f"checkpoints/best/target.tokenizer.json) differs from {trained_run}'s: ensemble "
        "members must share their tokenizers (train them on the same data)"]

    def hold_out_more(data):
        data["data"]["valid_fraction"] = 0.5

    other_split = altered_copy(second_run, tmp_path, "config.json", hold_out_more)
    evaluate = ["evaluate", str(trained_run), "--ensemble", other_split]
    result = run_cli(*evaluate, "--split", "valid")
    assert_one_line_error(result,
                          f"Error: ensemble member {other_split}: data.valid_fraction is 0.5, ")
    # where the data lies may differ (runs trained from other directories, files moved)
    def moved(data):
        data["data"]["path"] = "elsewhere/pairs.txt"

    moved_data = altered_copy(second_run, tmp_path, "config.json", moved)
    result = run_cli("evaluate", str(trained_run), "--ensemble", moved_data, "--split", "valid")
    assert result.exit_code == 0, result.output
    # scoring a file of its own is every member's held-out data alike: allowed
    data = tmp_path / "held-out.txt"
    data.write_text("Go.\tVa !\tCC-BY 2.0\n", encoding="utf-8")
    assert run_cli(*evaluate, "--data", str(data)).exit_code == 0


def test_an_ensemble_has_no_one_alignment(trained_run, second_run):
    result = run_cli("translate", str(trained_run), "--ensemble", str(second_run), "--format",
                     "jsonl", "--attention", input="Go.\n")
    assert_one_line_error(result, "--attention: an ensemble has no one alignment")
    ensemble = Translator.from_pretrained(trained_run, ensemble=[second_run])
    with pytest.raises(UserError, match="an ensemble has no one alignment"):
        ensemble.align("Go.")


def test_a_member_missing_or_named_twice_is_refused_by_name(trained_run, second_run,
                                                           tmp_path):
    for members, message in (
            ([tmp_path / "nowhere"], f"ensemble member: {tmp_path / 'nowhere'}: no such run "
                                     "directory"),
            ([second_run, second_run], f"ensemble member {second_run}: the same checkpoint "
                                       f"as {second_run}; name each run once"),
            ([trained_run / "checkpoints" / "best"], f"ensemble member {trained_run}/"
                                                     f"checkpoints/best: the same checkpoint "
                                                     f"as {trained_run}; name each run once")):
        args = ["translate", str(trained_run),
                *(a for m in members for a in ("--ensemble", str(m)))]
        result = run_cli(*args, input="Go.\n")
        assert (result.exit_code, result.output) == (1, f"Error: {message}\n")


def test_members_with_other_sentencepiece_models_are_refused(pairs_file, tmp_path):
    # the two runs' tokenizer files are alike ({"kind": "sentencepiece", "model": ...}):
    # their models differ, which is what is compared
    from seq2seq import checkpoint

    runs = []
    for model_type in ("unigram", "bpe"):
        runs.append(tmp_path / model_type)
        result = run_cli("train", "fra-eng", *FAST, "--set", "train.epochs=1", "--set",
                         f"data.path={pairs_file}", "--set", "tokenizer.target.kind=sentencepiece",
                         "--set", f"tokenizer.target.sp_model_type={model_type}", "--set",
                         "tokenizer.target.sp_vocab_size=40", "--out", str(runs[-1]))
        assert result.exit_code == 0, result.output
    best = [checkpoint.resolve(run, "best") for run in runs]
    assert (best[0] / "target.tokenizer.json").read_bytes() \
        == (best[1] / "target.tokenizer.json").read_bytes()
    result = run_cli("translate", str(runs[0]), "--ensemble", str(runs[1]), input="Go.\n")
    assert_one_line_error(result)
    assert result.output.startswith(f"Error: ensemble member {runs[1]}: its target tokenizer "
                                    f"({best[1]}/target.spm.model) differs from {runs[0]}'s")
