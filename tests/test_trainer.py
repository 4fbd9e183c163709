"""The training loop: exact resume after Ctrl-C, atomic checkpoints, non-finite loss."""

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from seq2seq import checkpoint
from seq2seq.errors import UserError
from seq2seq.trainer import Interrupted, TrainConfig, Trainer
from tests.helpers import (
    assert_same_weights,
    make_mnist_task,
    send_sigint_on_call,
    weights,
)


def quiet(_message):
    pass


def test_sigint_saves_and_resume_ends_with_the_uninterrupted_weights(tmp_path):
    reference = make_mnist_task()
    Trainer(reference, reference.recipe.train, tmp_path / "a", log=quiet).fit()

    interrupted = make_mnist_task()
    interrupted.loss = send_sigint_on_call(interrupted.loss, 7)  # mid-way through epoch 2
    with pytest.raises(Interrupted) as stopped:
        Trainer(interrupted, interrupted.recipe.train, tmp_path / "b", log=quiet).fit()
    assert stopped.value.path.name == "step-00000007"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored

    resumed = make_mnist_task()
    trainer = Trainer(resumed, resumed.recipe.train, tmp_path / "b", log=quiet)
    trainer.resume()
    assert (trainer.position.epoch, trainer.position.batch) == (1, 2)
    rows = trainer.fit()
    assert_same_weights(reference, resumed)
    assert [row["step"] for row in rows] == [5, 10]
    assert (tmp_path / "b" / "loss.png").exists()
    assert (tmp_path / "b" / "checkpoints" / "best").is_symlink()


def test_a_run_started_with_sigint_ignored_leaves_it_ignored(tmp_path):
    """A run started with Ctrl-C ignored (``cmd &`` in a script: a shell without job
    control keeps its background jobs out of a Ctrl-C that way) keeps it ignored: a
    SIGINT mid-run changes nothing, the run trains to its end, and the disposition is
    still SIG_IGN after."""
    reference = make_mnist_task()
    Trainer(reference, reference.recipe.train, tmp_path / "a", log=quiet).fit()
    task = make_mnist_task()
    task.loss = send_sigint_on_call(task.loss, 7)  # mid-way through epoch 2
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        rows = Trainer(task, task.recipe.train, tmp_path / "b", log=quiet).fit()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert [row["step"] for row in rows] == [5, 10]
    assert not (tmp_path / "b" / "checkpoints" / "step-00000007").exists()
    assert_same_weights(reference, task)


def test_weight_averaging_evaluates_and_saves_the_average_and_resumes_exactly(tmp_path):
    decay = 0.8
    reference = make_mnist_task(ema_decay=decay)
    seen, original_loss = [], reference.loss

    def loss_recording_weights(batch, step):  # the weights after each step but the last
        if reference.model.training:
            seen.append(weights(reference))
        return original_loss(batch, step)

    reference.loss = loss_recording_weights
    Trainer(reference, reference.recipe.train, tmp_path / "a", log=quiet).fit()
    trained = seen[1:] + [weights(reference)]  # after steps 1..10
    assert len(trained) == 10
    average = {name: tensor.clone() for name, tensor in trained[0].items()}
    for step in trained[1:]:
        for name in average:
            average[name] += (1 - decay) * (step[name] - average[name])
    last = checkpoint.resolve(tmp_path / "a", "last")
    saved = make_mnist_task()
    checkpoint.load_weights(saved.model, last)
    for name, tensor in weights(saved).items():
        torch.testing.assert_close(tensor, average[name], rtol=0, atol=1e-6)
        assert not torch.equal(tensor, trained[-1][name])

    interrupted = make_mnist_task(ema_decay=decay)
    interrupted.loss = send_sigint_on_call(interrupted.loss, 7)  # mid-way through epoch 2
    with pytest.raises(Interrupted):
        Trainer(interrupted, interrupted.recipe.train, tmp_path / "b", log=quiet).fit()
    resumed = make_mnist_task(ema_decay=decay)
    trainer = Trainer(resumed, resumed.recipe.train, tmp_path / "b", log=quiet)
    trainer.resume()
    trainer.fit()
    for name, tensor in weights(resumed).items():  # the trained weights
        assert torch.equal(tensor, trained[-1][name]), name
    checkpoint.load_weights(saved.model, checkpoint.resolve(tmp_path / "b", "last"))
    reloaded = make_mnist_task()
    checkpoint.load_weights(reloaded.model, last)
    for name, tensor in weights(saved).items():  # the averaged weights
        assert torch.equal(tensor, weights(reloaded)[name]), name

    plain = make_mnist_task()
    with pytest.raises(UserError, match=r"saved with weight averaging; resume with the "
                                        r"train.ema_decay"):
        Trainer(plain, plain.recipe.train, tmp_path / "b", log=quiet).resume()
    with pytest.raises(UserError, match=r"train.ema_decay: expected a fraction in \[0, 1\)"):
        TrainConfig(ema_decay=1.0).check()


