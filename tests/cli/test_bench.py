"""``seq2seq bench core | keras | peers | train | decode``: the tables they print and the
sizes they refuse, on tiny configurations (seconds)."""

import pytest

from seq2seq.benchmarks.train import ATTENTION_VARIANTS
from tests.helpers import assert_one_line_error, run_cli


def test_bench_core_prints_ratios():
    result = run_cli("bench", "core", "--time-steps", "4", "--units", "8", "--batch", "4",
                     "--features", "5", "--rounds", "1")
    assert result.exit_code == 0, result.output
    assert "torch.nn.LSTM" in result.output and "reference, lengths" in result.output
    assert "bf16 autocast vs fp32" in result.output


def test_bench_core_rejects_bad_lists():
    result = run_cli("bench", "core", "--units", "a,b")
    assert result.exit_code == 2 and "--units" in result.output


def test_bench_keras_without_keras_says_how_to_install_it(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "keras" else real(name, *args))
    result = run_cli("bench", "keras", "--data", str(tmp_path / "fra.txt"))
    assert_one_line_error(result, "needs Keras 3 beside torch: pip install keras")


def test_bench_peers_without_opennmt_says_how_to_install_it(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_onmt(name, *args, **kwargs):
        if name == "onmt" or name.startswith("onmt."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onmt)
    result = run_cli("bench", "peers", "--sources", "4", "--batch-size", "4")
    assert_one_line_error(result, "OpenNMT-py is not installed in this environment",
                          "make peers-venv")


@pytest.mark.parametrize("arguments, message", [
    (["--rounds", "0"], "--rounds: expected a positive integer, got 0"),
    (["--sources", "8", "--batch-size", "16"], "--sources: expected at least --batch-size"),
])
def test_bench_peers_rejects_sizes_it_cannot_time(arguments, message):
    result = run_cli("bench", "peers", *arguments)
    assert_one_line_error(result, message)


def test_bench_peers_bf16_needs_native_bf16(monkeypatch):
    from seq2seq.core import precision

    monkeypatch.setattr(precision, "bf16_native", lambda device_type: False)
    result = run_cli("bench", "peers", "--bf16")
    assert_one_line_error(result, "--bf16: this CPU has no native bfloat16")


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
    result = run_cli("bench", "train", "fra-eng", "--attention", "--steps", "2", "--rounds", "3",
                     "--threads", "1", "--set", f"data.path={pairs_file}", "--set", "model.units=8",
                     "--set", "model.embedding=4", "--set", "model.layers=1", "--set",
                     "model.bidirectional_encoder=false", "--set", "train.batch_size=4")
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
        bad = run_cli("bench", "train", "fra-eng", *options)
        assert_one_line_error(bad, message)


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
    result = run_cli("bench", "train", "fra-eng", "--attention", "--steps", "1", "--rounds", "1",
                     "--threads", "1", "--set", f"data.path={pairs_file}", "--set", "model.units=8",
                     "--set", "model.embedding=4", "--set", "model.layers=1", "--set",
                     "model.bidirectional_encoder=true", "--set", "model.bridge=concat", "--set",
                     "model.attention=general", "--set", "model.input_feeding=true", "--set",
                     "train.batch_size=4")
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
    result = run_cli("bench", "train", "fra-eng", "--epochs", "1", "--threads", "1", "--set",
                     f"data.path={pairs_file}", "--set", "model.units=8", "--set",
                     "model.embedding=4")
    assert result.exit_code == 0, result.output
    assert "median training time per epoch" in result.output
    result = run_cli("bench", "decode", str(trained_run), "--beam", "2", "--threads", "1", "--set",
                     f"data.path={pairs_file}")
    assert result.exit_code == 0, result.output
    assert "greedy, batched" in result.output and "beam 2, one at a time" in result.output
    engines = result.output.split("torch vs its export")[1].splitlines()
    for engine in ("torch", "onnx fp32", "onnx int8"):
        for mode in ("greedy", "beam 2"):
            assert any(line.startswith(f"{engine} ") and f" {mode} " in line
                       for line in engines), (engine, mode, result.output)
