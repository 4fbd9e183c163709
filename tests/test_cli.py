"""The command line: version, help, and the core benchmark on a tiny configuration."""

import pytest
from click.testing import CliRunner

from seq2seq import __version__
from seq2seq.cli import main


def test_version_and_help():
    runner = CliRunner()
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0 and "bench" in result.output


def test_bench_core_prints_ratios():
    result = CliRunner().invoke(main, ["bench", "core", "--time-steps", "4", "--units", "8",
                                       "--batch", "4", "--features", "5", "--rounds", "1"])
    assert result.exit_code == 0, result.output
    assert "torch.nn.LSTM" in result.output and "reference, lengths" in result.output
    assert "bf16 autocast vs fp32" in result.output


def test_bench_core_rejects_bad_lists():
    result = CliRunner().invoke(main, ["bench", "core", "--units", "a,b"])
    assert result.exit_code == 2 and "--units" in result.output


def test_help_and_version_do_not_import_torch():
    import subprocess
    import sys

    for argument in ("--help", "--version"):
        script = ("import sys\nfrom seq2seq.cli import main\n"
                  f"try:\n    main([{argument!r}])\nexcept SystemExit:\n    pass\n"
                  "assert 'torch' not in sys.modules, 'torch was imported'\n")
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    listed = CliRunner().invoke(main, ["--help"]).output
    for alias in ("fill-train", "fill-eval"):
        assert alias in listed
    mnist = CliRunner().invoke(main, ["mnist", "--help"]).output
    assert "predict" in mnist and "train" in mnist and "eval" in mnist


