"""``seq2seq train``: its options checked as the recipe's keys are, and a model too large
for memory said in one line."""

import pytest

from tests.helpers import assert_one_line_error, run_cli


@pytest.mark.parametrize("threads", ["0", "-1", "5000"])
def test_train_threads_flag_is_checked_like_the_recipe_key(threads, tmp_path):
    result = run_cli("train", "demo", "--threads", threads, "--out", str(tmp_path / "run"))
    assert_one_line_error(result, f"--threads: expected 1 to 1024, got {threads}")
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
    result = run_cli("train", "demo", "--out", str(tmp_path / "run"))
    assert_one_line_error(result, said)
    monkeypatch.setattr(runs, "load_task_recipe", lambda *a, **k: 1 / 0)
    result = run_cli("train", "demo", "--out", str(tmp_path / "run"))
    assert isinstance(result.exception, ZeroDivisionError)
