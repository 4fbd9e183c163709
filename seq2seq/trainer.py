"""The one training loop: optimiser, schedule, evaluation, checkpoints, exact resume.

A task (the MNIST classifier, the translator) supplies the model, a deterministic list
of batches per epoch, the loss of a batch and its evaluation; the trainer does the
rest. Data order depends only on ``(seed, epoch)``, and a checkpoint records where in
the epoch it was taken with the optimiser, scheduler and RNG states, so an interrupted
run resumed from ``last`` ends with exactly the weights of an uninterrupted one (CPU).
"""

from __future__ import annotations

import io
import json
import math
import signal
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from seq2seq import checkpoint
from seq2seq.base.errors import UserError
from seq2seq.config import setting, write_atomic
from seq2seq.core import precision
from seq2seq.limits import MAX_SEED, MAX_THREADS
from seq2seq.progress import progress_bar

STATE_KEYS = ("optimizer", "scheduler", "rng", "cuda_rng", "position")  # what resume reads
PLOT_EVERY_SECONDS = 30.0  # loss.png is redrawn at most this often, and at the end
LOWER_IS_BETTER = ("loss", "wer", "per", "cer", "ter", "ser", "perplexity")


@dataclass
class TrainConfig:
    """Settings of the training loop (the ``[train]`` table of a recipe)."""

    epochs: int = setting(10, "passes over the training data")
    batch_size: int = setting(64, "examples per training batch (tokens with batch_unit = 'tokens')")
    batch_unit: Literal["sentences", "tokens"] = setting(
        "sentences", "what batch_size counts: sentences, or tokens (translation and fill; MNIST "
                     "counts images)")
    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"] = setting(
        "adam", "the optimiser (torch.optim's Adam, AdamW, RMSprop or SGD)")
    learning_rate: float = setting(
        1e-3, "the optimiser's learning rate (at the start, with a schedule)")
    weight_decay: float = setting(0.0, "the optimiser's weight decay")
    momentum: float = setting(0.0, "rmsprop and sgd: the momentum (adam's betas are fixed)")
    clip_grad_norm: float = setting(0.0, "clip the gradients' global norm to this; 0: no clipping")
    label_smoothing: float = setting(
        0.0, "label smoothing of the cross-entropy loss, a fraction in [0, 1)")
    lr_schedule: Literal["none", "plateau", "step"] = setting(
        "none", "learning rate schedule: 'step' every lr_step_epochs, 'plateau' when "
                "early_stopping_metric stops improving")
    lr_step_epochs: int = setting(
        1, "'step': multiply the learning rate by lr_gamma every this many epochs")
    lr_gamma: float = setting(
        0.5, "'step' and 'plateau': the factor the learning rate is multiplied by")
    plateau_patience: int = setting(
        1, "'plateau': evaluations without improvement before the rate drops")
    early_stopping_metric: str = setting(
        "valid_loss", "the evaluation metric that picks the best checkpoint, early stopping and "
                      "'plateau' watch")
    early_stopping_patience: int = setting(
        0, "stop after this many evaluations without improvement; 0: never stop early")
    max_minutes: float = setting(
        0.0, "time budget: no epoch starts that would end past it; 0: no limit")
    eval_every_steps: int = setting(
        0, "evaluate every this many steps too; 0: at the end of each epoch only")
    seed: int = setting(0, "seed of the initial weights and of the data order")
    threads: int = setting(0, "CPU threads torch uses; 0: torch's default")
    device: Literal["auto", "cpu", "cuda", "mps"] = setting(
        "auto", "where to train; 'auto': cuda, else mps, else the CPU")
    bf16: bool | Literal["auto"] = setting(
        False, "bfloat16 autocast: 'auto' where the device runs it natively (CPU with AVX512-BF16 "
               "or AMX, GPU of compute capability 8.0+), else fp32; true insists (an error where "
               "it is not native); false: fp32")
    fp16: bool = setting(
        False, "float16 autocast with dynamic loss scaling (torch.amp.GradScaler): CUDA only, "
               "instead of bf16 (it overrides bf16 = 'auto'; with bf16 = true it is an error)")
    ema_decay: float = setting(
        0.0, "> 0: evaluate and save an exponential moving average of the weights, with this decay")

    def check(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise UserError(f"train.{name}: expected a positive integer, "
                                f"got {getattr(self, name)}")
        if not 0 <= self.label_smoothing < 1:
            raise UserError(f"train.label_smoothing: expected a fraction in [0, 1), "
                            f"got {self.label_smoothing}")
        if not 0 <= self.ema_decay < 1:
            raise UserError(f"train.ema_decay: expected a fraction in [0, 1), got {self.ema_decay}")
        if self.learning_rate <= 0:
            raise UserError(f"train.learning_rate: expected > 0, got {self.learning_rate}")
        for name in ("weight_decay", "momentum", "clip_grad_norm", "max_minutes",
                     "eval_every_steps", "early_stopping_patience", "plateau_patience",
                     "threads"):
            if getattr(self, name) < 0:
                raise UserError(f"train.{name}: expected 0 or more, got {getattr(self, name)}")
        if self.threads > MAX_THREADS:
            raise UserError(f"train.threads: expected at most {MAX_THREADS}, got {self.threads}")
        if not 0 <= self.seed <= MAX_SEED:
            raise UserError(f"train.seed: expected 0 to {MAX_SEED}, got {self.seed}")
        if self.lr_step_epochs < 1:
            raise UserError(f"train.lr_step_epochs: expected a positive integer, "
                            f"got {self.lr_step_epochs}")
        if not 0 < self.lr_gamma < 1:  # plateau's factor must be < 1; a step schedule's too
            raise UserError(f"train.lr_gamma: expected a factor in (0, 1), got {self.lr_gamma}")
        if self.momentum and self.optimizer not in ("rmsprop", "sgd"):
            raise UserError(f"train.momentum: applies to rmsprop and sgd; {self.optimizer} "
                            f"has none (its betas are fixed), expected 0, got {self.momentum}")
        for name, schedules in (("lr_step_epochs", ("step",)), ("plateau_patience", ("plateau",)),
                                ("lr_gamma", ("step", "plateau"))):
            default = TrainConfig.__dataclass_fields__[name].default
            if getattr(self, name) != default and self.lr_schedule not in schedules:
                raise UserError(f"train.{name}: applies only with train.lr_schedule = "
                                f"{' or '.join(map(repr, schedules))}, "
                                f"not {self.lr_schedule!r}")


def check_early_stopping_metric(config: TrainConfig, measured: Sequence[str]) -> None:
    """``train.early_stopping_metric`` must be one of what the task's evaluations (and
    its training loss) measure: checked when the recipe loads, not after an epoch."""
    if config.early_stopping_metric not in measured:
        raise UserError(f"train.early_stopping_metric: {config.early_stopping_metric!r} is not "
                        f"measured; measured: {sorted(measured)}")


class Task(Protocol):
    """What a model family gives the trainer."""

    model: nn.Module
    unit: str  # what the throughput counts: "img", "tok"

    def batches(self, epoch: int, seed: int) -> Sequence[Any]:
        """This epoch's batches, in an order that depends only on (seed, epoch)."""

    def loss(self, batch: Any, step: int) -> tuple[torch.Tensor, int]:
        """Mean training loss of ``batch`` and how many units it holds; ``step`` is the
        number of this update (1 for the first of the run), for schedules such as
        scheduled sampling's, so that they resume exactly."""

    def evaluate(self) -> dict[str, float]:
        """Held-out metrics, e.g. ``{"valid_loss": ..., "valid_accuracy": ...}``."""

    def save_extra(self, directory: Path) -> None:
        """Write the task's own files (config, vocabulary) into a checkpoint directory."""


def read_metrics(run_dir: Path) -> list[dict]:
    """The rows of ``run_dir/metrics.jsonl``, in order (none before the first evaluation)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


class Interrupted(Exception):
    """Ctrl-C: a checkpoint was saved at ``path`` and training stopped."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"interrupted; checkpoint saved in {path}")
        self.path = path


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device: cuda requested but torch sees no CUDA device")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("train.device: mps requested but torch sees no MPS device")
    return torch.device(name)


def choose_bf16(setting: bool | str, device: torch.device) -> tuple[bool, str]:
    """``(use bf16 autocast, why)`` for ``train.bf16`` on ``device``.

    ``true`` where bf16 is not native is a :class:`UserError` naming what is missing and
    ``auto`` as the way out; ``auto`` chooses bf16 exactly where it is native.
    """
    native = precision.bf16_native(device.type)
    if setting is False:
        return False, "precision: fp32 (train.bf16 = false)"
    if setting is True and not native:
        raise UserError(f"train.bf16 = true: {precision.missing_bf16(device.type)}; use "
                        "train.bf16 = \"auto\" (or --no-bf16) to train in fp32 here")
    if native:
        return True, (f"precision: bf16 autocast (train.bf16 = {str(setting).lower()}; "
                      f"{device.type} runs bfloat16 natively)")
    return False, (f"precision: fp32 (train.bf16 = auto: {precision.missing_bf16(device.type)})")


def choose_autocast(config: TrainConfig, device: torch.device) -> tuple[torch.dtype | None, str]:
    """``(autocast dtype, or None for fp32; why)`` for ``train.fp16`` and ``train.bf16``
    on ``device``. ``fp16`` off CUDA, or beside ``bf16 = true``, is a :class:`UserError`."""
    if config.fp16:
        if device.type != "cuda":
            raise UserError(f"train.fp16: float16 autocast with loss scaling runs on CUDA only, "
                            f"not on {device.type} (there, reduced precision is train.bf16)")
        if config.bf16 is True:
            raise UserError("train.fp16 and train.bf16 = true: choose one")
        return torch.float16, "precision: fp16 autocast with dynamic loss scaling (train.fp16)"
    bf16, reason = choose_bf16(config.bf16, device)
    return (torch.bfloat16 if bf16 else None), reason


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params, lr, decay = model.parameters(), config.learning_rate, config.weight_decay
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay)
    if config.optimizer == "rmsprop":  # Keras's defaults: rho 0.9, epsilon 1e-7
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7, weight_decay=decay,
                                   momentum=config.momentum)
    return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=decay)


