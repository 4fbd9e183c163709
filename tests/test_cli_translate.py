"""``seq2seq train | translate | summary`` end to end on a handful of pairs (seconds)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from seq2seq.api import Translator
from seq2seq.benchmarks.train import ATTENTION_VARIANTS
from seq2seq.cli import main
from seq2seq.errors import UserError
from tests.conftest import CUDA, FAST, PAIRS  # noqa: F401 - other test modules import them here


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
    result = CliRunner().invoke(main, ["translate", str(trained_run), "--input", str(source),
                                       "--batch-size", "2"])
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
    scored = CliRunner().invoke(main, ["translate", str(trained_run), "--input", str(source),
                                       "--batch-size", "2", "--format", "jsonl"])
    records = [json.loads(line) for line in scored.stdout.splitlines()]
    assert [r["source"] for r in records] == lines
    # equal to within the 4 decimals written (a batch of 2 and a batch of 1 may round
    # apart), and far enough apart that a score identifies its line
    assert [r["hypotheses"][0]["score"] for r in records] \
        == pytest.approx([a.score for a in alone], abs=1.5e-4)
    gaps = [abs(a.score - b.score) for i, a in enumerate(alone) for b in alone[i + 1 :]]
    assert min(gaps) > 1e-3
    from_stdin = CliRunner().invoke(main, ["translate", str(trained_run)],
                                    input="\n".join(lines) + "\n")
    assert from_stdin.stdout.split("\n")[:-1] == outputs


def test_summary_prints_the_keras_table(pairs_file):
    result = CliRunner().invoke(main, ["summary", "fra-eng-keras", "--set",
                                       f"data.path={pairs_file}"])
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
        result = CliRunner().invoke(main, arguments)
        assert result.exit_code == 1, (arguments, result.output)
        assert message in result.output, result.output
        assert "Traceback" not in result.output


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
    result = CliRunner().invoke(main, ["translate", str(trained_run), "--beam", "3", "--nbest",
                                       "3", "--format", "jsonl"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["source"] for r in records] == lines
    for record in records:
        scores = [h["normalized_score"] for h in record["hypotheses"]]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    text = CliRunner().invoke(main, ["translate", str(trained_run), "--beam", "3", "--nbest",
                                     "2"], input="Go.\n")
    assert text.exit_code == 0 and text.stdout.count("\t") == 1
    too_many = CliRunner().invoke(main, ["translate", str(trained_run), "--beam", "2",
                                         "--nbest", "3"], input="Go.\n")
    assert too_many.exit_code == 1
    assert "--nbest: expected at most --beam (2), got 3" in too_many.output
    with pytest.raises(UserError, match=r"^nbest: expected at most beam \(2\), got 3$"):
        Translator.from_pretrained(trained_run).translate(["Go."], beam=2, nbest=3)


def test_python_api_beam_one_is_greedy(trained_run):
    from seq2seq.api import Translator

    translator = Translator.from_pretrained(trained_run)
    sentences = [src for src, _ in PAIRS]
    greedy = translator.translate(sentences)
    assert translator.translate(sentences, beam=1) == greedy
    hypotheses = translator.translate(sentences, beam=4, nbest=2)
    assert all(len(nbest) == 2 and nbest[0].text != nbest[1].text for nbest in hypotheses)


def test_translate_says_when_there_was_no_input(trained_run, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = CliRunner().invoke(main, ["translate", str(trained_run), "--input", str(empty)])
    assert result.exit_code == 0 and result.stdout == ""
    assert f"{empty}: no input lines; nothing translated" in result.stderr


def test_training_without_validation_pairs_is_refused_before_it_starts(pairs_file, tmp_path):
    # it used to train a whole epoch, then fail inside sacrebleu with no checkpoint saved
    result = CliRunner().invoke(main, ["train", "fra-eng", *FAST, "--set",
                                       f"data.path={pairs_file}", "--set",
                                       "data.valid_fraction=0", "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no validation pairs to evaluate each epoch on; hold some out with " \
           "data.valid_fraction" in result.output
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
    result = CliRunner().invoke(main, ["evaluate", str(trained_run), "--data", str(data),
                                       "--metrics", "bleu,chrf,ter,wer,cer,exact", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["pairs"] == 3 and report["distinct_sources"] == 2
    assert set(report["multi_reference"]) == {"bleu", "chrf", "ter", "wer", "cer", "exact"}
    table = CliRunner().invoke(main, ["evaluate", str(trained_run), "--data", str(data),
                                      "--beam", "2"])
    assert table.exit_code == 0 and "single-ref" in table.output and "beam 2" in table.output
    bad = CliRunner().invoke(main, ["evaluate", str(trained_run), "--data", str(data),
                                    "--metrics", "blue"])
    assert bad.exit_code == 1 and "--metrics: unknown ['blue']" in bad.output
    # --data is scored whole: a selection or split key would do nothing; parsing keys apply
    ignored = CliRunner().invoke(main, ["evaluate", str(trained_run), "--data", str(data),
                                        "--set", "data.first=1"])
    assert ignored.exit_code == 1
    assert "--set 'data.first=1': does not apply with --data" in ignored.output
    lowered = CliRunner().invoke(main, ["evaluate", str(trained_run), "--data", str(data),
                                        "--set", "data.lowercase=true", "--json"])
    assert lowered.exit_code == 0, lowered.output


def test_evaluate_samples_show_evenly_spread_sources_with_outputs_and_references(
        trained_run, tmp_path):
    # five distinct sources (one with two references): --samples 2 takes the first and
    # the third (every 5 // 2 = 2nd), each with the model's own output
    data = tmp_path / "held-out.txt"
    data.write_text("Go.\tVa !\nHi.\tSalut !\nRun!\tCours !\nRun!\tCourez !\n"
                    "Wow!\tÇa alors !\nFire!\tAu feu !\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["evaluate", str(trained_run), "--data", str(data),
                                       "--samples", "2", "--json"])
    assert result.exit_code == 0, result.output
    samples = json.loads(result.output)["samples"]
    translator = Translator.from_pretrained(trained_run)
    assert samples == [
        {"source": "Go.", "output": translator.translate(["Go."])[0], "references": ["Va !"]},
        {"source": "Run!", "output": translator.translate(["Run!"])[0],
         "references": ["Cours !", "Courez !"]}]
    table = CliRunner().invoke(main, ["evaluate", str(trained_run), "--data", str(data),
                                      "--samples", "9"])  # more than there are: all five
    assert table.exit_code == 0, table.output
    assert "5 samples" in table.output and "     = Courez !" in table.output
    assert "samples" not in CliRunner().invoke(
        main, ["evaluate", str(trained_run), "--data", str(data)]).output
    bad = CliRunner().invoke(main, ["evaluate", str(trained_run), "--data", str(data),
                                    "--samples", "0"])
    assert bad.exit_code == 1 and "--samples: expected a positive integer" in bad.output


def test_evaluate_split_scores_the_runs_own_held_out_pairs(trained_run, tmp_path):
    held_out = tmp_path / "valid.txt"  # fra-eng holds out the last 20%: the last 3 of 12
    held_out.write_text("".join(f"{s}\t{t}\n" for s, t in PAIRS[9:]), encoding="utf-8")
    by_file = CliRunner().invoke(main, ["evaluate", str(trained_run), "--data", str(held_out),
                                        "--json"])
    by_split = CliRunner().invoke(main, ["evaluate", str(trained_run), "--split", "valid",
                                         "--json"])
    assert by_split.exit_code == 0, by_split.output
    assert json.loads(by_split.output) == json.loads(by_file.output)
    assert json.loads(by_split.output)["pairs"] == 3
    none = CliRunner().invoke(main, ["evaluate", str(trained_run), "--split", "test"])
    assert none.exit_code == 1 and "recipe holds out no test pairs" in none.output
    neither = CliRunner().invoke(main, ["evaluate", str(trained_run)])
    assert neither.exit_code == 1 and "give either --data FILE or --split" in neither.output


def test_evaluate_split_keeps_the_runs_held_out_pairs(trained_run, pairs_file):
    # data.valid_fraction=0.9 used to score 9 of the 12 pairs, most of them training pairs,
    # as "valid"; where the data lies may still change
    moved = CliRunner().invoke(main, ["evaluate", str(trained_run), "--split", "valid",
                                      "--set", f"data.path={pairs_file}", "--json"])
    assert moved.exit_code == 0 and json.loads(moved.output)["pairs"] == 3
    for key in ("data.valid_fraction=0.9", "data.first=20000", "data.hold_out=sources"):
        result = CliRunner().invoke(main, ["evaluate", str(trained_run), "--split", "valid",
                                           "--set", key])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.output == (f"Error: --set {key!r}: the held-out data is the run's "
                                 "own; only where the data lies may change: data.path, "
                                 "data.valid_path, data.test_path, data.hf\n")


def test_evaluate_split_says_where_a_relative_data_path_is_read_from(trained_run, tmp_path,
                                                                      monkeypatch):
    """A run keeps its data.path as given; relative, it is read from where evaluate runs."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["evaluate", str(trained_run), "--split", "valid",
                                       "--set", "data.path=data/pairs.txt"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert (f"data.path: data/pairs.txt: no such file from {tmp_path}; the run reads it "
            "relative to where you run it") in result.output
    assert "--set data.path=PATH" in result.output


