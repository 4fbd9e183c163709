from pathlib import Path

import pytest
import torch

from seq2seq.reports.plots import plot_confusion, plot_errors, plot_losses, save_figure

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


def test_plot_losses_with_missing_keys(tmp_path):
    path = tmp_path / "losses.png"
    plot_losses(ROWS, path, title="run")
    assert_png(path)
    assert_only(tmp_path, "losses.png")


def test_plot_losses_only_losses(tmp_path):
    path = tmp_path / "losses.png"
    plot_losses([{"epoch": 1, "step": 10, "train_loss": 2.0, "note": "x"}], str(path))
    assert_png(path)


def test_plot_losses_empty(tmp_path):
    path = tmp_path / "losses.png"
    plot_losses([], path)
    assert_png(path)
    assert_only(tmp_path, "losses.png")


def test_plot_losses_overwrites(tmp_path):
    path = tmp_path / "losses.png"
    path.write_bytes(b"old")
    plot_losses(ROWS, path)
    assert_png(path)
    assert_only(tmp_path, "losses.png")


def test_plot_losses_creates_parent(tmp_path):
    path = tmp_path / "sub" / "losses.png"
    plot_losses(ROWS, path)
    assert_png(path)


def test_plot_confusion_tensor(tmp_path):
    path = tmp_path / "confusion.png"
    confusion = torch.tensor([[50, 2, 0], [3, 40, 7], [0, 1, 60]])
    plot_confusion(confusion, path, labels=["a", "b", "c"], title="test")
    assert_png(path)
    assert_only(tmp_path, "confusion.png")


def test_plot_confusion_list_of_lists(tmp_path):
    path = tmp_path / "confusion.png"
    path.write_bytes(b"old")
    plot_confusion([[5, 1], [0, 4]], path)
    assert_png(path)
    assert_only(tmp_path, "confusion.png")


def test_plot_confusion_all_zero(tmp_path):
    path = tmp_path / "confusion.png"
    plot_confusion([[0, 0], [0, 0]], path)
    assert_png(path)


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
    plot_errors(images, predicted, true, path, probabilities=probabilities)
    assert_png(path)
    assert_only(tmp_path, "errors.png")


def test_plot_errors_float_images(tmp_path):
    path = tmp_path / "errors.png"
    path.write_bytes(b"old")
    plot_errors(torch.rand(5, 28, 28), [1, 2, 3, 4, 5], [0, 0, 0, 0, 0], path, max_items=4)
    assert_png(path)
    assert_only(tmp_path, "errors.png")


def test_plot_errors_empty(tmp_path):
    path = tmp_path / "errors.png"
    plot_errors(torch.zeros(0, 28, 28, dtype=torch.uint8), [], [], path)
    assert_png(path)
    assert_only(tmp_path, "errors.png")


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
