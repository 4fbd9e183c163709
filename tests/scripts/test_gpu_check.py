"""``make gpu-check`` on a machine without CUDA stops at once with status 2; its summary
reads the figures out of the benchmarks' real output (so a changed table format fails
here, not on the rare GPU run)."""

import re
import shutil
import subprocess
import sys
import time

import pytest
import torch

from tests.helpers import ROOT, load_script, run_cli

SCRIPT = ROOT / "scripts" / "gpu_check.py"
pytestmark = pytest.mark.skipif(torch.cuda.is_available(),
                                reason="a CUDA device is present: the check would run")


def test_without_cuda_it_says_so_and_exits_2_before_anything_else(tmp_path):
    start = time.monotonic()
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "GPU_CHECK_OUT": str(out)})
    assert result.returncode == 2
    assert result.stderr.startswith("gpu-check: no CUDA device")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()  # nothing ran, nothing written
    assert time.monotonic() - start < 30


@pytest.mark.skipif(shutil.which("make") is None, reason="no make here")
def test_make_gpu_check_is_that_script(tmp_path):
    result = subprocess.run(["make", "-s", "gpu-check", f"PYTHON={sys.executable}",
                             f"GPU_CHECK_OUT={tmp_path / 'out'}"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "gpu-check: no CUDA device" in result.stderr


def test_cuda_options_of_the_benchmarks_refuse_a_machine_without_cuda():
    for command in (["bench", "core"], ["bench", "train"], ["bench", "precision"],
                    ["bench", "decode", "some-run"]):
        result = run_cli(*command, "--device", "cuda")
        assert result.exit_code == 2, command
        assert "cuda: torch sees no CUDA device here" in result.output


def test_the_summary_reads_the_benchmarks_own_tables(tmp_path):
    check = load_script("gpu_check")
    core = run_cli("bench", "core", "--time-steps", "4", "--units", "8", "--rounds", "1",
                   "--features", "3")
    assert core.exit_code == 0, core.output
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"word {i}\tmot {i}\tCC\n" for i in range(40)))
    data = ["--set", f"data.path={pairs}", "--set", "model.units=8",
            "--threads", "1"]
    precision = run_cli("bench", "precision", "fra-eng-keras", *data, "--steps", "2", "--out",
                        str(tmp_path / "runs"))
    assert precision.exit_code == 0, precision.output
    train = run_cli("bench", "train", "fra-eng-keras", *data, "--epochs", "2")
    assert train.exit_code == 0, train.output
    decode = run_cli("bench", "decode", str(tmp_path / "runs" / "fp32"), "--threads", "1")
    assert decode.exit_code == 0, decode.output
    logs = {"tests": "12 passed, 3 skipped in 9.1s\n", "core": core.output,
            "precision": precision.output, "train": train.output, "train-cpu": train.output,
            "decode": decode.output}
    steps = [check.Step(name, [], 1, status="ok", seconds=1.0, log=log)
             for name, log in logs.items()]
    table = check.summary(steps, ["a GPU", "driver 1"], "3.12").splitlines()
    shown = "\n".join(table)
    assert table[0].startswith("gpu-check, ") and "a GPU; driver 1; Python 3.12" in table[0]
    assert "12 passed, 3 skipped" in shown
    assert "fused (T units: fwd, fwd+bwd ratio to torch.nn.LSTM): 4 8: " in shown
    assert re.search(r"precision +ok +[\d.]+  precision +train loss", shown), shown
    assert re.search(r"^ +fp32 +[\d.]+ +[\d.]+", shown, re.MULTILINE), shown
    assert re.search(r"^ +(bf16 +[\d.]+|bf16 +not run)", shown, re.MULTILINE), shown
    assert re.search(r"^ +fp16 +not run: train.fp16: .* CUDA only", shown, re.MULTILINE), shown
    assert shown.count("median training time per epoch") == 2
    assert "ms per step of" in shown
    assert "greedy, batched" in shown and "beam 5, batched" in shown
    failed = check.Step("core", [], 1, status="FAILED (exit 1)", log="x\nError: it broke\n")
    assert "last line: Error: it broke" in check.summary(
        [failed if step.name == "core" else step for step in steps], [], "3.12")
