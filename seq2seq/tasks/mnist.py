"""MNIST row classification: digits data + RowClassifier + cross-entropy, for the trainer,
and the task's ``train``, ``evaluate`` and ``summary`` (:data:`SPEC`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from seq2seq import checkpoint
from seq2seq.base.errors import UserError
from seq2seq.config import reject_inapplicable, save_json, setting, to_mapping
from seq2seq.core import summary as keras_summary
from seq2seq.data.mnist import DigitSplits, load_digits
from seq2seq.models import RowClassifier, RowClassifierConfig
from seq2seq.runs import load_run, read_saved_recipe
from seq2seq.tasks import TaskSpec
from seq2seq.trainer import TrainConfig, Trainer, check_early_stopping_metric, pick_device

EVAL_BATCH = 2000
FIRST_TEST_IMAGES = 2000  # the test report's second figure, as the tutorials' subset


@dataclass
class MnistDataConfig:
    """The ``[data]`` table: where the digits come from, and the validation split."""

    source: Literal["auto", "idx", "hub", "embedded"] = setting(
        "auto", "where the digits come from; 'auto': IDX files if dir is set, else the hub, "
                "else the embedded digits")
    dir: str = setting("", "a directory of IDX files (LeCun layout or torchvision's MNIST/raw/)")
    hub: str = setting("ylecun/mnist", "a Hugging Face dataset name (or a local copy of one)")
    valid_size: int = setting(
        5000, "the last N training images are held out; 0: evaluate on the test set")

    def check(self) -> None:
        reject_inapplicable(self, "data.", {
            "dir": (self.source in ("auto", "idx"), "with data.source = 'idx' or 'auto'"),
            "hub": (self.source in ("auto", "hub"), "with data.source = 'hub' or 'auto'")})
        if not self.hub.strip():
            raise UserError("data.hub: expected a hub dataset name or a local copy of one, "
                            "got an empty string")


@dataclass
class MnistRecipe:
    """An MNIST recipe: digit images read row by row by a recurrent classifier."""

    task: Literal["mnist"] = setting("mnist", "the task this recipe trains")
    data: MnistDataConfig = field(default_factory=MnistDataConfig)
    model: RowClassifierConfig = field(default_factory=RowClassifierConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def check(self) -> None:
        if self.train.batch_unit != "sentences":
            raise UserError(f"train.batch_unit: MNIST batches count images; expected "
                            f"'sentences' (the default), got {self.train.batch_unit!r}")
        check_early_stopping_metric(self.train, measured_metrics(self))


def measured_metrics(recipe: MnistRecipe) -> list[str]:
    """The keys of :meth:`MnistTask.evaluate`'s rows, and the training loss."""
    side = "valid" if recipe.data.valid_size else "test"  # 0: the test set is watched
    return ["train_loss", f"{side}_loss", f"{side}_accuracy"]


