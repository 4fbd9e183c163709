"""``mnist predict`` (``mnist train`` and ``mnist eval``, the older spellings of ``train``
and ``evaluate``, are in :mod:`seq2seq.cli.train`; the task's work is
:mod:`seq2seq.tasks.mnist`)."""

from __future__ import annotations

from pathlib import Path

import click


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