def build_scheduler(optimizer, config: TrainConfig):
    if config.lr_schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, config.lr_step_epochs, config.lr_gamma)
    if config.lr_schedule == "plateau":
        mode = "min" if lower_is_better(config.early_stopping_metric) else "max"
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=config.lr_gamma, patience=config.plateau_patience)
    return None


def lower_is_better(metric: str) -> bool:
    return any(word in metric.lower() for word in LOWER_IS_BETTER)


@dataclass
class Position:
    """Where training stands: ``batch`` batches of ``epoch`` done, ``step`` updates in all,
    and everything else that changes as it goes, so that a checkpoint carries it all:
    early-stopping counters, this epoch's running loss and training seconds, and the
    seconds the whole run has taken so far (``train.max_minutes`` counts across resumes).
    """

    epoch: int = 0
    batch: int = 0
    step: int = 0
    best: float | None = None
    epochs_without_improvement: int = 0
    epoch_loss_sum: float = 0.0  # sum of this epoch's batch losses so far
    epoch_units: int = 0
    epoch_train_seconds: float = 0.0  # this epoch's training steps, evaluation excluded
    elapsed_seconds: float = 0.0  # the whole run: training, evaluation, checkpoints


class Trainer:
    """Runs a :class:`Task` under a :class:`TrainConfig`, writing into ``run_dir``.

    ``run_dir`` receives ``metrics.jsonl`` (one JSON object per evaluation),
    ``loss.png``, and ``checkpoints/{last,best}``. With ``ema_decay`` the evaluations and
    the checkpoints' weights are those of an exponential moving average of the trained
    weights (updated after every step); the trained weights travel in the training state.
    """

    def __init__(self, task: Task, config: TrainConfig, run_dir: Path,
                 log=print) -> None:
        self.task, self.config, self.run_dir, self.log = task, config, Path(run_dir), log
        self.optimizer = build_optimizer(task.model, config)
        self.scheduler = build_scheduler(self.optimizer, config)
        self.average = (AveragedModel(task.model, multi_avg_fn=get_ema_multi_avg_fn(
            config.ema_decay)) if config.ema_decay else None)
        self.device = next(task.model.parameters()).device
        self.autocast_dtype, self.precision = choose_autocast(config, self.device)
        # fp16 only: gradients scaled up against underflow (its state travels in checkpoints)
        self.scaler = (torch.amp.GradScaler(self.device.type)
                       if self.autocast_dtype == torch.float16 else None)
        self.position = Position()
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self._interrupted = False
        self._clock = time.perf_counter()  # position's seconds are counted up to here
        self._plotted, self._plot_pending = float("-inf"), False  # loss.png drawn when, due

    # --- state -------------------------------------------------------------------------
    def _tick(self, training: bool) -> None:
        """Add the seconds since the last tick to the run's (and, if ``training``, this
        epoch's training) time."""
        now = time.perf_counter()
        self.position.elapsed_seconds += now - self._clock
        if training:
            self.position.epoch_train_seconds += now - self._clock
        self._clock = now

    def state(self, trained_weights: dict | None = None) -> dict:
        """What a checkpoint's ``state.pt`` holds (keys :data:`STATE_KEYS` and more)."""
        return {
            "trained_weights": trained_weights,
            "averaged": int(self.average.n_averaged) if self.average is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "position": vars(self.position).copy(),
        }

    def resume(self) -> None:
        """Continue from ``run_dir``'s ``last`` checkpoint."""
        path = checkpoint.resolve(self.run_dir, "last")
        checkpoint.load_weights(self.task.model, path)
        state = checkpoint.load_state(path)
        missing = [key for key in STATE_KEYS if not isinstance(state, dict) or key not in state]
        if missing:
            raise UserError(f"{path / checkpoint.STATE}: not a training state this version "
                            f"wrote: no {', '.join(missing)}")
        self._resume_average(path, state)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.position = Position(**state["position"])
        self._clock = time.perf_counter()
        self._drop_metrics_after(self.position.step)
        self.log(f"resuming from {path} (epoch {self.position.epoch + 1}, "
                 f"batch {self.position.batch}, step {self.position.step})")

    def _resume_average(self, path: Path, state: dict) -> None:
        """The loaded weights are the average's; the trained ones come from the state."""
        trained = state.get("trained_weights")
        if (trained is None) != (self.average is None):
            saved = "without" if trained is None else "with"
            raise UserError(f"{path}: saved {saved} weight averaging; resume with the "
                            f"train.ema_decay it was trained with")
        if self.average is not None:
            self.average.module.load_state_dict(self.task.model.state_dict())
            self.average.n_averaged.fill_(state["averaged"])
            self.task.model.load_state_dict(trained)

    @contextmanager
    def _averaged_weights(self) -> Iterator[dict | None]:
        """Inside, the model holds the averaged weights (if any); yields the trained ones."""
        if self.average is None:
            yield None
            return
        model = self.task.model
        trained = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
        model.load_state_dict(self.average.module.state_dict())
        try:
            yield trained
        finally:
            model.load_state_dict(trained)

    def _drop_metrics_after(self, step: int) -> None:
        """Forget evaluations logged after the checkpoint we resume from."""
        if not self.metrics_path.exists():
            return
        rows = [line for line in self.metrics_path.read_text().splitlines()
                if line.strip() and json.loads(line)["step"] <= step]
        write_atomic(self.metrics_path, "".join(row + "\n" for row in rows).encode("utf-8"))

    def save(self, best: bool = False) -> Path:
        links = ("last", "best") if best else ("last",)
        self._tick(training=False)
        with self._averaged_weights() as trained:
            return checkpoint.write_checkpoint(self.run_dir, self.position.step,
                                               self.task.model, self.state(trained),
                                               self.task.save_extra, links)

    # --- the loop ------------------------------------------------------------------------
    def fit(self) -> list[dict]:
        """Train to the configured number of epochs (or early stop); returns the metrics rows."""
        from seq2seq.reports.plots import import_in_background

        self.run_dir.mkdir(parents=True, exist_ok=True)
        finished = self.finished()
        if finished:  # a resumed run that has nothing left to do says so, and why
            self.log(f"nothing to train: {finished}")
            return self.metrics_rows()
        import_in_background()  # for loss.png
        previous = signal.getsignal(signal.SIGINT)
        if previous is not signal.SIG_IGN:  # started with Ctrl-C ignored (a script's `cmd
            signal.signal(signal.SIGINT, self._on_interrupt)  # &`): it stays ignored
        self._clock = time.perf_counter()
        try:
            while self.position.epoch < self.config.epochs:
                if self._run_epoch():
                    break
        except Interrupted:
            self._plot(final=True)
            raise
        finally:
            signal.signal(signal.SIGINT, previous)
        self._plot(final=True)
        return self.metrics_rows()

    def finished(self) -> str | None:
        """Why training at this position is over (None: it is not): every epoch trained,
        early stopping, or the time budget; and which setting would let it go on."""
        position, config = self.position, self.config
        if position.epoch >= config.epochs:
            return (f"all {config.epochs} epochs are trained (train.epochs); raise it to "
                    f"train on, e.g. --set train.epochs={config.epochs + 10}")
        if position.batch:  # resumed inside an epoch: that epoch ends first
            return None
        if (config.early_stopping_patience > 0
                and position.epochs_without_improvement >= config.early_stopping_patience):
            return (f"it stopped early, no better {config.early_stopping_metric} for "
                    f"{position.epochs_without_improvement} epochs "
                    f"(train.early_stopping_patience = {config.early_stopping_patience}); "
                    "raise it to train on")
        if self._out_of_time(quiet=True):
            return (f"its time budget is spent ({position.elapsed_seconds / 60:.1f} minutes "
                    f"and an epoch more would pass train.max_minutes = "
                    f"{config.max_minutes}); raise it to train on")
        return None

    def _on_interrupt(self, _signum, _frame) -> None:
        if self._interrupted:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self._interrupted = True
        self.log("\ninterrupt: saving a checkpoint after this step (Ctrl-C again to abort)")

    def _run_epoch(self) -> bool:
        """One epoch from the current position; True when training should end here."""
        position, config = self.position, self.config
        batches = self.task.batches(position.epoch, config.seed)
        bar = progress_bar(len(batches), position.batch,
                           f"epoch {position.epoch + 1}/{config.epochs}")
        for batch in batches[position.batch :]:
            self._train_step(batch, bar)
            # (not at the epoch's last step: the epoch's own evaluation follows at once)
            if (config.eval_every_steps and position.step % config.eval_every_steps == 0
                    and position.batch < len(batches)):
                self._evaluate(position.epoch_loss_sum / position.batch, len(batches))
            if self._interrupted:
                bar.close()
                raise Interrupted(self.save())
        bar.close()
        train_loss = position.epoch_loss_sum / max(position.batch, 1)
        position.epoch += 1
        position.batch = 0
        row = self._evaluate(train_loss)
        position.epoch_loss_sum, position.epoch_units, position.epoch_train_seconds = 0.0, 0, 0.0
        improved = self._track_best(row)
        stop = (config.early_stopping_patience > 0
                and position.epochs_without_improvement >= config.early_stopping_patience)
        self._step_scheduler(row)
        saved = self.save(best=improved)
        self._plot()
        self._tick(training=False)
        if stop:
            self.log(f"early stopping: no better {config.early_stopping_metric} for "
                     f"{config.early_stopping_patience} epochs")
        finished = stop or self._out_of_time()
        # Ctrl-C during the evaluation: this checkpoint holds it all, and a run that ends
        # here anyway (early stopping, time budget) ends as it would have without it
        if self._interrupted and not finished:
            raise Interrupted(saved)
        return finished

    def train_steps(self, batches: Sequence[Any]) -> None:
        """The training steps of ``batches``, exactly as an epoch takes them, with no
        evaluation, checkpoint or progress shown: how a benchmark times the trainer's step."""
        bar = progress_bar(len(batches), 0, "steps", stream=io.StringIO())
        for batch in batches:
            self._train_step(batch, bar)
        bar.close()

    def _train_step(self, batch: Any, bar) -> None:
        position, config, model = self.position, self.config, self.task.model
        model.train()
        with self._autocast():
            loss, count = self.task.loss(batch, position.step + 1)
        if not torch.isfinite(loss):
            bar.close()
            raise UserError(
                f"training stopped: non-finite loss ({loss.item()}) at epoch "
                f"{position.epoch + 1}, step {position.step + 1}; the last good checkpoint "
                f"is {checkpoint.checkpoints_dir(self.run_dir) / 'last'}")
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            if config.clip_grad_norm > 0:
                nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
            self.optimizer.step()
        else:  # a step whose scaled gradients overflowed is skipped, and the scale lowered
            self.scaler.scale(loss).backward()
            if config.clip_grad_norm > 0:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        if self.average is not None:
            self.average.update_parameters(model)
        position.batch += 1
        position.step += 1
        position.epoch_loss_sum += loss.item()
        position.epoch_units += count
        self._tick(training=True)
        if position.batch % 20 == 0:
            rate = position.epoch_units / max(position.epoch_train_seconds, 1e-9)
            bar.set_postfix_str(f"loss {position.epoch_loss_sum / position.batch:.4f}, "
                                f"{rate:,.0f} {self.task.unit}/s", refresh=False)
        bar.update(1)

    def _autocast(self):
        """The run's autocast (bf16 or fp16), or fp32: for training steps and evaluations."""
        return torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.bfloat16,
                              enabled=self.autocast_dtype is not None)

    def _out_of_time(self, quiet: bool = False) -> bool:
        """Whether another epoch, as long as the average so far, would pass ``max_minutes``
        (the whole run's time, resumed sessions included); said unless ``quiet``."""
        position = self.position
        if not self.config.max_minutes or position.epoch >= self.config.epochs:
            return False
        elapsed = position.elapsed_seconds
        if elapsed + elapsed / max(position.epoch, 1) <= 60 * self.config.max_minutes:
            return False
        if not quiet:
            self.log(f"time budget: stopping after {elapsed / 60:.1f} minutes "
                     f"(train.max_minutes = {self.config.max_minutes})")
        return True

    def _evaluate(self, train_loss: float, fraction: int | None = None) -> dict:
        position = self.position
        self._tick(training=True)
        epoch = position.epoch + (position.batch / fraction if fraction else 0)
        row = {"epoch": round(epoch, 4), "step": position.step, "train_loss": train_loss,
               "train_seconds": round(position.epoch_train_seconds, 3)}  # this epoch's so far
        evaluation_started = time.perf_counter()
        # inference mode: no autograd bookkeeping; the training precision (bf16 halves a
        # teacher-forced pass where it is native), as Hugging Face's Trainer evaluates
        with torch.no_grad(), self._averaged_weights(), torch.inference_mode(), \
                self._autocast():
            row.update(self.task.evaluate())
        row["eval_seconds"] = round(time.perf_counter() - evaluation_started, 3)
        self._tick(training=False)
        row["lr"] = self.optimizer.param_groups[0]["lr"]
        row["elapsed_s"] = round(position.elapsed_seconds, 2)
        with self.metrics_path.open("a") as stream:
            stream.write(json.dumps(row) + "\n")
        shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in row.items())
        self.log(shown)
        return row

    def _track_best(self, row: dict) -> bool:
        metric = self.config.early_stopping_metric
        if metric not in row:
            raise UserError(f"train.early_stopping_metric: {metric!r} is not measured; "
                            f"measured: {sorted(k for k in row if k not in ('epoch', 'step'))}")
        value, best = row[metric], self.position.best
        better = best is None or (value < best if lower_is_better(metric) else value > best)
        if better and math.isfinite(value):
            self.position.best = value
            self.position.epochs_without_improvement = 0
            return True
        self.position.epochs_without_improvement += 1
        return False

    def _step_scheduler(self, row: dict) -> None:
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(row[self.config.early_stopping_metric])
        elif self.scheduler is not None:
            self.scheduler.step()

    def metrics_rows(self) -> list[dict]:
        return read_metrics(self.run_dir)

    def _plot(self, final: bool = False) -> None:
        """Redraw ``loss.png``: at the end of training, and after an epoch when the last
        drawing is at least ``PLOT_EVERY_SECONDS`` old (drawing costs a fair share of a
        short epoch; on two cores a drawing thread beside training only slows both)."""
        from seq2seq.reports.plots import plot_losses

        now = time.perf_counter()
        if not final and now - self._plotted < PLOT_EVERY_SECONDS:
            self._plot_pending = True
            return
        if final and not self._plot_pending:
            return
        plot_losses(self.metrics_rows(), self.run_dir / "loss.png")
        self._plotted, self._plot_pending = time.perf_counter(), False