def load_recipe_digits(config: MnistDataConfig, log=print) -> DigitSplits:
    """Resolve ``source``: IDX files if ``dir`` is set, else the hub if reachable, else embedded.

    ``auto`` tries the hub only when ``HF_HUB_OFFLINE`` is not set, and falls back to
    the embedded digits (with a message) when the hub cannot be reached.
    """
    source = config.source
    if source == "auto":
        source = "idx" if config.dir else "hub"
        if source == "hub" and os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
            source = "embedded"
    if source == "idx":
        if not config.dir:
            raise UserError("data.dir: source 'idx' needs a directory of IDX files")
        digits = load_digits(data_dir=config.dir)
    elif source == "hub":
        try:
            digits = load_digits(hub=config.hub)
        except UserError as error:
            if config.source != "auto":
                raise
            log(f"hub unavailable ({error}); using the embedded digits")
            digits = load_digits()
    else:
        digits = load_digits()
    log(f"data: {digits.source}")
    return digits


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 28, 28)`` -> float in [0, 1]."""
    return images.float().div_(255.0)


class MnistTask:
    """The trainer's view of row classification (see :class:`seq2seq.trainer.Task`)."""

    unit = "img"

    def __init__(self, recipe: MnistRecipe, digits: DigitSplits, device: torch.device) -> None:
        self.recipe, self.device = recipe, device
        valid_size = recipe.data.valid_size
        if not 0 <= valid_size < len(digits.train_labels):
            raise UserError(f"data.valid_size: expected 0 to {len(digits.train_labels) - 1}, "
                            f"got {valid_size}")
        classes = recipe.model.classes
        for part, part_labels in (("training", digits.train_labels),
                                  ("test", digits.test_labels)):
            if len(part_labels) and int(part_labels.max()) >= classes:
                raise UserError(f"model.classes: the {part} digits have labels up to "
                                f"{int(part_labels.max())}, so at least "
                                f"{int(part_labels.max()) + 1} classes; got {classes}")
        images, labels = to_float(digits.train_images), digits.train_labels
        cut = len(labels) - valid_size
        self.train_images, self.train_labels = images[:cut].to(device), labels[:cut].to(device)
        if valid_size:
            self.valid_name = "valid"
            self.valid_images, self.valid_labels = images[cut:], labels[cut:]
        else:  # as the tutorials do: watch the test set
            self.valid_name = "test"
            self.valid_images, self.valid_labels = to_float(digits.test_images), digits.test_labels
        self.model = RowClassifier(recipe.model, row_size=images.shape[-1]).to(device)
        self.last_test_result: Classification | None = None

    def batches(self, epoch: int, seed: int) -> list[torch.Tensor]:
        generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.train_labels), generator=generator)
        return list(order.split(self.recipe.train.batch_size))

    def loss(self, batch: torch.Tensor, step: int) -> tuple[torch.Tensor, int]:
        batch = batch.to(self.device)
        logits = self.model(self.train_images[batch])
        loss = F.cross_entropy(logits.float(), self.train_labels[batch],
                               label_smoothing=self.recipe.train.label_smoothing)
        return loss, len(batch)

    def evaluate(self) -> dict[str, float]:
        result = classify(self.model, self.valid_images, self.valid_labels)
        # watching the test set: the last evaluation's predictions, for the test report
        self.last_test_result = result if self.valid_name == "test" else None
        return {f"{self.valid_name}_loss": result.loss,
                f"{self.valid_name}_accuracy": result.accuracy}

    def save_extra(self, directory: Path) -> None:
        save_json(directory / "config.json", to_mapping(self.recipe))


@dataclass
class Classification:
    """Predictions over a labelled set."""

    predicted: torch.Tensor  # (N,) int64
    probability: torch.Tensor  # (N,) probability of the predicted class
    labels: torch.Tensor  # (N,)
    loss: float

    @property
    def accuracy(self) -> float:
        return (self.predicted == self.labels).float().mean().item()

    def confusion(self, classes: int = 10) -> torch.Tensor:
        """``(classes, classes)`` counts, rows true, columns predicted."""
        index = self.labels * classes + self.predicted
        return torch.bincount(index, minlength=classes * classes).view(classes, classes)


@torch.no_grad()
def classify(model: RowClassifier, images: torch.Tensor, labels: torch.Tensor) -> Classification:
    """Run ``model`` (in eval mode) over float images in batches."""
    model.eval()
    device = next(model.parameters()).device
    predicted, probability, total_loss = [], [], 0.0
    for start in range(0, len(labels), EVAL_BATCH):
        chunk = images[start : start + EVAL_BATCH].to(device)
        logits = model(chunk).float()
        target = labels[start : start + EVAL_BATCH].to(device)
        total_loss += F.cross_entropy(logits, target, reduction="sum").item()
        best = logits.softmax(-1).max(-1)
        predicted.append(best.indices.cpu())
        probability.append(best.values.cpu())
    return Classification(torch.cat(predicted), torch.cat(probability), labels.cpu(),
                          total_loss / len(labels))


