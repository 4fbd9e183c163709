"""PNG plots of a run: losses and metrics, a confusion matrix, a grid of misclassified examples.

Everything uses matplotlib's object API on the Agg canvas (``Figure``, never ``pyplot``), so
plotting keeps no global state, is safe from several threads and never opens a window.
matplotlib is imported inside the functions, as it is slow to import. Every PNG is written
atomically by :func:`save_figure`; each plot function also returns its ``Figure``, to be
inspected or saved elsewhere.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
from collections.abc import Sequence
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from seq2seq import preload
from seq2seq.base.errors import UserError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_METRIC = re.compile(r"accuracy|chrf|bleu|exact|(?<![a-z])(wer|cer|per|ser|ter)(?![a-z])",
                     re.IGNORECASE)
_X_KEYS = ("epoch", "step")
_MAX_ANNOTATED_CLASSES = 30


def import_in_background() -> threading.Thread:
    """Start importing matplotlib on a background thread (most of a second, once), so that
    a run's first plot does not wait for it: the import overlaps the first training steps,
    whose torch kernels release the GIL."""
    return preload.import_in_background(*preload.PLOTS)


def _new_figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    """A ``Figure`` on its own Agg canvas (no pyplot, no window)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path) -> None:
    """Write ``fig`` as a PNG at ``path`` atomically.

    The figure is saved to a temporary file in the same directory and then moved onto
    ``path`` with :func:`os.replace`, so ``path`` holds either its old content or the whole
    new PNG, never a half-written one. The parent directory is created if missing.

    Args:
        fig: the figure to save.
        path: the target ``.png`` file; an existing file is replaced.
    """
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise UserError(f"{str(path)!r}: expected a file name for the PNG")
    if path.exists() and not path.is_file():  # a directory, a pipe, a device: not replaced
        raise UserError(f"{path}: exists and is not a regular file; choose another path")
    for parent in (path.parent, *path.parent.parents):  # the nearest that exists
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{path}: {parent} is not a directory")
            break
    # Unique per process and thread; created by savefig itself, so the umask sets its mode.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):  # e.g. no directory to hold it either
            tmp.unlink(missing_ok=True)
        if isinstance(error, OSError):  # named by the path asked for, not the temporary file
            raise UserError(f"{path}: cannot write ({error.strerror or error})") from None
        raise