def test_sigkill_while_writing_a_checkpoint_leaves_the_previous_one(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, torch
        from seq2seq import checkpoint
        model = torch.nn.Linear(2, 2)
        checkpoint.write_checkpoint({str(tmp_path)!r}, 1, model, {{"n": 1}})
        real_save = torch.save
        def killed(obj, path, *a, **k):
            real_save(obj, path, *a, **k)
            os.kill(os.getpid(), signal.SIGKILL)  # after some files, before the rename
        torch.save = killed
        with torch.no_grad():
            model.weight.fill_(5.0)
        checkpoint.write_checkpoint({str(tmp_path)!r}, 2, model, {{"n": 2}})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert result.returncode == -signal.SIGKILL
    last = checkpoint.resolve(tmp_path, "last")
    assert last.name == "step-00000001"
    assert checkpoint.load_state(last) == {"n": 1}
    model = torch.nn.Linear(2, 2)
    checkpoint.load_weights(model, last)
    assert not torch.all(model.weight == 5.0)
    assert (tmp_path / "checkpoints" / "step-00000002.tmp").exists()
    checkpoint.write_checkpoint(tmp_path, 3, model, {"n": 3})  # the next write tidies up
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["last",
                                                                             "step-00000003"]


def test_non_finite_loss_stops_with_a_message_and_keeps_the_last_checkpoint(tmp_path):
    task = make_mnist_task(epochs=3)
    original_loss = task.loss
    calls = {"n": 0}

    def loss(batch, step):
        calls["n"] += 1
        value, count = original_loss(batch, step)
        return (value * float("nan") if calls["n"] == 8 else value), count

    task.loss = loss
    with pytest.raises(UserError, match=r"non-finite loss \(nan\) at epoch 2, step 8; the last "
                                        r"good checkpoint is .*checkpoints/last"):
        Trainer(task, task.recipe.train, tmp_path, log=quiet).fit()
    assert checkpoint.resolve(tmp_path, "last").name == "step-00000005"


def test_wrong_checkpoint_is_a_clear_error(tmp_path):
    task = make_mnist_task(epochs=1)
    Trainer(task, task.recipe.train, tmp_path, log=quiet).fit()
    other = torch.nn.Linear(3, 3)
    with pytest.raises(UserError, match=r"model.safetensors: checkpoint does not fit this model"):
        checkpoint.load_weights(other, checkpoint.resolve(tmp_path))
    with pytest.raises(UserError, match=r"no checkpoint found"):
        checkpoint.resolve(Path(tmp_path / "checkpoints"))
    (checkpoint.resolve(tmp_path) / "model.safetensors").write_bytes(b"truncated")
    with pytest.raises(UserError, match=r"unreadable weights"):
        checkpoint.load_weights(task.model, checkpoint.resolve(tmp_path))


def test_early_stopping_and_metrics_rows(tmp_path):
    task = make_mnist_task(epochs=6, early_stopping_metric="valid_loss", early_stopping_patience=1,
                     learning_rate=1e-9)
    rows = Trainer(task, task.recipe.train, tmp_path, log=quiet).fit()
    assert 2 <= len(rows) < 6
    assert {"epoch", "step", "train_loss", "valid_loss", "valid_accuracy", "lr"} <= set(rows[0])
    with pytest.raises(UserError, match=r"train.early_stopping_metric: 'valid_bleu' is not"):
        task = make_mnist_task(early_stopping_metric="valid_bleu")
        Trainer(task, task.recipe.train, tmp_path / "x", log=quiet).fit()


def test_time_budget_stops_before_an_epoch_that_would_overrun(tmp_path):
    task = make_mnist_task(epochs=5, max_minutes=1e-6)
    rows = Trainer(task, task.recipe.train, tmp_path, log=quiet).fit()
    assert len(rows) == 1
    assert checkpoint.resolve(tmp_path, "last").name == "step-00000005"


@pytest.mark.parametrize("bf16", [False, True])
def test_evaluation_runs_in_the_precision_training_runs_in(tmp_path, monkeypatch, bf16):
    """Under train.bf16 both the steps and the evaluations run under bf16 autocast, and
    without it neither does; the task's own loss and evaluation are replaced by probes
    (no fused kernel runs, so this holds on a CPU without native bf16 too)."""
    from seq2seq.core import precision

    monkeypatch.setattr(precision, "bf16_native", lambda device_type: True)
    task = make_mnist_task(epochs=1, bf16=bf16)
    parameter = next(task.model.parameters())
    seen = []

    def probe(where):
        seen.append((where, torch.is_autocast_enabled("cpu"),
                     torch.get_autocast_dtype("cpu") if bf16 else None))

    def loss(batch, step):
        probe("train")
        return parameter.sum() * 0, 1

    def evaluate():
        probe("eval")
        return {"valid_loss": 1.0}

    monkeypatch.setattr(task, "loss", loss)
    monkeypatch.setattr(task, "evaluate", evaluate)
    Trainer(task, task.recipe.train, tmp_path, log=quiet).fit()
    expected = (bf16, torch.bfloat16 if bf16 else None)
    assert {entry[0] for entry in seen} == {"train", "eval"}
    assert {entry[1:] for entry in seen} == {expected}
