"""Exact resume in every configuration a recipe can turn on.

Each test interrupts a real run with a real SIGINT (sent from inside the training step or
the evaluation, so the moment is exact), resumes it from ``last`` in a new trainer, and
compares the final weights bit for bit, and the metrics rows, with an uninterrupted run.
"""

import signal
import time

import pytest
import torch

from seq2seq import checkpoint
from seq2seq.data.fill import BlankDataConfig, BlankSplits, blank_sentences
from seq2seq.data.pairs import Pair, PairDataConfig, PairSplits
from seq2seq.models.encoder_decoder import TranslatorConfig
from seq2seq.models.filler import BlankFillerConfig
from seq2seq.search import SearchConfig
from seq2seq.tasks.fill import FillRecipe, FillTask
from seq2seq.tasks.translation import (
    EvalConfig,
    TeacherForcingConfig,
    TranslationRecipe,
    TranslationTask,
)
from seq2seq.trainer import Interrupted, TrainConfig, Trainer
from tests.helpers import CUDA, assert_same_weights, make_mnist_task, send_sigint_on_call

TIMING = ("train_seconds", "eval_seconds", "elapsed_s")
WORDS = ["cat", "dog", "house", "tree", "river", "stone", "light", "water", "green", "small",
         "apple", "bread", "cloud", "night", "horse", "table", "chair", "music", "paper", "sun"]
PAIRS = [Pair(w, w[::-1].upper()) for w in WORDS] + [Pair(a + " " + b, (b + a).upper())
                                                      for a, b in zip(WORDS, WORDS[3:])]
SENTENCES = [f"the {a} sees a {b}." for a, b in zip(WORDS, WORDS[5:] + WORDS[:5])]


def quiet(_message):
    pass


def make_translation_task(train=None, teacher_forcing=None, device="cpu"):
    recipe = TranslationRecipe(
        data=PairDataConfig(path="unused"),
        model=TranslatorConfig(units=12, embedding=6),
        train=TrainConfig(**{"epochs": 3, "batch_size": 6, "seed": 3, **(train or {})}),
        teacher_forcing=TeacherForcingConfig(**(teacher_forcing or {})),
        decode=SearchConfig(batch_size=8),
        eval=EvalConfig(metrics=["chrf"], max_sentences=6),
    )
    torch.manual_seed(recipe.train.seed)
    splits = PairSplits(PAIRS[:30], PAIRS[30:], [], "synthetic", 0, 0)
    return TranslationTask(recipe, splits, torch.device(device))


def make_fill_task(train=None, device="cpu"):
    recipe = FillRecipe(data=BlankDataConfig(embedded=True),
                        model=BlankFillerConfig(units=10, embedding=6, dropout=0.2),
                        train=TrainConfig(**{"epochs": 3, "batch_size": 4, "seed": 5,
                                             **(train or {})}),
                        decode=SearchConfig(batch_size=8))
    torch.manual_seed(recipe.train.seed)
    splits = BlankSplits(SENTENCES[:16], blank_sentences(SENTENCES[16:], 1), "synthetic", 0)
    return FillTask(recipe, splits, torch.device(device))


CONFIGURATIONS = {
    "mnist": lambda: make_mnist_task(),
    "mnist, plateau schedule and early stopping": lambda: make_mnist_task(
        epochs=4, lr_schedule="plateau", plateau_patience=0, early_stopping_patience=2),
    "translation, scheduled sampling (linear)": lambda: make_translation_task(
        teacher_forcing={"sampling_probability": 0.5, "schedule": "linear", "ramp_steps": 9}),
    "translation, batches counted in tokens": lambda: make_translation_task(
        train={"batch_unit": "tokens", "batch_size": 40}),
    "translation, weight averaging and scheduled sampling": lambda: make_translation_task(
        train={"ema_decay": 0.7},
        teacher_forcing={"sampling_probability": 0.3, "schedule": "constant"}),
    "translation, evaluation every 3 steps": lambda: make_translation_task(
        train={"eval_every_steps": 3}),
    "fill-in": lambda: make_fill_task(),
}


