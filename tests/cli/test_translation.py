"""``seq2seq train | translate | summary`` end to end on a handful of pairs (seconds)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seq2seq.api import Translator
from seq2seq.errors import UserError
from tests.helpers import CUDA, FAST, PAIRS, assert_one_line_error, run_cli


def test_train_writes_a_run_that_describes_itself(trained_run):
    for name in ("config.json", "metrics.jsonl", "loss.png", "source.tokenizer.json",
                 "target.tokenizer.json", "checkpoints/best/model.safetensors",
                 "checkpoints/best/target.tokenizer.json", "checkpoints/last/state.pt"):
        assert (trained_run / name).exists(), name
    rows = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    assert {"valid_loss", "valid_perplexity", "valid_accuracy", "valid_chrf",
            "valid_bleu"} <= set(rows[0])


def test_translate_writes_one_line_per_input_line_in_order(trained_run, tmp_path):
    lines = ["Go.", "", "Hi.", "Ω unknown ∑ characters", "Smile."]
    source = tmp_path / "input.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_cli("translate", str(trained_run), "--input", str(source), "--batch-size", "2")
    assert result.exit_code == 0, result.output
    outputs = result.stdout.split("\n")[:-1]
    assert len(outputs) == len(lines)
    assert outputs[1] == ""  # an empty line translates to an empty line
    assert "unknown source symbol" in result.stderr
    # in order: each line's output is its own translation (batches of 2 sort by length);
    # the scores differ from source to source even where the texts agree
    translator = Translator.from_pretrained(trained_run)
    alone = [translator.translate([line], scores=True)[0][0] for line in lines]
    assert outputs == [found.text for found in alone]
    scored = run_cli("translate", str(trained_run), "--input", str(source), "--batch-size", "2",
                     "--format", "jsonl")
    records = [json.loads(line) for line in scored.stdout.splitlines()]
    assert [r["source"] for r in records] == lines
    # equal to within the 4 decimals written (a batch of 2 and a batch of 1 may round
    # apart), and far enough apart that a score identifies its line
    assert [r["hypotheses"][0]["score"] for r in records] \
        == pytest.approx([a.score for a in alone], abs=1.5e-4)
    gaps = [abs(a.score - b.score) for i, a in enumerate(alone) for b in alone[i + 1 :]]
    assert min(gaps) > 1e-3
    from_stdin = run_cli("translate", str(trained_run), input="\n".join(lines) + "\n")
    assert from_stdin.stdout.split("\n")[:-1] == outputs


def test_summary_prints_the_keras_table(pairs_file):
    result = run_cli("summary", "fra-eng-keras", "--set", f"data.path={pairs_file}")
    assert result.exit_code == 0, result.output
    assert "Layer (type)" in result.output and "Total params:" in result.output
    assert "(LSTM)" in result.output


def test_bad_input_is_one_line_and_a_non_zero_exit(trained_run, pairs_file, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("Go.\tVa !\nno tab on this line\n", encoding="utf-8")
    cases = [
        (["train", "fra-eng", "--set", f"data.path={bad}", "--out", str(tmp_path / "a")],
         f"{bad}:2:"),
        (["train", "fra-eng", "--set", "data.path=missing.txt", "--out", str(tmp_path / "b")],
         "missing.txt"),
        (["train", "fra-eng", "--set", "model.unitz=3", "--out", str(tmp_path / "c")],
         "model.unitz: unknown key"),
        (["translate", str(tmp_path / "nothing")], "no such run directory"),
        (["translate", str(trained_run), "--input", str(tmp_path / "none.txt")],
         "none.txt: no such file"),
    ]
    for arguments, message in cases:
        result = run_cli(*arguments)
        assert_one_line_error(result, message, after_progress=True)


def test_resume_continues_an_interrupted_run_exactly(pairs_file, tmp_path):
    """Ctrl-C in the real command, then --resume: the weights equal an uninterrupted run's."""
    import os
    import signal
    import time

    from safetensors.torch import load_file

    common = [sys.executable, "-m", "seq2seq", "train", "fra-eng", *FAST, "--set",
              "train.epochs=30", "--set", f"data.path={pairs_file}", "--set",
              "eval.max_sentences=2"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([*common, "--out", str(tmp_path / "whole")], check=True, env=env,
                   capture_output=True)
    process = subprocess.Popen([*common, "--out", str(tmp_path / "cut")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "cut" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while (not metrics.exists() or len(metrics.read_text().splitlines()) < 3) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    resumed = subprocess.run([sys.executable, "-m", "seq2seq", "train", "--resume",
                              str(tmp_path / "cut")], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    whole = load_file(tmp_path / "whole" / "checkpoints" / "last" / "model.safetensors")
    cut = load_file(tmp_path / "cut" / "checkpoints" / "last" / "model.safetensors")
    assert whole.keys() == cut.keys()
    for name in whole:
        assert (whole[name] == cut[name]).all(), name


def test_beam_nbest_and_jsonl(trained_run):
    lines = ["Go.", "I see."]
    result = run_cli("translate", str(trained_run), "--beam", "3", "--nbest", "3", "--format",
                     "jsonl", input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["source"] for r in records] == lines
    for record in records:
        scores = [h["normalized_score"] for h in record["hypotheses"]]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    text = run_cli("translate", str(trained_run), "--beam", "3", "--nbest", "2", input="Go.\n")
    assert text.exit_code == 0 and text.stdout.count("\t") == 1
    too_many = run_cli("translate", str(trained_run), "--beam", "2", "--nbest", "3", input="Go.\n")
    assert_one_line_error(too_many, "--nbest: expected at most --beam (2), got 3")
    with pytest.raises(UserError, match=r"^nbest: expected at most beam \(2\), got 3$"):
        Translator.from_pretrained(trained_run).translate(["Go."], beam=2, nbest=3)


def test_translate_says_when_there_was_no_input(trained_run, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = run_cli("translate", str(trained_run), "--input", str(empty))
    assert result.exit_code == 0 and result.stdout == ""
    assert f"{empty}: no input lines; nothing translated" in result.stderr


def test_training_without_validation_pairs_is_refused_before_it_starts(pairs_file, tmp_path):
    # it used to train a whole epoch, then fail inside sacrebleu with no checkpoint saved
    result = run_cli("train", "fra-eng", *FAST, "--set", f"data.path={pairs_file}", "--set",
                     "data.valid_fraction=0", "--out", str(tmp_path / "r"))
    assert_one_line_error(result, "no validation pairs to evaluate each epoch on; hold some out "
                                  "with data.valid_fraction", after_progress=True)
    assert not (tmp_path / "r" / "metrics.jsonl").exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_output_is_one_line_and_a_non_zero_exit(trained_run):
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "seq2seq", "translate", str(trained_run)],
                                input="hello\n", stdout=full, stderr=subprocess.PIPE,
                                text=True)
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: writing the output: No space left on device"
    for arguments in (["--help"], ["--version"], ["translate", "--help"]):  # while parsing
        with open("/dev/full", "w") as full:
            result = subprocess.run([sys.executable, "-m", "seq2seq", *arguments],
                                    stdout=full, stderr=subprocess.PIPE, text=True)
        assert result.returncode == 1, arguments
        assert result.stderr.strip() == "Error: writing the output: No space left on device"


def test_evaluate_scores_single_and_multi_reference(trained_run, tmp_path):
    data = tmp_path / "held-out.txt"
    data.write_text("Go.\tVa !\nGo.\tBouge !\nHi.\tSalut !\n", encoding="utf-8")
    result = run_cli("evaluate", str(trained_run), "--data", str(data), "--metrics",
                     "bleu,chrf,ter,wer,cer,exact", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["pairs"] == 3 and report["distinct_sources"] == 2
    assert set(report["multi_reference"]) == {"bleu", "chrf", "ter", "wer", "cer", "exact"}
    table = run_cli("evaluate", str(trained_run), "--data", str(data), "--beam", "2")
    assert table.exit_code == 0 and "single-ref" in table.output and "beam 2" in table.output
    bad = run_cli("evaluate", str(trained_run), "--data", str(data), "--metrics", "blue")
    assert_one_line_error(bad, "--metrics: unknown ['blue']")
    # --data is scored whole: a selection or split key would do nothing; parsing keys apply
    ignored = run_cli("evaluate", str(trained_run), "--data", str(data), "--set", "data.first=1")
    assert_one_line_error(ignored, "--set 'data.first=1': does not apply with --data")
    lowered = run_cli("evaluate", str(trained_run), "--data", str(data), "--set",
                      "data.lowercase=true", "--json")
    assert lowered.exit_code == 0, lowered.output


def test_evaluate_samples_show_evenly_spread_sources_with_outputs_and_references(
        trained_run, tmp_path):
    # five distinct sources (one with two references): --samples 2 takes the first and
    # the third (every 5 // 2 = 2nd), each with the model's own output
    data = tmp_path / "held-out.txt"
    data.write_text("Go.\tVa !\nHi.\tSalut !\nRun!\tCours !\nRun!\tCourez !\n"
                    "Wow!\tÇa alors !\nFire!\tAu feu !\n", encoding="utf-8")
    result = run_cli("evaluate", str(trained_run), "--data", str(data), "--samples", "2", "--json")
    assert result.exit_code == 0, result.output
    samples = json.loads(result.output)["samples"]
    translator = Translator.from_pretrained(trained_run)
    assert samples == [
        {"source": "Go.", "output": translator.translate(["Go."])[0], "references": ["Va !"]},
        {"source": "Run!", "output": translator.translate(["Run!"])[0],
         "references": ["Cours !", "Courez !"]}]
    table = run_cli("evaluate", str(trained_run), "--data", str(data), "--samples",
                    "9")  # more than there are: all five
    assert table.exit_code == 0, table.output
    assert "5 samples" in table.output and "     = Courez !" in table.output
    assert "samples" not in run_cli("evaluate", str(trained_run), "--data", str(data)).output
    bad = run_cli("evaluate", str(trained_run), "--data", str(data), "--samples", "0")
    assert_one_line_error(bad, "--samples: expected a positive integer")


def test_evaluate_split_scores_the_runs_own_held_out_pairs(trained_run, tmp_path):
    held_out = tmp_path / "valid.txt"  # fra-eng holds out the last 20%: the last 3 of 12
    held_out.write_text("".join(f"{s}\t{t}\n" for s, t in PAIRS[9:]), encoding="utf-8")
    by_file = run_cli("evaluate", str(trained_run), "--data", str(held_out), "--json")
    by_split = run_cli("evaluate", str(trained_run), "--split", "valid", "--json")
    assert by_split.exit_code == 0, by_split.output
    assert json.loads(by_split.output) == json.loads(by_file.output)
    assert json.loads(by_split.output)["pairs"] == 3
    none = run_cli("evaluate", str(trained_run), "--split", "test")
    assert_one_line_error(none, "recipe holds out no test pairs")
    neither = run_cli("evaluate", str(trained_run))
    assert_one_line_error(neither, "give either --data FILE or --split")


def test_evaluate_split_keeps_the_runs_held_out_pairs(trained_run, pairs_file):
    # data.valid_fraction=0.9 used to score 9 of the 12 pairs, most of them training pairs,
    # as "valid"; where the data lies may still change
    moved = run_cli("evaluate", str(trained_run), "--split", "valid", "--set",
                    f"data.path={pairs_file}", "--json")
    assert moved.exit_code == 0 and json.loads(moved.output)["pairs"] == 3
    for key in ("data.valid_fraction=0.9", "data.first=20000", "data.hold_out=sources"):
        result = run_cli("evaluate", str(trained_run), "--split", "valid", "--set", key)
        assert_one_line_error(result)
        assert result.output == (f"Error: --set {key!r}: the held-out data is the run's "
                                 "own; only where the data lies may change: data.path, "
                                 "data.valid_path, data.test_path, data.hf\n")


def test_evaluate_split_says_where_a_relative_data_path_is_read_from(trained_run, tmp_path,
                                                                      monkeypatch):
    """A run keeps its data.path as given; relative, it is read from where evaluate runs."""
    monkeypatch.chdir(tmp_path)
    result = run_cli("evaluate", str(trained_run), "--split", "valid", "--set",
                     "data.path=data/pairs.txt")
    assert_one_line_error(result, f"data.path: data/pairs.txt: no such file from {tmp_path}; "
                                  "the run reads it relative to where you run it",
                          "--set data.path=PATH")


def test_the_runs_decode_nbest_is_what_translate_returns_and_evaluate_scores_one(
        pairs_file, tmp_path):
    run = tmp_path / "run"
    trained = run_cli("train", "fra-eng", *FAST, "--set", "train.epochs=1", "--set",
                      f"data.path={pairs_file}", "--set", "decode.beam_size=3", "--set",
                      "decode.nbest=2", "--out", str(run))
    assert trained.exit_code == 0, trained.output
    two = run_cli("translate", str(run), input="Go.\n")
    assert two.exit_code == 0 and len(two.stdout.rstrip("\n").split("\t")) == 2
    one = run_cli("translate", str(run), "--beam", "1", input="Go.\n")
    assert one.exit_code == 0 and len(one.stdout.rstrip("\n").split("\t")) == 1
    greedy = run_cli("evaluate", str(run), "--split", "valid", "--beam", "1")
    assert greedy.exit_code == 0, greedy.output  # it scores the best output only


def test_evaluate_reads_a_csv_with_its_own_fields_beside_a_tsv_trained_run(trained_run,
                                                                           tmp_path):
    # the field keys were checked against the run's own data (a .txt), so refused
    tsv, csv = tmp_path / "held.txt", tmp_path / "held.csv"
    tsv.write_text("".join(f"{s}\t{t}\n" for s, t in PAIRS[9:]), encoding="utf-8")
    csv.write_text("en,fr\n" + "".join(f'"{s}","{t}"\n' for s, t in PAIRS[9:]),
                   encoding="utf-8")
    by_csv = run_cli("evaluate", str(trained_run), "--data", str(csv), "--set", "data.src_field=en",
                     "--set", "data.tgt_field=fr", "--json")
    assert by_csv.exit_code == 0, by_csv.output
    by_tsv = run_cli("evaluate", str(trained_run), "--data", str(tsv), "--json")
    assert json.loads(by_csv.output) == json.loads(by_tsv.output)


def test_evaluating_a_run_that_samples_gives_the_same_scores_twice(pairs_file, tmp_path):
    run = tmp_path / "run"
    trained = run_cli("train", "fra-eng", *FAST, "--set", "train.epochs=1", "--set",
                      f"data.path={pairs_file}", "--set", "decode.sample=true", "--out", str(run))
    assert trained.exit_code == 0, trained.output
    first, second = (run_cli("evaluate", str(run), "--split", "valid", "--json", "--samples", "3")
                     for _ in range(2))
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == json.loads(second.output)


def test_evaluate_says_how_many_bad_lines_it_skipped(trained_run, tmp_path):
    data = tmp_path / "bad.txt"
    data.write_text("Go.\tVa !\nno tab here\nHi.\tSalut !\n", encoding="utf-8")
    result = run_cli("evaluate", str(trained_run), "--data", str(data), "--set",
                     "data.on_bad_line=skip")
    assert result.exit_code == 0, result.output
    assert f"{data}: 1 bad lines skipped" in result.stderr
    empty = run_cli("evaluate", str(trained_run), "--data", str(data), "--metrics", "")
    assert_one_line_error(empty, "--metrics: unknown")


@CUDA
def test_training_resuming_and_translating_on_cuda_through_the_command_line(pairs_file,
                                                                           tmp_path):
    run_dir = tmp_path / "cuda"
    result = run_cli("train", "fra-eng", *FAST, "--set", f"data.path={pairs_file}", "--device",
                     "cuda", "--out", str(run_dir))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(row["train_loss"] > 0 for row in rows)
    result = run_cli("train", "--resume", str(run_dir), "--set", "train.epochs=3", "--device",
                     "cuda")
    assert result.exit_code == 0, result.output
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 3
    translator = Translator.from_pretrained(run_dir, device="cuda")
    assert translator.device.type == "cuda"
    on_gpu = translator.translate(["the cat sleeps.", "hello"], beam=3)
    on_cpu = Translator.from_pretrained(run_dir).translate(["the cat sleeps.", "hello"], beam=3)
    assert on_gpu == on_cpu
