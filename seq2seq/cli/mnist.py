"""The row classifier's side of ``train``, ``evaluate`` and ``summary``, and
``mnist predict`` (with ``mnist train`` and ``mnist eval``, the older spellings)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from seq2seq.cli.common import run_training


def train_mnist(config, run_dir: Path, resuming: bool, data_dir: Path | None) -> None:
    from seq2seq.tasks.mnist import MnistTask, load_recipe_digits
    from seq2seq.trainer import Trainer, pick_device

    if data_dir is not None:
        config.data.dir, config.data.source = str(data_dir), "idx"
    digits = load_recipe_digits(config.data, log=click.echo)
    task = MnistTask(config, digits, pick_device(config.train.device))
    trainer = Trainer(task, config.train, run_dir, log=click.echo)
    run_training(trainer, resuming, "seq2seq train")
    from seq2seq import checkpoint

    best = checkpoint.resolve(run_dir, "best")
    last_was_best = checkpoint.step_of(best) == trainer.position.step
    _report_test(run_dir, digits, result=task.last_test_result if last_was_best else None)


def _report_test(run_dir: Path, digits, echo=click.echo, result=None) -> dict:
    """Evaluate the best checkpoint on the test images (or take ``result``, its
    predictions there already made); write the plots and test.json."""
    from seq2seq import checkpoint
    from seq2seq.config import save_json
    from seq2seq.reports.plots import plot_confusion, plot_errors
    from seq2seq.runs import load_run
    from seq2seq.tasks.mnist import classify, to_float

    path = checkpoint.resolve(run_dir, "best")
    if result is None:
        model = load_run(path, expected_task="mnist").model
        result = classify(model, to_float(digits.test_images), digits.test_labels)
    first = (result.predicted[:2000] == result.labels[:2000]).float().mean().item()
    report = {"accuracy": result.accuracy, "accuracy_first_2000": first,
              "images": len(result.labels), "loss": result.loss,
              "checkpoint": str(path), "data": digits.source}
    plot_confusion(result.confusion(), run_dir / "confusion.png", title="test set")
    wrong = (result.predicted != result.labels).nonzero().flatten()
    plot_errors(digits.test_images[wrong], result.predicted[wrong].tolist(),
                result.labels[wrong].tolist(), run_dir / "errors.png",
                probabilities=result.probability[wrong].tolist())
    save_json(run_dir / "test.json", report)
    first_text = f" ({first:.4f} on the first 2,000)" if len(result.labels) > 2000 else ""
    echo(f"test accuracy {result.accuracy:.4f} on {len(result.labels):,} images{first_text}; "
         f"plots in {run_dir}")
    return report


def evaluate_mnist(run_dir: Path, data_dir: Path | None, as_json: bool) -> None:
    """Accuracy of RUN_DIR's best checkpoint on all test images and on the first 2,000."""
    from seq2seq.runs import read_saved_recipe
    from seq2seq.tasks.mnist import load_recipe_digits

    recipe = read_saved_recipe(run_dir)
    if data_dir is not None:
        recipe.data.dir, recipe.data.source = str(data_dir), "idx"
    quiet = lambda _message: None  # noqa: E731
    digits = load_recipe_digits(recipe.data, log=quiet if as_json else click.echo)
    report = _report_test(run_dir, digits, echo=quiet if as_json else click.echo)
    if as_json:
        click.echo(json.dumps(report))


def summary_mnist(config) -> None:
    import torch

    from seq2seq.core import summary
    from seq2seq.models import RowClassifier

    summary(RowClassifier(config.model), inputs=[torch.zeros(2, 28, 28)], print_fn=click.echo)


@click.command("predict")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
def predict(run_dir, images) -> None:
    """The digit in each IMAGE (PNG/JPG, any size, either polarity) and its probability."""
    import torch

    from seq2seq.data.mnist import load_digit_image
    from seq2seq.runs import load_run

    model = load_run(run_dir, expected_task="mnist").model
    pixels = torch.stack([load_digit_image(path) for path in images])
    with torch.no_grad():
        probabilities = model(pixels).softmax(-1)
    for path, row in zip(images, probabilities):
        best = int(row.argmax())
        click.echo(f"{path}\t{best}\t{row[best].item():.4f}")