def test_the_runs_decode_nbest_is_what_translate_returns_and_evaluate_scores_one(
        pairs_file, tmp_path):
    run = tmp_path / "run"
    trained = CliRunner().invoke(main, ["train", "fra-eng", *FAST, "--set", "train.epochs=1",
                                        "--set", f"data.path={pairs_file}", "--set",
                                        "decode.beam_size=3", "--set", "decode.nbest=2",
                                        "--out", str(run)])
    assert trained.exit_code == 0, trained.output
    two = CliRunner().invoke(main, ["translate", str(run)], input="Go.\n")
    assert two.exit_code == 0 and len(two.stdout.rstrip("\n").split("\t")) == 2
    one = CliRunner().invoke(main, ["translate", str(run), "--beam", "1"], input="Go.\n")
    assert one.exit_code == 0 and len(one.stdout.rstrip("\n").split("\t")) == 1
    greedy = CliRunner().invoke(main, ["evaluate", str(run), "--split", "valid", "--beam", "1"])
    assert greedy.exit_code == 0, greedy.output  # it scores the best output only


def test_evaluate_reads_a_csv_with_its_own_fields_beside_a_tsv_trained_run(trained_run,
                                                                           tmp_path):
    # the field keys were checked against the run's own data (a .txt), so refused
    tsv, csv = tmp_path / "held.txt", tmp_path / "held.csv"
    tsv.write_text("".join(f"{s}\t{t}\n" for s, t in PAIRS[9:]), encoding="utf-8")
    csv.write_text("en,fr\n" + "".join(f'"{s}","{t}"\n' for s, t in PAIRS[9:]),
                   encoding="utf-8")
    by_csv = CliRunner().invoke(main, ["evaluate", str(trained_run), "--data", str(csv),
                                       "--set", "data.src_field=en", "--set",
                                       "data.tgt_field=fr", "--json"])
    assert by_csv.exit_code == 0, by_csv.output
    by_tsv = CliRunner().invoke(main, ["evaluate", str(trained_run), "--data", str(tsv),
                                       "--json"])
    assert json.loads(by_csv.output) == json.loads(by_tsv.output)


