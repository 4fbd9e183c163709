"""Keras's ``model.summary()`` table for any module built from the core and torch layers."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .recurrent import RNN
from .wrappers import Bidirectional

CORE_LAYERS = (RNN, Bidirectional)


def _format_shape(value) -> str:
    if isinstance(value, torch.Tensor):
        return str(("None", *value.shape[1:])).replace("'None'", "None")
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_format_shape(v) for v in value) + "]"
    return "?"


def _keras_name(module: nn.Module, counts: dict[str, int]) -> str:
    """``lstm``, ``lstm_1``, ... as Keras names layers of a Sequential."""
    base = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", type(module).__name__).lower()
    count = counts.get(base, 0)
    counts[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def _rows_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Core layers and torch leaf modules, not descending into core layers."""
    if isinstance(model, CORE_LAYERS) or not any(True for _ in model.children()):
        return [("", model)]
    selected: list[tuple[str, nn.Module]] = []

    def visit(prefix: str, module: nn.Module) -> None:
        for name, child in module.named_children():
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(child, CORE_LAYERS) or not any(True for _ in child.children()):
                selected.append((path, child))
            else:
                visit(path, child)

    visit("", model)
    return selected


def summary(
    model: nn.Module,
    input_shape: Sequence[int] | Sequence[Sequence[int]] | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    inputs: Sequence[torch.Tensor] | None = None,
    print_fn: Callable[[str], None] | None = print,
) -> str:
    """Print (and return) Keras's summary table of ``model``.

    Runs one forward pass on zeros of ``(2, *input_shape)`` (a list of shapes for a
    model of several inputs, each given in turn), or on ``inputs`` when given (example
    tensors whose first dimension is the batch), and lists each core layer and each
    torch leaf module in call order with its output shape (``None`` for the batch) and
    parameter count, then the total, trainable and non-trainable parameters.

    Example::

        >>> model = nn.Sequential(LSTM(2, 3, return_sequences=True), nn.Linear(3, 1))
        >>> _ = summary(model, (3, 2))   # rows (None, 3, 3) 72 and (None, 3, 1) 4; total 76
    """
    if inputs is None:
        if input_shape is None:
            raise ValueError("input_shape, inputs: give one of them")
        shapes = list(input_shape)
        if not shapes or not isinstance(shapes[0], (tuple, list)):
            shapes = [tuple(shapes)]
        try:
            device = next(model.parameters()).device
        except StopIteration:
            device = torch.device("cpu")
        inputs = [torch.zeros((2, *shape), dtype=dtype, device=device) for shape in shapes]

    calls: dict[nn.Module, object] = {}
    order: list[nn.Module] = []

    def record(module, _args, output):
        if module not in calls:
            calls[module] = output
            order.append(module)

    paths = dict((module, path) for path, module in _rows_modules(model))
    handles = [module.register_forward_hook(record) for module in paths]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(*inputs)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()

    counts: dict[str, int] = {}
    rows = []
    for module in order:
        path = paths[module]
        last = path.split(".")[-1]
        name = _keras_name(module, counts) if last == "" or last.isdigit() else path
        params = sum(p.numel() for p in module.parameters())
        rows.append((f"{name} ({type(module).__name__})", _format_shape(calls[module]),
                     f"{params:,}"))

    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    header = ("Layer (type)", "Output Shape", "Param #")
    widths = [max(len(r[i]) for r in [header, *rows]) + 4 for i in range(3)]
    width = sum(widths)

    def line(cells) -> str:
        return "".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()

    out = [f'Model: "{type(model).__name__}"', "_" * width, line(header), "=" * width]
    for index, row in enumerate(rows):
        out.append(line(row))
        out.append("=" * width if index == len(rows) - 1 else "_" * width)
    if not rows:
        out.append("=" * width)
    out += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}", "_" * width]
    text = "\n".join(out)
    if print_fn is not None:
        print_fn(text)
    return text
