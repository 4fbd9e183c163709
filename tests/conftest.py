import importlib.util
import os
import signal

import pytest
import torch

torch.set_num_threads(min(2, torch.get_num_threads()))
os.environ["HF_HUB_OFFLINE"] = "1"  # no test touches the network
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("KERAS_BACKEND", "torch")  # the Keras comparisons: Keras 3 on torch
# deterministic cuBLAS (and cuDNN's LSTM on it) for the CUDA resume tests; read when CUDA
# starts, so set before any test touches it; nothing on a CPU-only machine reads it
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

# after the environment above: the Hugging Face libraries read it when first imported
from tests.helpers import CUDA, FAST, PAIRS, run_cli, shared_data_dir  # noqa: E402

# onnx and onnxruntime are declared dependencies; only a GPU machine's own image (make
# gpu-check, which runs the CUDA tests there) may lack them
collect_ignore = [] if all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime")) \
    else ["test_export.py"]

DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]


@pytest.fixture(params=DEVICES)
def device(request):
    """A test that takes ``device`` runs on the CPU and, where torch sees one, on CUDA
    (collected and skipped without). On CUDA, TF32 is off for the test (cuBLAS and cuDNN
    would otherwise round fp32 products to 10-bit mantissas) and algorithms are
    deterministic where cuDNN has a deterministic choice, so fp32 tolerances hold."""
    if request.param == "cpu":
        yield torch.device("cpu")
        return
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield torch.device("cuda")
    finally:
        (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
         torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark) = saved


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="session")
def _sigint_as_from_a_terminal():
    """Tests send SIGINT (Ctrl-C) to runs in this process and in child processes: they
    all start with Python's own handler, as from a terminal, also where the suite itself
    was started with SIGINT ignored (a background job of a shell without job control, as
    a script's `cmd &`), which a run respects (tests/test_trainer.py)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def pairs_file(tmp_path_factory):
    """:data:`PAIRS` as a Tatoeba-style file (source, target, attribution)."""
    path = tmp_path_factory.mktemp("data") / "pairs.txt"
    path.write_text("".join(f"{src}\t{tgt}\tCC-BY 2.0\n" for src, tgt in PAIRS),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def trained_run(pairs_file, tmp_path_factory):
    """A fra-eng run trained on :func:`pairs_file` with :data:`FAST`, once per session and
    shared: a test that changes a run works on a copy."""
    run_dir = tmp_path_factory.mktemp("runs") / "fra"
    result = run_cli("train", "fra-eng", *FAST, "--set", f"data.path={pairs_file}",
                     "--out", str(run_dir))
    assert result.exit_code == 0, result.output
    return run_dir


@pytest.fixture(scope="module")
def fra_txt():
    """The real fra-eng pairs in ``../shared/data/fra-eng/fra.txt`` (skips without them)."""
    data = shared_data_dir()
    if data is None or not (data / "fra-eng" / "fra.txt").is_file():
        pytest.skip("the fra-eng pairs are not in ../shared/data/fra-eng/fra.txt")
    return data / "fra-eng" / "fra.txt"


def pytest_addoption(parser):
    parser.addoption("--simulate-no-native-bf16", action="store_true",
                     help="Run as on a CPU without native bf16 (AVX2 only): the capability "
                          "probe says 'not native' for the whole session.")


def pytest_configure(config):
    if config.getoption("--simulate-no-native-bf16"):
        from seq2seq.core import precision

        precision._cpu_runs_bf16 = lambda: False