def test_evaluating_a_run_that_samples_gives_the_same_scores_twice(pairs_file, tmp_path):
    run = tmp_path / "run"
    trained = CliRunner().invoke(main, ["train", "fra-eng", *FAST, "--set", "train.epochs=1",
                                        "--set", f"data.path={pairs_file}", "--set",
                                        "decode.sample=true", "--out", str(run)])
    assert trained.exit_code == 0, trained.output
    first, second = (CliRunner().invoke(main, ["evaluate", str(run), "--split", "valid",
                                                "--json", "--samples", "3"])
                     for _ in range(2))
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == json.loads(second.output)


def test_evaluate_says_how_many_bad_lines_it_skipped(trained_run, tmp_path):
    data = tmp_path / "bad.txt"
    data.write_text("Go.\tVa !\nno tab here\nHi.\tSalut !\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["evaluate", str(trained_run), "--data", str(data),
                                       "--set", "data.on_bad_line=skip"])
    assert result.exit_code == 0, result.output
    assert f"{data}: 1 bad lines skipped" in result.stderr
    empty = CliRunner().invoke(main, ["evaluate", str(trained_run), "--data", str(data),
                                      "--metrics", ""])
    assert empty.exit_code == 1 and "--metrics: unknown" in empty.output


def test_bench_train_attention_times_every_setting_in_turn_and_keeps_its_fastest_round(
        pairs_file, monkeypatch):
    import types

    from seq2seq.benchmarks import train as train_benchmark
    from seq2seq.trainer import Trainer

    calls, clock = [], [0.0]
    real_steps = Trainer.train_steps

    def timed_steps(trainer, batches):  # the real steps, on a clock the test sets
        model = trainer.task.recipe.model
        calls.append(((model.attention, model.input_feeding), batches))
        real_steps(trainer, batches)
        round_index = (len(calls) - 1) // len(train_benchmark.ATTENTION_VARIANTS)
        cost = 1.0 if model.attention == "none" else 2.0
        # the warm-up round (0) is the fastest of all, the last timed round the fastest kept
        clock[0] += cost * {0: 0.01, 1: 3.0, 2: 1.0, 3: 5.0}[round_index]

    monkeypatch.setattr(Trainer, "train_steps", timed_steps)
    monkeypatch.setattr(train_benchmark, "time", types.SimpleNamespace(
        perf_counter=lambda: clock[0]))
    result = CliRunner().invoke(main, [
        "bench", "train", "fra-eng", "--attention", "--steps", "2", "--rounds", "3",
        "--threads", "1", "--set", f"data.path={pairs_file}", "--set", "model.units=8",
        "--set", "model.embedding=4", "--set", "model.layers=1",
        "--set", "model.bidirectional_encoder=false", "--set", "train.batch_size=4"])
    assert result.exit_code == 0, result.output
    variants = train_benchmark.ATTENTION_VARIANTS
    assert [variant for variant, _ in calls] == variants * 4  # in turn, every round
    assert ("bahdanau", True) in variants and ("none", False) == variants[0]
    assert all(batches == calls[0][1] and len(batches) == 2 for _, batches in calls)
    lines = result.output.splitlines()
    assert "the same 2 steps" in lines[0] and "fastest of 3 rounds" in lines[0]
    speeds = [float(line.split()[-2].replace(",", "")) for line in lines[2:]]
    ratios = [float(line.split()[-1]) for line in lines[2:]]
    assert ratios == [1.0] + [0.5] * 6
    tokens = int(lines[0].split(" steps (")[1].split(" target")[0].replace(",", ""))
    assert speeds[0] == pytest.approx(tokens / 1.0, abs=1)  # round 2's second, not round 0's
    for options, message in ((["--rounds", "2"], "--rounds: applies with --attention only"),
                             (["--attention", "--epochs", "2"], "--epochs: not with --attention"),
                             (["--attention", "--steps", "0"], "--steps: expected a positive")):
        bad = CliRunner().invoke(main, ["bench", "train", "fra-eng", *options])
        assert bad.exit_code == 1 and message in bad.output