def without_timing(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def uninterrupted(make, run_dir):
    task = make()
    rows = Trainer(task, task.recipe.train, run_dir, log=quiet).fit()
    return task, rows


def interrupted_then_resumed(make, run_dir, step=None, evaluation=None):
    """Stop a run with SIGINT in training step ``step`` or in evaluation number
    ``evaluation``; resume it from its checkpoint with a new task and trainer."""
    task = make()
    if step is not None:
        task.loss = send_sigint_on_call(task.loss, step)
    if evaluation is not None:
        task.evaluate = send_sigint_on_call(task.evaluate, evaluation)
    with pytest.raises(Interrupted) as stopped:
        Trainer(task, task.recipe.train, run_dir, log=quiet).fit()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    resumed = make()
    trainer = Trainer(resumed, resumed.recipe.train, run_dir, log=quiet)
    trainer.resume()
    return resumed, trainer.fit(), stopped.value.path


def assert_same_run(reference, resumed, reference_dir, resumed_dir):
    (task_a, rows_a), (task_b, rows_b) = reference, resumed
    assert_same_weights(task_a, task_b)  # the trained weights
    for link in ("last", "best"):  # the saved (averaged, where averaging is on) weights
        a = checkpoint.resolve(reference_dir, link)
        b = checkpoint.resolve(resumed_dir, link)
        assert checkpoint.step_of(a) == checkpoint.step_of(b), link
        assert (a / checkpoint.WEIGHTS).read_bytes() == (b / checkpoint.WEIGHTS).read_bytes()
    assert without_timing(rows_a) == without_timing(rows_b)
    assert all(row["train_loss"] > 0 for row in rows_b)


@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_an_interrupted_step_resumes_exactly(name, tmp_path):
    make = CONFIGURATIONS[name]
    reference = uninterrupted(make, tmp_path / "whole")
    batches = len(reference[0].batches(0, reference[0].recipe.train.seed))
    task, rows, path = interrupted_then_resumed(make, tmp_path / "cut", step=batches + 2)
    assert checkpoint.step_of(path) == batches + 2
    assert_same_run(reference, (task, rows), tmp_path / "whole", tmp_path / "cut")


@pytest.mark.parametrize("name", ["mnist", "translation, scheduled sampling (linear)",
                                  "fill-in"])
def test_an_interrupt_on_an_epochs_last_batch_resumes_exactly(name, tmp_path):
    make = CONFIGURATIONS[name]
    reference = uninterrupted(make, tmp_path / "whole")
    batches = len(reference[0].batches(0, reference[0].recipe.train.seed))
    task, rows, path = interrupted_then_resumed(make, tmp_path / "cut", step=batches)
    assert checkpoint.step_of(path) == batches
    assert_same_run(reference, (task, rows), tmp_path / "whole", tmp_path / "cut")
    # the end of that epoch was written again under the same step, in a new directory
    assert checkpoint.resolve(tmp_path / "cut", "last").name.startswith("step-")


@pytest.mark.parametrize("name", ["mnist", "translation, weight averaging and scheduled sampling",
                                  "translation, evaluation every 3 steps"])
def test_an_interrupt_during_evaluation_resumes_exactly(name, tmp_path):
    make = CONFIGURATIONS[name]
    reference = uninterrupted(make, tmp_path / "whole")
    task, rows, _ = interrupted_then_resumed(make, tmp_path / "cut", evaluation=2)
    assert_same_run(reference, (task, rows), tmp_path / "whole", tmp_path / "cut")


def budget_of_two_epochs(clock: dict):
    """MNIST tasks on a fake clock that advances one second per training step: 5 steps an
    epoch, and a 14.5-second budget that allows 2 epochs."""
    def make():
        task = make_mnist_task(epochs=6, max_minutes=14.5 / 60)
        original = task.loss

        def one_second_per_step(*args):
            clock["now"] += 1.0
            return original(*args)

        task.loss = one_second_per_step
        return task

    return make


def test_the_time_budget_counts_the_whole_run_across_resumes(tmp_path, monkeypatch):
    """Two epochs of the budget, interrupted or not."""
    clock = {"now": 0.0}
    monkeypatch.setattr(time, "perf_counter", lambda: clock["now"])
    make = budget_of_two_epochs(clock)
    _, rows = uninterrupted(make, tmp_path / "whole")
    assert [row["step"] for row in rows] == [5, 10]
    _, rows, _ = interrupted_then_resumed(make, tmp_path / "cut", step=8)
    assert [row["step"] for row in rows] == [5, 10]
    assert [row["elapsed_s"] for row in rows] == [5.0, 10.0]


def test_a_run_that_ends_after_an_interrupted_evaluation_ends_there(tmp_path):
    """Ctrl-C during the evaluation after which early stopping ends the run: the run
    ends there with its checkpoint, as it would have without the Ctrl-C (it used to raise
    Interrupted, and the resumed run trained an epoch more). A learning rate of 1e-12
    improves nothing after the first epoch, so patience 1 stops after the second."""
    def make():
        return make_mnist_task(epochs=5, early_stopping_patience=1, learning_rate=1e-12)

    reference = uninterrupted(make, tmp_path / "whole")
    assert [row["step"] for row in reference[1]] == [5, 10]
    task = make()
    task.evaluate = send_sigint_on_call(task.evaluate, 2)
    rows = Trainer(task, task.recipe.train, tmp_path / "cut", log=quiet).fit()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert_same_run(reference, (task, rows), tmp_path / "whole", tmp_path / "cut")


def test_a_time_budget_that_ends_after_an_interrupted_evaluation_ends_there(tmp_path,
                                                                         monkeypatch):
    """The same for the time budget (two epochs of it): Ctrl-C in the second evaluation
    changes nothing."""
    clock = {"now": 0.0}
    monkeypatch.setattr(time, "perf_counter", lambda: clock["now"])
    make = budget_of_two_epochs(clock)
    reference = uninterrupted(make, tmp_path / "whole")
    assert [row["step"] for row in reference[1]] == [5, 10]
    clock["now"] = 0.0
    task = make()
    task.evaluate = send_sigint_on_call(task.evaluate, 2)
    rows = Trainer(task, task.recipe.train, tmp_path / "cut", log=quiet).fit()
    assert_same_run(reference, (task, rows), tmp_path / "whole", tmp_path / "cut")


# On CUDA: the same runs on the GPU, in fp32, bf16 autocast and fp16 with loss scaling (the
# scaler's state travels in the checkpoint). Deterministic algorithms are asked for with
# warn_only, so that an operation without a deterministic CUDA kernel shows as a warning
# naming it (and, if it changes the result, as a failed equality) rather than an error;
# CUBLAS_WORKSPACE_CONFIG (set in conftest before CUDA starts) makes cuBLAS, and with it
# cuDNN's LSTM, deterministic.
CUDA_CONFIGURATIONS = {
    "mnist": lambda: make_mnist_task("cuda"),
    "translation, scheduled sampling (linear)": lambda: make_translation_task(
        teacher_forcing={"sampling_probability": 0.5, "schedule": "linear", "ramp_steps": 9},
        device="cuda"),
    "translation, bf16 autocast": lambda: make_translation_task(train={"bf16": "auto"},
                                                                device="cuda"),
    "translation, fp16 with loss scaling": lambda: make_translation_task(
        train={"fp16": True, "clip_grad_norm": 1.0}, device="cuda"),
    "fill-in": lambda: make_fill_task(device="cuda"),
}


@CUDA
@pytest.mark.parametrize("name", list(CUDA_CONFIGURATIONS))
def test_an_interrupted_step_resumes_exactly_on_cuda(name, tmp_path):
    make = CUDA_CONFIGURATIONS[name]
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        reference = uninterrupted(make, tmp_path / "whole")
        batches = len(reference[0].batches(0, reference[0].recipe.train.seed))
        task, rows, path = interrupted_then_resumed(make, tmp_path / "cut", step=batches + 2)
    finally:
        torch.use_deterministic_algorithms(False)
    assert checkpoint.step_of(path) == batches + 2
    assert_same_run(reference, (task, rows), tmp_path / "whole", tmp_path / "cut")


def test_evaluating_every_few_steps_adds_no_second_row_at_an_epochs_end(tmp_path):
    # every step evaluates: the epoch's last step used to be evaluated twice (a
    # mid-epoch row, then the epoch's own, for the same weights)
    task, rows = uninterrupted(lambda: make_translation_task(train={"eval_every_steps": 1}),
                               tmp_path / "run")
    steps = [row["step"] for row in rows]
    assert len(steps) == len(set(steps)) and steps == sorted(steps)
    per_epoch = len(task.batches(0, task.recipe.train.seed))
    assert len(rows) == task.recipe.train.epochs * per_epoch
    assert [row["epoch"] for row in rows][per_epoch - 1] == 1  # the epoch's own, whole


@pytest.mark.parametrize("ending", ["epochs", "early stopping", "time budget"])
def test_resuming_a_finished_run_says_why_it_is_over_and_trains_nothing(ending, tmp_path,
                                                                        monkeypatch):
    """A finished run resumed: one line saying why it is over and which setting lets it
    go on, and the run left as it was; with that setting raised, it trains on."""
    clock = {"now": 0.0}
    if ending == "time budget":
        monkeypatch.setattr(time, "perf_counter", lambda: clock["now"])
        make = budget_of_two_epochs(clock)
        raised = {"max_minutes": 30.0}
        expected = "time budget is spent"
    elif ending == "early stopping":  # nothing improves after the first epoch: 1 + 1 epochs
        settings = {"epochs": 5, "early_stopping_patience": 1, "learning_rate": 1e-12}
        make = lambda **more: make_mnist_task(**{**settings, **more})  # noqa: E731
        raised = {"early_stopping_patience": 3}
        expected = "stopped early, no better valid_loss for 1 epochs"
    else:
        make, raised, expected = make_mnist_task, {"epochs": 3}, "all 2 epochs are trained"
    task, rows = uninterrupted(make, tmp_path / "run")
    assert [row["step"] for row in rows] == [5, 10]
    saved = (tmp_path / "run" / "metrics.jsonl").read_text()
    again, said = make(), []
    trainer = Trainer(again, again.recipe.train, tmp_path / "run", log=said.append)
    trainer.resume()
    assert trainer.finished() and expected in trainer.finished()
    assert [row["step"] for row in trainer.fit()] == [5, 10]
    assert said[-1].startswith("nothing to train: ") and expected in said[-1]
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == saved
    if ending == "time budget":
        more = make_mnist_task(epochs=6, max_minutes=30.0)
    else:
        more = make(**raised) if ending == "early stopping" else make_mnist_task(**raised)
    trainer = Trainer(more, more.recipe.train, tmp_path / "run", log=quiet)
    trainer.resume()
    assert trainer.finished() is None
    assert len(trainer.fit()) > 2
