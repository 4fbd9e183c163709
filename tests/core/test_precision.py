"""bf16 on any CPU: both branches of the one capability probe, on any machine.

``precision.bf16_native`` is monkeypatched to "not native" (what an AVX2-only CPU says) and
to "native" (only where the CPU really is, since then the bf16 kernels really run).
"""

import pytest
import torch

from seq2seq.core import GRU, LSTM, Bidirectional, SimpleRNN, precision
from seq2seq.errors import UserError
from seq2seq.trainer import TrainConfig, choose_autocast, choose_bf16
from tests.helpers import assert_one_line_error, run_cli

NATIVE = precision.bf16_native("cpu")
needs_native_bf16 = pytest.mark.skipif(not NATIVE, reason="this CPU has no native bf16")


@pytest.fixture
def not_native(monkeypatch):
    monkeypatch.setattr(precision, "bf16_native", lambda device_type: False)


@pytest.fixture
def native(monkeypatch):
    monkeypatch.setattr(precision, "bf16_native", lambda device_type: True)


LAYERS = {
    "lstm": lambda: LSTM(5, 7, return_sequences=True, return_state=True),
    "gru": lambda: GRU(5, 7, return_sequences=True, return_state=True),
    "rnn": lambda: SimpleRNN(5, 7, return_sequences=True, return_state=True),
    "bidirectional lstm": lambda: Bidirectional(LSTM(5, 7, return_sequences=True)),
}


def run(layer, x, lengths, autocast):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        result = layer(x, lengths=lengths)
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("with_lengths", [False, True])
def test_without_native_bf16_the_fused_kernels_run_in_fp32_under_autocast(name, with_lengths,
                                                                          not_native):
    layer = LAYERS[name]()
    x = torch.randn(4, 6, 5, requires_grad=True)
    lengths = torch.tensor([6, 3, 5, 1]) if with_lengths else None
    plain = run(layer, x, lengths, autocast=False)
    under_autocast = run(layer, x, lengths, autocast=True)
    for a, b in zip(plain, under_autocast):
        assert b.dtype == torch.float32
        assert torch.equal(a, b)  # the very same fp32 computation
    under_autocast[0].sum().backward()  # and it trains
    assert x.grad is not None and torch.isfinite(x.grad).all()


@needs_native_bf16
def test_with_native_bf16_the_fused_lstm_runs_in_bf16(native):
    layer = LAYERS["lstm"]()  # torch's CPU autocast lowers lstm (not gru, rnn)
    x = torch.randn(4, 6, 5)
    plain = run(layer, x, None, autocast=False)
    under_autocast = run(layer, x, None, autocast=True)
    assert under_autocast[0].dtype == torch.bfloat16
    torch.testing.assert_close(under_autocast[0].float(), plain[0], atol=0.05, rtol=0.05)


def test_train_bf16_settings(not_native):
    cpu = torch.device("cpu")
    assert choose_bf16(False, cpu) == (False, "precision: fp32 (train.bf16 = false)")
    enabled, reason = choose_bf16("auto", cpu)
    assert not enabled
    assert reason == ("precision: fp32 (train.bf16 = auto: this CPU has no native bfloat16 "
                      "(neither AVX512-BF16 or AMX-BF16))")
    with pytest.raises(UserError, match=r"train.bf16 = true: this CPU has no native bfloat16 "
                                        r"\(neither AVX512-BF16 or AMX-BF16\); use "
                                        r"train.bf16 = \"auto\""):
        choose_bf16(True, cpu)


def test_train_bf16_auto_chooses_bf16_where_native(native):
    cpu = torch.device("cpu")
    assert choose_bf16("auto", cpu) == (
        True, "precision: bf16 autocast (train.bf16 = auto; cpu runs bfloat16 natively)")
    assert choose_bf16(True, cpu)[0]