def test_import_sets_a_larger_onednn_kernel_cache_and_keeps_a_users_value():
    """oneDNN reads ONEDNN_PRIMITIVE_CACHE_CAPACITY when it first runs, so importing
    seq2seq sets it (torch has no getter: a fresh interpreter reads the environment)."""
    import os
    import subprocess
    import sys

    from seq2seq import ONEDNN_CACHE_CAPACITY

    script = "import os, seq2seq; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"
    for users, expected in ((None, ONEDNN_CACHE_CAPACITY), ("7", "7")):
        env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
        if users is not None:
            env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = users
        result = subprocess.run([sys.executable, "-c", script], env=env,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == expected
    assert int(ONEDNN_CACHE_CAPACITY) > 1024  # oneDNN's own default


def test_bench_keras_without_keras_says_how_to_install_it(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "keras" else real(name, *args))
    result = CliRunner().invoke(main, ["bench", "keras", "--data", str(tmp_path / "fra.txt")])
    assert result.exit_code == 1
    assert "needs Keras 3 beside torch: pip install keras" in result.output


def test_bench_peers_without_opennmt_says_how_to_install_it(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_onmt(name, *args, **kwargs):
        if name == "onmt" or name.startswith("onmt."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onmt)
    result = CliRunner().invoke(main, ["bench", "peers", "--sources", "4", "--batch-size", "4"])
    assert result.exit_code == 1
    assert "OpenNMT-py is not installed in this environment" in result.output
    assert "make peers-venv" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("arguments, message", [
    (["--rounds", "0"], "--rounds: expected a positive integer, got 0"),
    (["--sources", "8", "--batch-size", "16"], "--sources: expected at least --batch-size"),
])
def test_bench_peers_rejects_sizes_it_cannot_time(arguments, message):
    result = CliRunner().invoke(main, ["bench", "peers", *arguments])
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output


def test_bench_peers_bf16_needs_native_bf16(monkeypatch):
    from seq2seq.core import precision

    monkeypatch.setattr(precision, "bf16_native", lambda device_type: False)
    result = CliRunner().invoke(main, ["bench", "peers", "--bf16"])
    assert result.exit_code == 1
    assert "--bf16: this CPU has no native bfloat16" in result.output
    assert "Traceback" not in result.output


def test_peer_ratios_pair_the_rounds():
    from seq2seq.benchmarks.peers import median_ratio

    # round 2 was slow for both sides: the rounds' ratios are 2, 2 and 3 -> 2, where the
    # ratio of the medians (4 / 1) would be 4
    assert median_ratio([2.0, 40.0, 3.0], [1.0, 20.0, 1.0]) == 2.0
    with pytest.raises(ValueError):
        median_ratio([1.0, 2.0], [1.0])


def test_bench_peers_length_sorted_batches_hold_the_same_pairs_with_less_padding():
    import torch

    from seq2seq.benchmarks.peers import PAD, length_sorted, random_batches

    batches = random_batches(4, 8, torch.Generator().manual_seed(0))
    again = length_sorted(batches)

    def pairs(group):
        return sorted((tuple(src[i, : int(n)].tolist()), tuple(t for t in tgt[i].tolist() if t))
                      for src, lengths, tgt in group for i, n in enumerate(lengths))

    def padded(group):
        return sum(int((tgt == PAD).sum()) for _, _, tgt in group)

    assert pairs(again) == pairs(batches) and len(again) == len(batches)
    assert all(int((src != PAD).sum(1).ne(lengths).sum()) == 0 for src, lengths, _ in again)
    assert padded(again) < padded(batches) / 4


def test_bench_peers_builds_the_identical_model_in_opennmt():
    from seq2seq.benchmarks.peers import format_peer_table, import_opennmt, run_peer_benchmark
    from seq2seq.errors import UserError

    try:
        import_opennmt()
    except UserError:
        pytest.skip("OpenNMT-py lives in its own venv (make peers-venv)")

    result = run_peer_benchmark(sources=16, batch_size=8, train_batches=1, rounds=1,
                                threads=1)
    assert result["difference"] < 1e-5  # the same weights give the same logits
    assert result["agreement"]["greedy"] >= 14  # ties aside, the same argmax outputs
    table = format_peer_table(result)
    assert "beam 5, sentences/s" in table and "our model alone" in table
    assert set(result["alone"]) == {1, 5} and all(s > 0 for s in result["alone"].values())
    assert set(result["ratios"]) == {"train", "train sorted", "greedy", "beam 1", "beam 5"}
    assert result["bf16_speedup"] is None and "bf16" not in table


def test_bench_peers_trains_both_under_bf16_where_native():
    from seq2seq.benchmarks.peers import format_peer_table, import_opennmt, run_peer_benchmark
    from seq2seq.core import precision
    from seq2seq.errors import UserError

    try:
        import_opennmt()
    except UserError:
        pytest.skip("OpenNMT-py lives in its own venv (make peers-venv)")
    if not precision.bf16_native("cpu"):
        pytest.skip("this CPU has no native bf16")
    result = run_peer_benchmark(sources=8, batch_size=8, train_batches=1, rounds=1,
                                threads=1, bf16=True)
    assert set(result["seconds"]) == {"train", "train sorted", "train bf16", "greedy",
                                      "beam 1", "beam 5"}
    assert result["bf16_speedup"] > 0
    assert "training bf16, tok/s" in format_peer_table(result)


@pytest.mark.parametrize("threads", ["0", "-1", "5000"])
def test_train_threads_flag_is_checked_like_the_recipe_key(threads, tmp_path):
    result = CliRunner().invoke(main, ["train", "demo", "--threads", threads,
                                       "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert f"--threads: expected 1 to 1024, got {threads}" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("error, said", [
    (RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
                  "allocate memory: you tried to allocate 640000000000 bytes. Error code 12"),
     "out of memory (you tried to allocate 640000000000 bytes. Error code 12); a smaller"),
    (MemoryError(), "out of memory (MemoryError); a smaller model (model.units, model.layers), "
                    "batch (train.batch_size, decode.batch_size) or longest sentence "
                    "(data.max_src_len, data.max_tgt_len) needs less"),
])
def test_a_model_or_batch_too_large_for_memory_is_one_line(error, said, monkeypatch, tmp_path):
    """A model too large for the machine was a traceback from deep inside torch; any other
    error still is one (it is a bug, not bad input)."""
    from seq2seq import runs

    def too_large(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(runs, "load_task_recipe", too_large)
    result = CliRunner().invoke(main, ["train", "demo", "--out", str(tmp_path / "run")])
    assert result.exit_code == 1 and said in result.output, result.output
    assert "Traceback" not in result.output
    monkeypatch.setattr(runs, "load_task_recipe", lambda *a, **k: 1 / 0)
    result = CliRunner().invoke(main, ["train", "demo", "--out", str(tmp_path / "run")])
    assert isinstance(result.exception, ZeroDivisionError)
