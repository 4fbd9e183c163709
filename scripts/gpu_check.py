"""``make gpu-check``: every CUDA path of the toolkit in one run, on a GPU machine as it comes.

    GPU_CHECK_OUT=DIR python3 scripts/gpu_check.py      (or: make gpu-check)

Runs, each step under its own time limit and all of them under ``GPU_CHECK_SECONDS``
(default 480: a GPU is lent for minutes): the environment (GPU, driver, torch, CUDA,
cuDNN); the CUDA tests of the default suite (every test with a device dimension, its
``cuda`` half: fused vs reference, padding and batch invariance through cuDNN's packed
path, greedy and beam batch invariance, exact resume in fp32 / bf16 / fp16, a training run
through the command line); ``bench core --device cuda``; fra-eng-keras's first steps in
fp32, bf16 autocast and fp16 with loss scaling (``bench precision``); ``bench train`` on
cuda and, for the ratio, on 2 CPU threads of the same machine; ``bench decode`` on cuda.
Each step's full output goes to ``DIR/<step>.log`` (default ``gpu-check-out/``); a short
table comes last, on the screen and in ``DIR/summary.txt``.

The machine may have its own Python and its own CUDA build of torch: nothing is installed
into it. The toolkit runs from this checkout (``PYTHONPATH``); Python packages the machine
lacks (``datasets``, ``jiwer``, ...) come as wheels in ``.whl/`` (``make gpu-carry`` here
downloads them for Python 3.12 and puts fra-eng-keras's data in ``.gpu-data/``); they are
unpacked into a scratch directory, never into the machine's site-packages.

Exit status: 0 every step passed; 1 a step failed or ran out of time; 2 no CUDA device
(checked first, in a second or two: nothing else runs).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / ".whl"
DATA_CANDIDATES = (ROOT.parent / "shared" / "data" / "fra-eng" / "fra.txt",
                   ROOT / ".gpu-data" / "fra.txt")
NO_CUDA = 2


@dataclass
class Step:
    name: str
    command: list[str]
    timeout: float
    needs_data: bool = False
    rc: int | None = None
    seconds: float = 0.0
    status: str = "not run"
    log: str = field(default="", repr=False)


def cuda_or_exit() -> str:
    """The torch version, or exit 2 with one line when torch sees no CUDA device."""
    probe = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.__version__); "
                               "print(torch.cuda.is_available())"],
        capture_output=True, text=True)
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"gpu-check: no CUDA device: torch does not import with {sys.executable} ({why})",
              file=sys.stderr)
        sys.exit(NO_CUDA)
    version, available = probe.stdout.split()
    if available != "True":
        print(f"gpu-check: no CUDA device (torch {version}: torch.cuda.is_available() is "
              f"False); run it on a GPU machine", file=sys.stderr)
        sys.exit(NO_CUDA)
    return version


def environment(work: Path) -> dict[str, str]:
    """The variables every step runs with: this checkout (and unpacked wheels) first on
    the path, offline, unbuffered, deterministic cuBLAS for the resume tests."""
    paths = [str(ROOT)]
    wheels = sorted(WHEELS.glob("*.whl")) if WHEELS.is_dir() else []
    if wheels:
        site = work / "site"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                        "--no-compile", "--no-cache-dir", "--target", str(site),
                        *map(str, wheels)], check=True)
        paths.insert(0, str(site))
    previous = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths + ([previous] if previous else [])),
            "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "CUBLAS_WORKSPACE_CONFIG": ":4096:8", "MPLBACKEND": "Agg"}


def data_path() -> Path | None:
    given = os.environ.get("GPU_CHECK_DATA")
    for candidate in ([Path(given)] if given else []) + list(DATA_CANDIDATES):
        if candidate.is_file():
            return candidate
    return None


def steps(work: Path, data: Path | None) -> list[Step]:
    seq2seq = [sys.executable, "-m", "seq2seq"]
    on_data = ["--set", f"data.path={data}"]
    runs = work / "runs"
    return [
        Step("tests", [sys.executable, "-m", "pytest", "-m", "not slow", "-k", "cuda", "-q",
                       "-p", "no:cacheprovider", "-rfEs", str(ROOT / "tests")], 240),
        Step("core", [*seq2seq, "bench", "core", "--device", "cuda", "--rounds", "5"], 90),
        Step("precision", [*seq2seq, "bench", "precision", "fra-eng-keras", *on_data,
                           "--device", "cuda", "--steps", "200", "--out", str(runs)], 120, True),
        Step("train", [*seq2seq, "bench", "train", "fra-eng-keras", *on_data, "--device", "cuda",
                       "--epochs", "3"], 120, True),
        Step("train-cpu", [*seq2seq, "bench", "train", "fra-eng-keras", *on_data, "--device",
                           "cpu", "--threads", "2", "--epochs", "2"], 90, True),
        Step("decode", [*seq2seq, "bench", "decode", str(runs / "fp32"), *on_data, "--device",
                        "cuda", "--no-export"], 90, True),
    ]


def run(step: Step, out: Path, env: dict[str, str], seconds_left: float) -> None:
    limit = min(step.timeout, seconds_left)
    if limit < 10:
        step.status = "skipped: out of time"
        return
    start = time.monotonic()
    log = out / f"{step.name}.log"
    with log.open("w") as stream:
        stream.write("$ " + " ".join(step.command) + "\n")
        stream.flush()
        try:
            process = subprocess.run(step.command, cwd=ROOT, env=env, stdout=stream,
                                     stderr=subprocess.STDOUT, timeout=limit)
            step.rc = process.returncode
            step.status = "ok" if step.rc == 0 else f"FAILED (exit {step.rc})"
        except subprocess.TimeoutExpired:
            step.status = f"TIMED OUT after {limit:.0f} s"
    step.seconds = time.monotonic() - start
    step.log = log.read_text(errors="replace")


def gpu_facts(env: dict[str, str]) -> list[str]:
    code = ("import torch; p = torch.cuda.get_device_properties(0); "
            "print(f'{p.name}, {p.total_memory / 2**30:.0f} GiB, compute capability "
            "{p.major}.{p.minor}'); print(f'torch {torch.__version__}, CUDA {torch.version.cuda}, "
            "cuDNN {torch.backends.cudnn.version()}')")
    facts = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env).stdout.strip().splitlines()
    if shutil.which("nvidia-smi"):
        smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.strip()
        facts.append(f"driver {smi}")
    return facts


def _lines(text: str, pattern: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if re.search(pattern, line)]


def summary(checks: list[Step], facts: list[str], python: str) -> str:
    by_name = {step.name: step for step in checks}
    rows = [f"gpu-check, {time.strftime('%Y-%m-%d')}: {'; '.join(facts)}; Python {python}",
            f"{'step':<10} {'status':<24} {'seconds':>7}  figures"]
    figures = {
        "tests": _lines(by_name["tests"].log, r"\d+ (passed|failed)")[-1:],
        "core": ["fused (T units: fwd, fwd+bwd ratio to torch.nn.LSTM): " + "; ".join(
            f"{m.group(1)} {m.group(2)}: {m.group(3)}, {m.group(4)}" for m in
            re.finditer(r"^\s*(\d+)\s+(\d+)\s+fused\s+[\d,]+\s+([\d.]+)\s+[\d,]+\s+([\d.]+)",
                        by_name["core"].log, re.MULTILINE))]
                 + _lines(by_name["core"].log, r"bf16 autocast vs fp32"),
        "precision": _lines(by_name["precision"].log, r"^(precision +train loss|fp32|bf16|fp16)\b"),
        "train": _lines(by_name["train"].log, r"^median training time"),
        "train-cpu": _lines(by_name["train-cpu"].log, r"^median training time"),
        "decode": _lines(by_name["decode"].log, r"^decoding +sentences|batched"),
    }
    for step in checks:
        shown = figures.get(step.name, []) if step.status == "ok" else []
        if step.status.startswith(("FAILED", "TIMED")):
            tail = [line for line in step.log.strip().splitlines() if line.strip()][-1:]
            shown = [f"last line: {tail[0][:160]}"] if tail else []
        rows.append(f"{step.name:<10} {step.status:<24} {step.seconds:>7.1f}  "
                    + (shown[0] if shown else ""))
        rows.extend(f"{'':<43}  {line}" for line in shown[1:])
    return "\n".join(rows)


def main() -> int:
    started = time.monotonic()
    budget = float(os.environ.get("GPU_CHECK_SECONDS", "480"))
    cuda_or_exit()
    out = Path(os.environ.get("GPU_CHECK_OUT") or ROOT / "gpu-check-out")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        work = Path(scratch)
        env = environment(work)
        facts = gpu_facts(env)
        data = data_path()
        checks = steps(work, data)
        for step in checks:
            if step.needs_data and data is None:
                step.status = "skipped: no fra.txt"
                continue
            left = budget - (time.monotonic() - started) - 5  # 5 s to write the table
            print(f"gpu-check: {step.name} ...", flush=True)
            run(step, out, env, left)
            print(f"gpu-check: {step.name}: {step.status} in {step.seconds:.0f} s", flush=True)
    table = summary(checks, facts, sys.version.split()[0])
    (out / "summary.txt").write_text(table + "\n")
    print(table)
    return 0 if all(step.status == "ok" for step in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