def train(recipe: MnistRecipe, run_dir: Path, resuming: bool, options: dict, fit, log) -> None:
    """Read the digits (``data_dir``: IDX files instead of the recipe's source), train
    (``fit``), then report the best checkpoint on the test images."""
    if options["data_dir"] is not None:
        recipe.data.dir, recipe.data.source = str(options["data_dir"]), "idx"
    digits = load_recipe_digits(recipe.data, log=log)
    task = MnistTask(recipe, digits, pick_device(recipe.train.device))
    trainer = Trainer(task, recipe.train, run_dir, log=log)
    fit(trainer)
    best = checkpoint.resolve(run_dir, "best")
    last_was_best = checkpoint.step_of(best) == trainer.position.step
    report_test(run_dir, digits, log, result=task.last_test_result if last_was_best else None)


def report_test(run_dir: Path, digits: DigitSplits, log, result: Classification | None = None
                ) -> dict:
    """Evaluate the best checkpoint on the test images (or take ``result``, its
    predictions there already made); write the plots and test.json."""
    from seq2seq.reports.plots import plot_confusion, plot_errors  # matplotlib: only here

    path = checkpoint.resolve(run_dir, "best")
    if result is None:
        model = load_run(path, expected_task=SPEC.name).model
        result = classify(model, to_float(digits.test_images), digits.test_labels)
    first = FIRST_TEST_IMAGES
    first_accuracy = (result.predicted[:first] == result.labels[:first]).float().mean().item()
    report = {"accuracy": result.accuracy, "accuracy_first_2000": first_accuracy,
              "images": len(result.labels), "loss": result.loss,
              "checkpoint": str(path), "data": digits.source}
    plot_confusion(result.confusion(), run_dir / "confusion.png", title="test set")
    wrong = (result.predicted != result.labels).nonzero().flatten()
    plot_errors(digits.test_images[wrong], result.predicted[wrong].tolist(),
                result.labels[wrong].tolist(), run_dir / "errors.png",
                probabilities=result.probability[wrong].tolist())
    save_json(run_dir / "test.json", report)
    first_text = (f" ({first_accuracy:.4f} on the first 2,000)" if len(result.labels) > first
                  else "")
    log(f"test accuracy {result.accuracy:.4f} on {len(result.labels):,} images{first_text}; "
        f"plots in {run_dir}")
    return report


def evaluate(run_dir: Path, options: dict, log) -> None:
    """Accuracy of RUN_DIR's best checkpoint on all test images and on the first 2,000
    (``data_dir``: IDX files instead of the run's source); ``as_json``: one JSON object."""
    recipe = read_saved_recipe(run_dir)
    if options["data_dir"] is not None:
        recipe.data.dir, recipe.data.source = str(options["data_dir"]), "idx"
    quiet = lambda _message: None  # noqa: E731
    digits = load_recipe_digits(recipe.data, log=quiet if options["as_json"] else log)
    report = report_test(run_dir, digits, quiet if options["as_json"] else log)
    if options["as_json"]:
        log(json.dumps(report))


def summary(recipe: MnistRecipe, log) -> None:
    """The recipe's model as a Keras-style table."""
    keras_summary(RowClassifier(recipe.model), inputs=[torch.zeros(2, 28, 28)], print_fn=log)


def recognises_saved(mapping: dict) -> bool:
    """The first task's saved recipes: neither translation's ``[teacher_forcing]`` table nor
    a fill-in model's ``model.direction``."""
    return "teacher_forcing" not in mapping and "direction" not in mapping.get("model", {})


SPEC = TaskSpec(
    name="mnist",
    recipe=MnistRecipe,
    load_tokenizers=lambda directory: {},
    build_model=lambda recipe, tokenizers: RowClassifier(recipe.model),
    train=train,
    evaluate=evaluate,
    summary=summary,
    recognises_saved=recognises_saved,
    train_options=("--data-dir",),
    evaluate_options=("--data-dir",),
)
