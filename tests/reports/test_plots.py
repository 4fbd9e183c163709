"""seq2seq.reports.plots: what each figure shows (axes, labels, series, images, texts) and
that its PNG is written whole, atomically, where asked."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from seq2seq.reports.plots import (
    plot_alignment,
    plot_confusion,
    plot_errors,
    plot_losses,
    save_figure,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert len(data) > len(PNG_SIGNATURE)
    assert data[:8] == PNG_SIGNATURE
    assert data.endswith(b"IEND\xaeB`\x82")


def assert_only(directory: Path, *names: str) -> None:
    """Nothing but ``names`` in ``directory``: no temporary files left behind."""
    assert sorted(p.name for p in directory.iterdir()) == sorted(names)


ROWS = [
    {"epoch": 0.5, "step": 50, "valid_loss": 1.2, "valid_accuracy": 0.61},
    {"epoch": 1, "step": 100, "train_loss": 1.0, "valid_loss": 0.9, "valid_accuracy": 0.7},
    {"epoch": 1.5, "step": 150, "valid_loss": 0.8, "valid_accuracy": 0.75, "lr": 0.001},
    {"epoch": 2, "step": 200, "train_loss": 0.7, "valid_loss": 0.75, "valid_chrf": 41.0},
]


def series(ax) -> list[tuple[str, list[float], list[float]]]:
    """Each line on ``ax``: its label, x values and y values."""
    return [(line.get_label(), list(line.get_xdata()), list(line.get_ydata()))
            for line in ax.get_lines()]


def legend(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def tick_labels(ax) -> tuple[list[str], list[str]]:
    return ([label.get_text() for label in ax.get_xticklabels()],
            [label.get_text() for label in ax.get_yticklabels()])


def texts(ax) -> list[str]:
    return [text.get_text() for text in ax.texts]


def test_plot_losses_draws_losses_and_metrics_each_over_the_rows_that_have_it(tmp_path):
    path = tmp_path / "losses.png"
    fig = plot_losses(ROWS, path, title="run")
    assert_png(path)
    assert_only(tmp_path, "losses.png")
    assert fig.get_suptitle() == "run"
    losses, metrics, twin = fig.axes  # accuracy (a fraction) and chrF on two scales
    assert (losses.get_xlabel(), losses.get_ylabel()) == ("epoch", "loss")
    assert series(losses) == [("valid_loss (0.75)", [0.5, 1.0, 1.5, 2.0], [1.2, 0.9, 0.8, 0.75]),
                              ("train_loss (0.7)", [1.0, 2.0], [1.0, 0.7])]
    assert legend(losses) == ["valid_loss (0.75)", "train_loss (0.7)"]
    assert all(line.get_marker() == "o" for line in losses.get_lines())  # every point marked
    assert (metrics.get_xlabel(), metrics.get_ylabel()) == ("epoch", "metric (fraction)")
    assert series(metrics) == [("valid_accuracy (0.75)", [0.5, 1.0, 1.5], [0.61, 0.7, 0.75])]
    assert twin.get_ylabel() == "metric" and twin.get_shared_x_axes().joined(twin, metrics)
    assert series(twin) == [("valid_chrf (41)", [2.0], [41.0])]  # "lr" is neither: not drawn
    assert legend(metrics) == ["valid_accuracy (0.75)", "valid_chrf (41)"]  # one legend
    assert [line.get_color() for line in metrics.get_lines() + twin.get_lines()] == ["C0", "C1"]
    assert all(ax.get_yscale() == "linear" for ax in fig.axes)


def test_plot_losses_only_losses(tmp_path):
    path = tmp_path / "losses.png"
    fig = plot_losses([{"epoch": 1, "step": 10, "train_loss": 2.0, "note": "x"}], str(path))
    assert_png(path)
    [ax] = fig.axes  # no metric panel
    assert series(ax) == [("train_loss (2)", [1.0], [2.0])] and legend(ax) == ["train_loss (2)"]
    assert (ax.get_xlabel(), ax.get_ylabel(), fig.get_suptitle()) == ("epoch", "loss", "")


def test_plot_losses_of_metrics_on_one_scale_and_steps_without_epochs(tmp_path):
    fig = plot_losses([{"step": 10, "valid_wer": 40.0, "valid_chrf": 30.0},
                       {"step": 20, "valid_wer": 35.0, "valid_chrf": 34.5}], tmp_path / "m.png")
    [ax] = fig.axes  # no loss panel; no twin axes: neither metric is a fraction
    assert ax.get_ylabel() == "metric" and ax.get_xlabel() == "epoch"
    assert series(ax) == [("valid_wer (35)", [10.0, 20.0], [40.0, 35.0]),
                          ("valid_chrf (34.5)", [10.0, 20.0], [30.0, 34.5])]


def test_plot_losses_empty(tmp_path):
    path = tmp_path / "losses.png"
    fig = plot_losses([], path)
    assert_png(path)
    assert_only(tmp_path, "losses.png")
    [ax] = fig.axes
    assert texts(ax) == ["no evaluations yet"] and not ax.get_lines() and not ax.axison


def test_plot_losses_overwrites(tmp_path):
    path = tmp_path / "losses.png"
    path.write_bytes(b"old")
    fig = plot_losses(ROWS, path)
    assert_png(path)
    assert_only(tmp_path, "losses.png")
    assert len(fig.axes) == 3 and fig.get_suptitle() == ""


def test_plot_losses_creates_parent(tmp_path):
    path = tmp_path / "sub" / "losses.png"
    plot_losses(ROWS, path)
    assert_png(path)


def test_plot_confusion_tensor(tmp_path):
    path = tmp_path / "confusion.png"
    confusion = torch.tensor([[50, 2, 0], [3, 40, 7], [0, 1, 60]])
    fig = plot_confusion(confusion, path, labels=["a", "b", "c"], title="test")
    assert_png(path)
    assert_only(tmp_path, "confusion.png")
    ax, colour_bar = fig.axes
    assert ax.get_title() == "test — accuracy 92.02% (150/163)"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    assert tick_labels(ax) == (["a", "b", "c"], ["a", "b", "c"])
    [image] = ax.get_images()
    assert image.get_array().tolist() == confusion.tolist()
    assert texts(ax) == ["50", "2", "0", "3", "40", "7", "0", "1", "60"]  # row by row
    # a count above half the largest (60) in white on the dark cells, the rest in black
    assert [text.get_color() for text in ax.texts] == [
        "white", "black", "black", "black", "white", "black", "black", "black", "white"]


def test_plot_confusion_list_of_lists(tmp_path):
    path = tmp_path / "confusion.png"
    path.write_bytes(b"old")
    fig = plot_confusion([[5, 1], [0, 4]], path)
    assert_png(path)
    assert_only(tmp_path, "confusion.png")
    ax = fig.axes[0]
    assert ax.get_title() == "accuracy 90.00% (9/10)"
    assert tick_labels(ax) == (["0", "1"], ["0", "1"])
    assert texts(ax) == ["5", "1", "0", "4"]


def test_plot_confusion_all_zero(tmp_path):
    path = tmp_path / "confusion.png"
    fig = plot_confusion([[0, 0], [0, 0]], path)
    assert_png(path)
    ax = fig.axes[0]
    assert ax.get_title() == "no samples"
    assert texts(ax) == ["0"] * 4 and {text.get_color() for text in ax.texts} == {"black"}


def test_plot_confusion_of_many_classes_leaves_the_counts_out(tmp_path):
    fig = plot_confusion(torch.eye(31, dtype=torch.int64), tmp_path / "c.png")
    ax = fig.axes[0]
    assert texts(ax) == [] and ax.get_title() == "accuracy 100.00% (31/31)"
    assert tick_labels(ax)[0] == [str(i) for i in range(31)]


def test_plot_confusion_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="square"):
        plot_confusion([[1, 2, 3], [4, 5, 6]], tmp_path / "c.png")
    with pytest.raises(ValueError, match="labels"):
        plot_confusion([[1, 2], [3, 4]], tmp_path / "c.png", labels=["a"])
    assert_only(tmp_path)


def test_plot_errors_more_than_max_items(tmp_path):
    path = tmp_path / "errors.png"
    n = 40
    images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8)
    predicted = torch.randint(0, 10, (n,)).tolist()
    true = torch.randint(0, 10, (n,)).tolist()
    probabilities = torch.rand(n).tolist()
    fig = plot_errors(images, predicted, true, path, probabilities=probabilities)
    assert_png(path)
    assert_only(tmp_path, "errors.png")
    assert fig.get_suptitle() == "errors: showing 36 of 40"
    [ax] = fig.axes
    assert texts(ax) == [f"pred {p} ({q:.2f}) / true {t}"
                         for p, q, t in zip(predicted[:36], probabilities[:36], true[:36])]
    [image] = ax.get_images()
    mosaic = torch.as_tensor(image.get_array())
    # a 6x6 grid of tiles: each image with a caption band (9 rows) above it and a gap
    # (4 columns) after it; the first and the last shown image, scaled to [0, 1]
    assert tuple(mosaic.shape) == (6 * (9 + 28), 6 * (28 + 4))
    torch.testing.assert_close(mosaic[9:37, :28], images[0].float() / 255)
    torch.testing.assert_close(mosaic[5 * 37 + 9 :, 5 * 32 : 5 * 32 + 28],
                               images[35].float() / 255)


def test_plot_errors_float_images(tmp_path):
    path = tmp_path / "errors.png"
    path.write_bytes(b"old")
    images = torch.rand(5, 28, 28)
    fig = plot_errors(images, [1, 2, 3, 4, 5], [0, 0, 0, 0, 0], path, max_items=4)
    assert_png(path)
    assert_only(tmp_path, "errors.png")
    assert fig.get_suptitle() == "errors: showing 4 of 5"
    ax = fig.axes[0]
    assert texts(ax) == ["pred 1 / true 0", "pred 2 / true 0", "pred 3 / true 0",
                         "pred 4 / true 0"]  # no probabilities given: none shown
    mosaic = torch.as_tensor(ax.get_images()[0].get_array())
    assert tuple(mosaic.shape) == (2 * 37, 2 * 32)  # 2x2 for 4
    torch.testing.assert_close(mosaic[37 + 9 :, 32 : 32 + 28], images[3])


def test_plot_errors_as_many_as_shown(tmp_path):
    fig = plot_errors(torch.zeros(3, 1, 28, 28), [1, 2, 3], [0, 0, 0], tmp_path / "e.png")
    assert fig.get_suptitle() == "3 errors" and len(fig.axes[0].texts) == 3


def test_plot_errors_empty(tmp_path):
    path = tmp_path / "errors.png"
    fig = plot_errors(torch.zeros(0, 28, 28, dtype=torch.uint8), [], [], path)
    assert_png(path)
    assert_only(tmp_path, "errors.png")
    [ax] = fig.axes
    assert texts(ax) == ["no errors"] and not ax.get_images()


def test_plot_alignment_shows_the_weights_with_source_across_and_output_down(tmp_path):
    weights = np.array([[0.9, 0.1, 0.0, 0.0], [0.0, 0.2, 0.5, 0.3]])
    alignment = SimpleNamespace(weights=weights, source=["G", "o", " ", "$"],
                                output=["V", ""])
    path = tmp_path / "align.png"
    fig = plot_alignment(alignment, path, title="Va")
    assert_png(path)
    assert_only(tmp_path, "align.png")
    ax, colour_bar = fig.axes
    assert ax.get_title() == "Va" and (ax.get_xlabel(), ax.get_ylabel()) == ("source", "output")
    # a space made visible, an empty token shown as such, mathtext's $ escaped
    assert tick_labels(ax) == (["G", "o", "␣", r"\$"], ["V", "∅"])
    [image] = ax.get_images()
    assert image.get_array().tolist() == weights.tolist()
    assert image.get_clim() == (0.0, 1.0)  # white 0, dark 1, whatever the largest weight


def test_plot_errors_rejects_mismatched_lengths(tmp_path):
    with pytest.raises(ValueError, match="predicted"):
        plot_errors(torch.rand(2, 28, 28), [1], [0, 1], tmp_path / "e.png")


def test_save_figure_failure_leaves_target_and_no_temp(tmp_path):
    from matplotlib.figure import Figure

    path = tmp_path / "plot.png"
    path.write_bytes(b"old")
    fig = Figure()

    def broken_savefig(*args, **kwargs):
        raise RuntimeError("disk full")

    fig.savefig = broken_savefig
    with pytest.raises(RuntimeError, match="disk full"):
        save_figure(fig, path)
    assert path.read_bytes() == b"old"
    assert_only(tmp_path, "plot.png")


def test_save_figure_replaces_only_a_regular_file_and_names_the_path_it_was_given(
        tmp_path, monkeypatch):
    """A pipe, a directory or a device at the path was replaced by the PNG (as root,
    /dev/full too); an empty path was a traceback; an unwritable place named the
    temporary file."""
    import os

    from matplotlib.figure import Figure

    from seq2seq.errors import UserError

    pipe, directory = tmp_path / "pipe", tmp_path / "dir"
    os.mkfifo(pipe)
    directory.mkdir()
    for path in (pipe, directory):
        with pytest.raises(UserError, match=f"{path}: exists and is not a regular file"):
            save_figure(Figure(), path)
    assert pipe.is_fifo() and directory.is_dir()
    for empty in ("", ".", ".."):
        with pytest.raises(UserError, match="expected a file name for the PNG"):
            save_figure(Figure(), empty)
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    for inside in (blocked / "a.png", blocked / "sub" / "a.png"):
        with pytest.raises(UserError, match=rf"^{inside}: {blocked} is not a directory$"):
            save_figure(Figure(), inside)

    def full(source, _target):
        raise OSError(28, "No space left on device", str(source))

    monkeypatch.setattr(os, "replace", full)  # an error naming the temporary file
    with pytest.raises(UserError, match=rf"^{directory / 'a.png'}: cannot write \(No space"):
        save_figure(Figure(), directory / "a.png")
    assert_only(tmp_path, "pipe", "dir", "file")


def test_save_figure_honours_umask(tmp_path):
    import os

    path = tmp_path / "losses.png"
    old = os.umask(0o022)
    try:
        plot_losses(ROWS, path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
