"""An image read as a sequence of rows; the core's last state feeds a linear layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from seq2seq.base.errors import UserError
from seq2seq.config import setting
from seq2seq.core import StackedRNN
from seq2seq.limits import check_model_sizes


@dataclass
class RowClassifierConfig:
    """The ``[model]`` table of a row-classification recipe."""

    cell: Literal["lstm", "gru", "rnn"] = setting(
        "lstm", "the recurrent cell that reads the image row by row")
    units: int = setting(128, "hidden units of each recurrent layer")
    layers: int = setting(1, "stacked recurrent layers")
    bidirectional: bool = setting(False, "read the rows top-down and bottom-up")
    input_projection: int = setting(0, "> 0: a linear map of each row to this size first")
    dropout: float = setting(0.0, "dropout between stacked layers, and before the classifier")
    classes: int = setting(10, "output classes (at least the data's labels: 10 digits)")

    def check(self) -> None:
        for name in ("units", "layers", "classes"):
            if getattr(self, name) < 1:
                raise UserError(f"model.{name}: expected a positive integer, "
                                f"got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise UserError(f"model.dropout: expected a fraction in [0, 1), got {self.dropout}")
        if self.input_projection < 0:
            raise UserError(f"model.input_projection: expected 0 (none) or a size, "
                            f"got {self.input_projection}")
        check_model_sizes({"units": self.units, "layers": self.layers,
                           "input_projection": self.input_projection, "classes": self.classes})


class RowClassifier(nn.Module):
    """Rows -> (optional projection) -> stacked recurrent core -> last state -> classes.

    Inputs: ``images (batch, rows, row_size)``, floats in [0, 1].
    Outputs: ``logits (batch, classes)``.

    With ``bidirectional``, the last state is the forward direction's state after the
    last row joined with the backward direction's state after the first row.
    """

    def __init__(self, config: RowClassifierConfig, row_size: int = 28) -> None:
        super().__init__()
        self.config = config
        size = row_size
        self.projection = None
        if config.input_projection > 0:
            self.projection = nn.Linear(row_size, config.input_projection)
            size = config.input_projection
        self.rnn = StackedRNN.build(config.cell, size, config.units, config.layers,
                                    dropout=config.dropout, bidirectional=config.bidirectional)
        self.dropout = nn.Dropout(config.dropout)
        directions = 2 if config.bidirectional else 1
        self.classifier = nn.Linear(directions * config.units, config.classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.projection(images) if self.projection is not None else images
        _, states = self.rnn(x)
        last = states[-1]
        if self.config.bidirectional:
            half = len(last) // 2
            features = torch.cat([last[0], last[half]], -1)
        else:
            features = last[0]
        return self.classifier(self.dropout(features))
