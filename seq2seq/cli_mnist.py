"""``seq2seq mnist train | eval | predict``: the row-classification recipe."""

from __future__ import annotations

import json
from pathlib import Path

import click
import torch

from seq2seq.cli_common import prepare_run, run_training, training_options
from seq2seq.config import save_json


@click.group()
def mnist() -> None:
    """MNIST read as 28 steps of 28 pixels: train, evaluate, predict."""


@mnist.command("train")
@click.argument("recipe", required=False)
@training_options
@click.option("--data-dir", type=click.Path(path_type=Path), help="Directory of IDX files.")
def train(recipe, overrides, run_dir, resume_dir, threads, device, bf16, data_dir) -> None:
    """Train a row classifier from RECIPE (a name in recipes/ or a path; default: mnist)."""
    from seq2seq.tasks.mnist import MnistRecipe, MnistTask, load_recipe_digits
    from seq2seq.trainer import Trainer, pick_device

    config, run_dir, resuming = prepare_run(MnistRecipe, recipe, "mnist", overrides, run_dir,
                                            resume_dir, threads, device, bf16)
    if data_dir is not None:
        config.data.dir, config.data.source = str(data_dir), "idx"
    digits = load_recipe_digits(config.data, log=click.echo)
    task = MnistTask(config, digits, pick_device(config.train.device))
    trainer = Trainer(task, config.train, run_dir, log=click.echo)
    run_training(trainer, resuming, "seq2seq mnist train")
    _report_test(run_dir, digits)


def _report_test(run_dir: Path, digits, echo=click.echo) -> dict:
    """Evaluate the best checkpoint on the test images; write the plots and test.json."""
    from seq2seq.reports.plots import plot_confusion, plot_errors
    from seq2seq.tasks.mnist import classify, load_classifier, to_float

    _, model, path = load_classifier(run_dir)
    result = classify(model, to_float(digits.test_images), digits.test_labels)
    first = (result.predicted[:2000] == result.labels[:2000]).float().mean().item()
    report = {"accuracy": result.accuracy, "accuracy_first_2000": first,
              "images": len(result.labels), "loss": result.loss, "checkpoint": str(path),
              "data": digits.source}
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


@mnist.command("eval")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--data-dir", type=click.Path(path_type=Path), help="Directory of IDX files.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate(run_dir, data_dir, as_json) -> None:
    """Accuracy of RUN_DIR's best checkpoint on all test images and on the first 2,000."""
    from seq2seq.tasks.mnist import load_classifier, load_recipe_digits

    recipe, _, _ = load_classifier(run_dir)
    if data_dir is not None:
        recipe.data.dir, recipe.data.source = str(data_dir), "idx"
    quiet = lambda _message: None  # noqa: E731
    digits = load_recipe_digits(recipe.data, log=quiet if as_json else click.echo)
    report = _report_test(run_dir, digits, echo=quiet if as_json else click.echo)
    if as_json:
        click.echo(json.dumps(report))


@mnist.command("predict")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
def predict(run_dir, images) -> None:
    """The digit in each IMAGE (PNG/JPG, any size, either polarity) and its probability."""
    from seq2seq.data.mnist import load_digit_image
    from seq2seq.tasks.mnist import load_classifier

    _, model, _ = load_classifier(run_dir)
    pixels = torch.stack([load_digit_image(path) for path in images])
    with torch.no_grad():
        probabilities = model(pixels).softmax(-1)
    for path, row in zip(images, probabilities):
        best = int(row.argmax())
        click.echo(f"{path}\t{best}\t{row[best].item():.4f}")