def test_bench_train_attention_names_the_settings_the_recipes_model_cannot_take(
        pairs_file, monkeypatch):
    """A bidirectional encoder whose directions are concatenated gives outputs of twice the
    decoder's size: dot attention cannot score them, and the table says so instead of the
    whole benchmark failing; every other setting is timed, whatever attention and input
    feeding the recipe itself sets."""
    from seq2seq.trainer import Trainer

    trained, real_steps = [], Trainer.train_steps

    def recorded_steps(trainer, batches):
        model = trainer.task.recipe.model
        trained.append((model.attention, model.input_feeding))
        real_steps(trainer, batches)

    monkeypatch.setattr(Trainer, "train_steps", recorded_steps)
    result = CliRunner().invoke(main, [
        "bench", "train", "fra-eng", "--attention", "--steps", "1", "--rounds", "1",
        "--threads", "1", "--set", f"data.path={pairs_file}", "--set", "model.units=8",
        "--set", "model.embedding=4", "--set", "model.layers=1",
        "--set", "model.bidirectional_encoder=true", "--set", "model.bridge=concat",
        "--set", "model.attention=general", "--set", "model.input_feeding=true",
        "--set", "train.batch_size=4"])
    assert result.exit_code == 0, result.output
    rows = {tuple(line.split()[:2]): line for line in result.output.splitlines()[2:]}
    assert len(rows) == 7
    for feeding in ("no", "yes"):
        assert 'not run: model.attention: "dot" needs encoder outputs' in rows["dot", feeding]
    timed = [line for key, line in rows.items() if key[0] != "dot"]
    assert len(timed) == 5 and all("not run" not in line for line in timed)
    assert trained == [(kind, feeding) for kind, feeding in ATTENTION_VARIANTS
                       if kind != "dot"] * 2  # the warm-up round and the timed one
    assert rows["none", "no"].split()[-1] == "1.00"


