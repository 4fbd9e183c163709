"""``seq2seq mnist train | eval | predict`` end to end on the embedded digits (seconds)."""

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from seq2seq.data.mnist import load_digit_image, load_embedded
from seq2seq.runs import load_run
from tests.helpers import assert_one_line_error, run_cli

FAST = ["--set", "train.epochs=1", "--set", "model.units=16", "--threads", "2"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "demo"
    result = run_cli("mnist", "train", "mnist-demo", *FAST, "--out", str(run_dir))
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output
    return run_dir


def test_train_writes_a_run_directory_that_describes_itself(trained_run):
    for name in ("config.json", "metrics.jsonl", "loss.png", "confusion.png", "errors.png",
                 "test.json", "checkpoints/best/model.safetensors",
                 "checkpoints/last/state.pt", "checkpoints/best/config.json"):
        assert (trained_run / name).exists(), name
    rows = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and "valid_accuracy" in rows[0]


def test_eval_json_prints_one_object(trained_run):
    result = run_cli("mnist", "eval", str(trained_run), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert 0.2 < report["accuracy"] <= 1 and report["images"] == 1000


def test_predict_reads_images_of_any_size_and_polarity(trained_run, tmp_path):
    digits = load_embedded()
    pixels = digits.test_images[0].numpy()
    white_on_black = tmp_path / "digit.png"
    Image.fromarray(pixels).resize((90, 90)).save(white_on_black)
    black_on_white = tmp_path / "inverted.jpg"
    Image.fromarray(255 - pixels).resize((60, 60)).save(black_on_white)
    result = run_cli("mnist", "predict", str(trained_run), str(white_on_black), str(black_on_white))
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert [line[0] for line in lines] == [str(white_on_black), str(black_on_white)]
    run = load_run(trained_run)
    for (_, digit, probability), path in zip(lines, [white_on_black, black_on_white]):
        with torch.no_grad():  # what the model itself says of the image as read
            expected = run.model(load_digit_image(path)[None]).softmax(-1)[0]
        assert digit == str(int(expected.argmax()))
        assert float(probability) == pytest.approx(expected.max().item(), abs=1e-4)


@pytest.mark.parametrize("override", ["train.learning_rate=0.5", "model.units=12",
                                      "train.lr_gamma=0.1"])
def test_resume_refuses_a_change_the_checkpoint_fixes(trained_run, tmp_path, override):
    """The optimiser's and schedule's states come from the checkpoint, so a new learning
    rate or schedule would be written to config.json and not take effect: an error naming
    the key, and the run left as it was."""
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(trained_run, run_dir, symlinks=True)
    saved = (run_dir / "config.json").read_text()
    result = run_cli("train", "--resume", str(run_dir), "--set", "train.epochs=2", "--set",
                     override)
    key = override.partition("=")[0]
    assert_one_line_error(result, f"{key}: fixed by the run being resumed")
    assert (run_dir / "config.json").read_text() == saved
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 1


def test_resume_a_finished_run_for_more_epochs(trained_run, tmp_path):
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(trained_run, run_dir, symlinks=True)
    result = run_cli("mnist", "train", "--resume", str(run_dir), "--set", "train.epochs=2")
    assert result.exit_code == 0, result.output
    assert "resuming from" in result.output
    rows = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(row)["epoch"] for row in rows] == [1, 2]


def test_resume_checks_both_checkpoint_links_before_training(trained_run, tmp_path):
    """A best link leading out of the run, or a last checkpoint without its saved recipe,
    was found only after an epoch's training had pruned the run's only checkpoint."""
    import os
    import shutil

    outside, missing = tmp_path / "outside", tmp_path / "missing"
    for copy in (outside, missing):
        shutil.copytree(trained_run, copy, symlinks=True)
    best = outside / "checkpoints" / "best"
    target = (trained_run / "checkpoints" / "best").resolve()
    best.unlink()
    os.symlink(target, best)
    (missing / "checkpoints" / "last").resolve().joinpath("config.json").unlink()
    for run_dir, message in ((outside, "expected a link to a checkpoint inside"),
                             (missing, "config.json: saved recipe not found")):
        kept = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
        result = run_cli("train", "--resume", str(run_dir), "--set", "train.epochs=2")
        assert_one_line_error(result, message, after_progress=True)
        assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == kept
        assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 1


def test_bad_input_is_one_line_and_a_non_zero_exit(trained_run, tmp_path):
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello")
    cases = [
        (["mnist", "predict", str(trained_run), str(not_an_image)], "cannot read as an image"),
        (["mnist", "train", "mnist-demo", "--out", str(trained_run)], "already holds a run"),
        (["mnist", "train", "mnist-demo", "--set", "model.unit=3", "--out", str(tmp_path / "x")],
         "model.unit: unknown key"),
        (["mnist", "train", "no-such-recipe", "--out", str(tmp_path / "y")],
         "recipe 'no-such-recipe': no such file"),
        (["mnist", "eval", str(tmp_path / "nothing")], "no such run directory"),
        # refused before the first step (it used to be torch's "Target 8 is out of bounds")
        (["mnist", "train", "mnist-demo", *FAST, "--set", "model.classes=5", "--out",
          str(tmp_path / "z")], "model.classes: the training digits have labels up to 9, so "
                                "at least 10 classes; got 5"),
        (["mnist", "eval", str(trained_run), "--data-dir", str(tmp_path)],
         "MNIST IDX files not found"),
    ]
    for arguments, message in cases:
        result = run_cli(*arguments)
        assert_one_line_error(result, message, after_progress=True)
        assert result.output.strip().count("\n") == 0 or "data:" in result.output


def test_ctrl_c_in_the_command_saves_and_exits_130(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "seq2seq", "mnist", "train", "mnist-demo", "--set",
         "train.epochs=100", "--set", "model.units=16", "--threads", "1", "--out", str(run_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"})
    deadline = time.monotonic() + 120
    while not (run_dir / "metrics.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted; checkpoint saved" in stderr and "Traceback" not in stderr
    assert f"seq2seq train --resume {run_dir}" in stderr
    assert (run_dir / "checkpoints" / "last" / "model.safetensors").exists()


def test_the_test_report_of_a_run_that_watches_the_test_set_equals_a_fresh_evaluation(
        tmp_path):
    # with valid_size = 0 the last evaluation's predictions make the report (not recomputed)
    run_dir = tmp_path / "watching"
    result = run_cli("train", "mnist-demo", *FAST, "--set", "data.valid_size=0", "--set",
                     "train.early_stopping_metric=test_accuracy", "--out", str(run_dir))
    assert result.exit_code == 0, result.output
    report = json.loads((run_dir / "test.json").read_text())
    fresh = run_cli("evaluate", str(run_dir), "--json")
    assert fresh.exit_code == 0, fresh.output
    again = json.loads(fresh.output)
    assert (report["accuracy"], report["images"]) == (again["accuracy"], again["images"])
    assert report["loss"] == pytest.approx(again["loss"], rel=1e-6)


def test_resume_takes_neither_a_recipe_nor_another_out(trained_run, tmp_path):
    """--resume goes on with the run's own recipe in its own directory: a RECIPE or an
    --out beside it would be dropped without a word, so each is an error naming it."""
    for extra, name in ((["mnist-pytorch"], "RECIPE"), (["--out", str(tmp_path / "x")], "--out")):
        result = run_cli("train", *extra, "--resume", str(trained_run))
        assert_one_line_error(result, f"drop {name}")
    assert not (tmp_path / "x").exists()


def test_an_out_that_cannot_hold_a_run_is_one_line(tmp_path, monkeypatch):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out, message in ((a_file, "a file, not a directory"), (a_file / "sub", "Not a directory")):
        result = run_cli("train", "mnist-demo", *FAST, "--out", str(out))
        assert_one_line_error(result, message, after_progress=True)
        assert len(result.output.strip().splitlines()[-1:]) == 1
    assert a_file.read_text() == "x"
    foreign = tmp_path / "project"  # another program's config.json was overwritten
    foreign.mkdir()
    (foreign / "config.json").write_text('{"mine": 1}')
    monkeypatch.chdir(foreign)
    for out in (foreign, Path(".")):
        result = run_cli("train", "mnist-demo", *FAST, "--out", str(out))
        assert_one_line_error(result, "config.json that this version does not read as a run's "
                                      "saved recipe", "unknown key", after_progress=True)
    assert (foreign / "config.json").read_text() == '{"mine": 1}'
    assert sorted(p.name for p in foreign.iterdir()) == ["config.json"]


def test_a_new_run_does_not_add_to_the_metrics_of_one_that_failed(tmp_path):
    """A run that failed before its first checkpoint leaves metrics.jsonl: a new run in the
    same directory would append to it (and loss.png and early stopping would read both)."""
    run_dir = tmp_path / "failed"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text('{"epoch": 1, "step": 63}\n')
    result = run_cli("train", "mnist-demo", *FAST, "--out", str(run_dir))
    assert_one_line_error(result, "left by a run that saved no checkpoint")
    assert (run_dir / "metrics.jsonl").read_text() == '{"epoch": 1, "step": 63}\n'