def _message_figure(message: str, path: str | Path, title: str = "") -> Figure:
    """Write a figure holding only ``message`` (for empty inputs)."""
    fig = _new_figure(6, 4)
    if title:
        fig.suptitle(title)
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=14, color="0.4")
    ax.set_axis_off()
    save_figure(fig, path)
    return fig


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _series(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    """``(epochs, values)`` of ``key`` over the rows that have a number for it."""
    xs: list[float] = []
    ys: list[float] = []
    for row in rows:
        x = row.get("epoch", row.get("step"))
        y = row.get(key)
        if _is_number(x) and _is_number(y):
            xs.append(float(x))
            ys.append(float(y))
    return xs, ys


def _draw_lines(ax: Axes, rows: list[dict], keys: list[str], first_colour: int) -> list:
    """Draw one line with markers per key (colours ``C{first_colour}`` on); return them."""
    lines = []
    for index, key in enumerate(keys):
        xs, ys = _series(rows, key)
        label = f"{key} ({ys[-1]:.4g})"
        colour = f"C{(first_colour + index) % 10}"
        lines += ax.plot(xs, ys, marker="o", markersize=3, color=colour, label=label)
    return lines


def _plot_panel(
    ax: Axes, rows: list[dict], keys: list[str], ylabel: str, split_scales: bool = False
) -> None:
    """Plot ``keys`` against epoch on ``ax``.

    With ``split_scales``, when some keys are fractions (all values in ``[0, 1]``, e.g.
    accuracy) and others are not (e.g. chrF in ``[0, 100]``), the others go on a twin
    y-axis on the right, so both stay readable.
    """
    fractions = [key for key in keys if max(_series(rows, key)[1]) <= 1.0]
    others = [key for key in keys if key not in fractions]
    if split_scales and fractions and others:
        lines = _draw_lines(ax, rows, fractions, 0)
        twin = ax.twinx()
        lines += _draw_lines(twin, rows, others, len(fractions))
        ax.set_ylabel(f"{ylabel} (fraction)")
        twin.set_ylabel(ylabel)
    else:
        lines = _draw_lines(ax, rows, keys, 0)
        ax.set_ylabel(ylabel)
    ax.set_xlabel("epoch")
    ax.grid(True, alpha=0.3)
    ax.legend(lines, [line.get_label() for line in lines], fontsize="small")


def plot_losses(rows: list[dict], path: str | Path, title: str = "") -> Figure:
    """Plot a run's losses and metrics against epoch, write them as a PNG, return the figure.

    Left panel: every key ending in ``_loss`` (a line with markers each). Right panel, only
    when present: every key naming a metric (``accuracy``, ``chrf``, ``bleu``, ``exact``,
    the error rates ``wer``, ``cer``, ``per``, ``ser``, ``ter``; any case). Each line uses
    only the rows with a number for its key, so rows may leave keys out; the legend gives
    each line's last value.

    Args:
        rows: the JSON objects of a run's ``metrics.jsonl``, in order. Each has ``epoch``
            (fractional for mid-epoch evaluations; ``step`` is used when it is missing).
        path: the target ``.png`` file.
        title: the figure's title.

    Returns:
        The figure: one axes per panel (a twin axes beside the metrics' when they mix
        fractions with larger numbers), or one saying "no evaluations yet".
    """
    keys: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key not in _X_KEYS and _is_number(value):
                keys.setdefault(key)
    losses = [key for key in keys if key == "loss" or key.endswith("_loss")]
    metrics = [key for key in keys if key not in losses and _METRIC.search(key)]
    if not losses and not metrics:
        return _message_figure("no evaluations yet", path, title)

    panels = [(keys, label) for keys, label in ((losses, "loss"), (metrics, "metric")) if keys]
    width = 6 * len(panels)
    # fixed margins in inches (tick labels and axis titles, a twin axis on the right): a
    # layout solver would double the cost of drawing this plot, which runs every epoch
    fig = _new_figure(width, 4.5, layout=None)
    fig.subplots_adjust(left=0.8 / width, right=1 - 0.75 / width, bottom=0.6 / 4.5,
                        top=1 - (0.7 if title else 0.35) / 4.5, wspace=1.5 / 6)
    if title:
        fig.suptitle(title)
    for index, (panel_keys, label) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), index + 1)
        _plot_panel(ax, rows, panel_keys, label, split_scales=label == "metric")
    save_figure(fig, path)
    return fig


def plot_confusion(
    confusion: torch.Tensor | Sequence[Sequence[int]],
    path: str | Path,
    labels: Sequence[str] | None = None,
    title: str = "",
) -> Figure:
    """Draw a confusion matrix with its counts and overall accuracy, write it as a PNG and
    return the figure (the matrix's axes first, then its colour bar's).

    Args:
        confusion: ``(n, n)`` counts; rows are the true class, columns the predicted one.
        path: the target ``.png`` file.
        labels: the ``n`` class names for the ticks; ``0 .. n-1`` by default.
        title: prefix of the title, which ends with the accuracy ``trace / sum``.

    Raises:
        ValueError: ``confusion`` is not square, or ``labels`` has the wrong length.
    """
    matrix = torch.as_tensor(confusion).detach().cpu().to(torch.int64)
    if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"confusion must be a square matrix, got shape {tuple(matrix.shape)}")
    n = matrix.shape[0]
    names = [str(i) for i in range(n)] if labels is None else [str(label) for label in labels]
    if len(names) != n:
        raise ValueError(f"labels has {len(names)} names for a {n}x{n} confusion matrix")

    correct, total = int(matrix.trace()), int(matrix.sum())
    accuracy = f"accuracy {correct / total:.2%} ({correct}/{total})" if total else "no samples"
    side = min(max(4.0, 0.5 * n + 2), 30.0)
    fig = _new_figure(side + 1, side, layout=None)  # fixed margins: a layout solver costs more
    margin = 0.9 / side  # about 0.9 inch for the tick labels and axis titles
    ax = fig.add_axes((margin, margin, 1 - 2.4 * margin, 1 - 2 * margin))
    image = ax.imshow(matrix.numpy(), cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(f"{title} — {accuracy}" if title else accuracy)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(n), names, rotation=90 if max(map(len, names), default=0) > 2 else 0)
    ax.set_yticks(range(n), names)

    if n <= _MAX_ANNOTATED_CLASSES:
        threshold = int(matrix.max()) / 2 if total else 0
        fontsize = 10 if n <= 12 else 7
        for i in range(n):
            for j in range(n):
                count = int(matrix[i, j])
                colour = "white" if count > threshold else "black"
                ax.text(j, i, str(count), ha="center", va="center", color=colour, fontsize=fontsize)
    save_figure(fig, path)
    return fig