def test_the_probe_needs_onednn_and_the_bf16_instructions(pytestconfig):
    if pytestconfig.getoption("--simulate-no-native-bf16"):
        pytest.skip("the probe is simulated to say 'not native'")
    instructions = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert precision.bf16_native("cpu") == (
        bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and instructions)
    assert precision.bf16_native("meta") is False


@pytest.mark.parametrize("onednn, avx512_bf16, amx, expected", [
    (True, True, False, True), (True, False, True, True),
    (True, False, False, False),  # plain AVX-512: oneDNN emulates bf16, slower than fp32
    (False, True, True, False)])
def test_the_probe_on_each_cpu_kind(monkeypatch, onednn, avx512_bf16, amx, expected):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: onednn)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    probe = precision._cpu_runs_bf16
    if not hasattr(probe, "cache_clear"):
        pytest.skip("the probe is simulated for this session")
    probe.cache_clear()
    try:
        assert probe() is expected
    finally:
        probe.cache_clear()


@pytest.fixture
def pairs_file(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("".join(f"{w}\t{w.upper()}\n" for w in
                            ["go", "hi", "run", "wow", "fire", "help", "stop", "wait"]))
    return path


FAST = ["--set", "model.units=8", "--set", "model.embedding=4", "--set", "train.epochs=1",
        "--set", "train.batch_size=4", "--set", "eval.max_sentences=2", "--set",
        "data.valid_fraction=0.25"]


def test_train_says_which_precision_it_chose_first(pairs_file, tmp_path, not_native):
    result = run_cli("train", "fra-eng", *FAST, "--set", f"data.path={pairs_file}", "--out",
                     str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("precision: fp32 (train.bf16 = auto: this CPU has no native")


def test_bf16_true_without_native_bf16_fails_before_reading_data(tmp_path, not_native):
    missing = tmp_path / "no-such-file.txt"
    for arguments in (["--bf16"], ["--set", "train.bf16=true"]):
        result = run_cli("train", "fra-eng", *FAST, *arguments, "--set", f"data.path={missing}",
                         "--out", str(tmp_path / "r"))
        assert_one_line_error(result)
        assert result.output.strip().splitlines() == [
            'Error: train.bf16 = true: this CPU has no native bfloat16 (neither AVX512-BF16 '
            'or AMX-BF16); use train.bf16 = "auto" (or --no-bf16) to train in fp32 here']


def test_no_bf16_flag_overrides_the_recipe(pairs_file, tmp_path, native):
    result = run_cli("train", "fra-eng", *FAST, "--no-bf16", "--set", f"data.path={pairs_file}",
                     "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "precision: fp32 (train.bf16 = false)"


def test_bench_core_without_native_bf16_says_so(not_native):
    result = run_cli("bench", "core", "--time-steps", "4", "--units", "8", "--batch", "4",
                     "--features", "5", "--rounds", "1")
    assert result.exit_code == 0, result.output
    assert "bf16: not native on this CPU" in result.output
    assert "fused bf16" not in result.output


def test_fp16_is_cuda_only_and_never_beside_bf16_true():
    """The choice itself (no GPU needed: it reads the device's type); fp16 training runs in
    tests/test_trainer_resume.py on CUDA."""
    with pytest.raises(UserError, match=r"^train.fp16: float16 autocast with loss scaling "
                                        r"runs on CUDA only, not on cpu"):
        choose_autocast(TrainConfig(fp16=True), torch.device("cpu"))
    cuda = torch.device("cuda")
    with pytest.raises(UserError, match="train.fp16 and train.bf16 = true: choose one"):
        choose_autocast(TrainConfig(fp16=True, bf16=True), cuda)
    for bf16 in (False, "auto"):  # fp16 wins over auto
        assert choose_autocast(TrainConfig(fp16=True, bf16=bf16), cuda) == (
            torch.float16, "precision: fp16 autocast with dynamic loss scaling (train.fp16)")
    assert choose_autocast(TrainConfig(), torch.device("cpu")) == (
        None, "precision: fp32 (train.bf16 = false)")