def test_bench_train_and_decode_print_their_tables(trained_run, pairs_file):
    result = CliRunner().invoke(main, ["bench", "train", "fra-eng", "--epochs", "1", "--threads",
                                       "1", "--set", f"data.path={pairs_file}", "--set",
                                       "model.units=8", "--set", "model.embedding=4"])
    assert result.exit_code == 0, result.output
    assert "median training time per epoch" in result.output
    result = CliRunner().invoke(main, ["bench", "decode", str(trained_run), "--beam", "2",
                                       "--threads", "1", "--set", f"data.path={pairs_file}"])
    assert result.exit_code == 0, result.output
    assert "greedy, batched" in result.output and "beam 2, one at a time" in result.output
    engines = result.output.split("torch vs its export")[1].splitlines()
    for engine in ("torch", "onnx fp32", "onnx int8"):
        for mode in ("greedy", "beam 2"):
            assert any(line.startswith(f"{engine} ") and f" {mode} " in line
                       for line in engines), (engine, mode, result.output)


@CUDA
def test_training_resuming_and_translating_on_cuda_through_the_command_line(pairs_file,
                                                                           tmp_path):
    run_dir = tmp_path / "cuda"
    result = CliRunner().invoke(main, ["train", "fra-eng", *FAST, "--set",
                                       f"data.path={pairs_file}", "--device", "cuda",
                                       "--out", str(run_dir)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(row["train_loss"] > 0 for row in rows)
    result = CliRunner().invoke(main, ["train", "--resume", str(run_dir), "--set",
                                       "train.epochs=3", "--device", "cuda"])
    assert result.exit_code == 0, result.output
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 3
    translator = Translator.from_pretrained(run_dir, device="cuda")
    assert translator.device.type == "cuda"
    on_gpu = translator.translate(["the cat sleeps.", "hello"], beam=3)
    on_cpu = Translator.from_pretrained(run_dir).translate(["the cat sleeps.", "hello"], beam=3)
    assert on_gpu == on_cpu


# --- ensembles (seq2seq.models.ensemble: tests/test_ensemble.py) ------------------------

@pytest.fixture(scope="module")
def second_run(pairs_file, tmp_path_factory):
    """Another run on :func:`pairs_file`, from another seed: the same tokenizers and split,
    other weights."""
    run_dir = tmp_path_factory.mktemp("runs") / "fra-seed-1"
    result = CliRunner().invoke(main, ["train", "fra-eng", *FAST, "--set",
                                       f"data.path={pairs_file}", "--set", "train.seed=1",
                                       "--out", str(run_dir)])
    assert result.exit_code == 0, result.output
    return run_dir


def test_translate_and_evaluate_decode_with_the_ensemble(trained_run, second_run, pairs_file,
                                                         tmp_path):
    lines = ["Go.", "I see.", "Smile.", "Wait!"]
    source = tmp_path / "input.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    translate = ["translate", str(trained_run), "--input", str(source), "--beam", "3",
                 "--format", "jsonl"]
    result = CliRunner().invoke(main, [*translate, "--ensemble", str(second_run)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    ensemble = Translator.from_pretrained(trained_run, ensemble=[second_run])
    expected = ensemble.translate(lines, beam=3, scores=True)
    assert [r["hypotheses"][0]["text"] for r in records] == [t[0].text for t in expected]
    assert [r["hypotheses"][0]["score"] for r in records] \
        == pytest.approx([t[0].score for t in expected], abs=1.5e-4)
    alone = [json.loads(line) for line in CliRunner().invoke(main, translate).stdout.splitlines()]
    assert [r["hypotheses"][0]["score"] for r in alone] \
        != pytest.approx([r["hypotheses"][0]["score"] for r in records], abs=1e-3)

    # evaluate: the ensemble's outputs (every validation source shown with --samples)
    evaluate = ["evaluate", str(trained_run), "--split", "valid", "--metrics", "chrf,exact",
                "--samples", "100", "--json"]
    scored = json.loads(CliRunner().invoke(main, [*evaluate, "--ensemble",
                                                  str(second_run)]).stdout)
    sources = [sample["source"] for sample in scored["samples"]]
    assert sources and [sample["output"] for sample in scored["samples"]] \
        == ensemble.translate(sources)
    alone = json.loads(CliRunner().invoke(main, evaluate).stdout)
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
    result = CliRunner().invoke(main, ["translate", str(trained_run), "--ensemble",
                                       other_symbols], input="Go.\n")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: ensemble member {other_symbols}: its target tokenizer ({other_symbols}/"
        f"checkpoints/best/target.tokenizer.json) differs from {trained_run}'s: ensemble "
        "members must share their tokenizers (train them on the same data)"]

    def hold_out_more(data):
        data["data"]["valid_fraction"] = 0.5

    other_split = altered_copy(second_run, tmp_path, "config.json", hold_out_more)
    evaluate = ["evaluate", str(trained_run), "--ensemble", other_split]
    result = CliRunner().invoke(main, [*evaluate, "--split", "valid"])
    assert result.exit_code == 1
    assert f"Error: ensemble member {other_split}: data.valid_fraction is 0.5, " in result.output
    assert "Traceback" not in result.output
    # where the data lies may differ (runs trained from other directories, files moved)
    def moved(data):
        data["data"]["path"] = "elsewhere/pairs.txt"

    moved_data = altered_copy(second_run, tmp_path, "config.json", moved)
    result = CliRunner().invoke(main, ["evaluate", str(trained_run), "--ensemble", moved_data,
                                       "--split", "valid"])
    assert result.exit_code == 0, result.output
    # scoring a file of its own is every member's held-out data alike: allowed
    data = tmp_path / "held-out.txt"
    data.write_text("Go.\tVa !\tCC-BY 2.0\n", encoding="utf-8")
    assert CliRunner().invoke(main, [*evaluate, "--data", str(data)]).exit_code == 0


def test_an_ensemble_has_no_one_alignment(trained_run, second_run):
    result = CliRunner().invoke(main, ["translate", str(trained_run), "--ensemble",
                                       str(second_run), "--format", "jsonl", "--attention"],
                                input="Go.\n")
    assert result.exit_code == 1
    assert "--attention: an ensemble has no one alignment" in result.output
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
        result = CliRunner().invoke(main, args, input="Go.\n")
        assert (result.exit_code, result.output) == (1, f"Error: {message}\n")


def test_members_with_other_sentencepiece_models_are_refused(pairs_file, tmp_path):
    # the two runs' tokenizer files are alike ({"kind": "sentencepiece", "model": ...}):
    # their models differ, which is what is compared
    from seq2seq import checkpoint

    runs = []
    for model_type in ("unigram", "bpe"):
        runs.append(tmp_path / model_type)
        result = CliRunner().invoke(main, [
            "train", "fra-eng", *FAST, "--set", "train.epochs=1", "--set",
            f"data.path={pairs_file}", "--set", "tokenizer.target.kind=sentencepiece",
            "--set", f"tokenizer.target.sp_model_type={model_type}", "--set",
            "tokenizer.target.sp_vocab_size=40", "--out", str(runs[-1])])
        assert result.exit_code == 0, result.output
    best = [checkpoint.resolve(run, "best") for run in runs]
    assert (best[0] / "target.tokenizer.json").read_bytes() \
        == (best[1] / "target.tokenizer.json").read_bytes()
    result = CliRunner().invoke(main, ["translate", str(runs[0]), "--ensemble", str(runs[1])],
                                input="Go.\n")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: ensemble member {runs[1]}: its target tokenizer "
                                    f"({best[1]}/target.spm.model) differs from {runs[0]}'s")