def plot_errors(
    images: torch.Tensor,
    predicted: Sequence[int],
    true: Sequence[int],
    path: str | Path,
    max_items: int = 36,
    probabilities: Sequence[float] | None = None,
) -> Figure:
    """Draw a grid of misclassified images, each titled with its prediction, as a PNG;
    return the figure (one axes holding the grid as one image).

    The first ``max_items`` images are shown in a near-square grid (6x6 for 36), titled
    ``pred 3 (0.91) / true 5`` (the probability only when given).

    Args:
        images: ``(N, H, W)`` (or ``(N, 1, H, W)``) grayscale images, ``uint8`` in
            ``[0, 255]`` or float in ``[0, 1]``; ``N = 0`` gives a figure saying "no errors".
        predicted: the ``N`` predicted classes.
        true: the ``N`` true classes.
        path: the target ``.png`` file.
        max_items: how many images to show at most.
        probabilities: the ``N`` probabilities of the predicted classes, if known.

    Raises:
        ValueError: the shapes or lengths disagree, or ``max_items < 1``.
    """
    images = torch.as_tensor(images).detach().cpu()
    if images.dim() == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.dim() != 3:
        raise ValueError(f"images must be (N, H, W), got shape {tuple(images.shape)}")
    count = images.shape[0]
    lengths = {"predicted": len(predicted), "true": len(true)}
    if probabilities is not None:
        lengths["probabilities"] = len(probabilities)
    for name, length in lengths.items():
        if length != count:
            raise ValueError(f"{name} has {length} items for {count} images")
    if max_items < 1:
        raise ValueError(f"max_items must be at least 1, got {max_items}")
    if count == 0:
        return _message_figure("no errors", path)

    shown = min(count, max_items)
    cols = math.ceil(math.sqrt(shown))
    grid_rows = math.ceil(shown / cols)
    # one mosaic image in one axes, each tile with room for its caption above it: a grid of
    # subplots costs seconds to lay out, this a tenth of that
    height, width = images.shape[1:]
    caption, gap = max(height // 3, 6), max(width // 7, 2)
    tile_h, tile_w = height + caption, width + gap
    scale = 255.0 if images.dtype == torch.uint8 else 1.0
    mosaic = torch.ones(grid_rows * tile_h, cols * tile_w)
    fig = _new_figure(1.6 * cols, 1.75 * grid_rows + 0.4, layout=None)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0 - 0.4 / (1.75 * grid_rows + 0.4)))
    for index in range(shown):
        top, left = (index // cols) * tile_h + caption, (index % cols) * tile_w
        mosaic[top : top + height, left : left + width] = images[index].float() / scale
        label = f"pred {int(predicted[index])}"
        if probabilities is not None:
            label += f" ({float(probabilities[index]):.2f})"
        ax.text(left + width / 2, top - 1, f"{label} / true {int(true[index])}", fontsize=8,
                ha="center", va="bottom")
    ax.imshow(mosaic.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    fig.suptitle(f"errors: showing {shown} of {count}" if shown < count else f"{count} errors",
                 y=0.995, va="top")
    save_figure(fig, path)
    return fig


def plot_alignment(alignment, path: str | Path, title: str = "") -> Figure:
    """A heatmap of an :class:`~seq2seq.tasks.translation.Alignment`: source tokens across,
    output tokens down, each cell the weight the decoder gave that source token while
    writing that output token (white 0, dark 1). Written as a PNG; returns the figure (the
    heatmap's axes first, then its colour bar's)."""
    weights = alignment.weights
    columns, rows = len(alignment.source), len(alignment.output)
    fig = _new_figure(min(2 + 0.35 * columns, 40), min(1.5 + 0.35 * rows, 40))
    ax = fig.add_subplot()
    image = ax.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto",
                      interpolation="nearest")
    ax.set_xticks(range(columns), [_shown(t) for t in alignment.source], rotation=90)
    ax.set_yticks(range(rows), [_shown(t) for t in alignment.output])
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    save_figure(fig, path)
    return fig


def _shown(token: str) -> str:
    """A token as a tick label: a space made visible, mathtext's ``$`` escaped."""
    return (token.replace(" ", "␣") or "∅").replace("$", r"\$")
