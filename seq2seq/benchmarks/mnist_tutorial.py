"""The PyTorch RNN-classifier tutorial as a whole program: read MNIST, train one epoch,
print the test accuracy. ``seq2seq bench mnist`` times it, as a process, against
``seq2seq train mnist-pytorch``; it imports nothing from seq2seq.

    python -m seq2seq.benchmarks.mnist_tutorial DATA_DIR [SEED]
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def read_idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    dimensions = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dimensions)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dimensions).reshape(shape)


def load(directory: Path, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(next(directory.glob(f"{name}-images-idx3-ubyte*")))
    labels = read_idx(next(directory.glob(f"{name}-labels-idx1-ubyte*")))
    return torch.tensor(images, dtype=torch.float32) / 255, torch.tensor(labels).long()


class TutorialRNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(input_size=28, hidden_size=64, num_layers=1, batch_first=True)
        self.out = nn.Linear(64, 10)

    def forward(self, x):
        r_out, _ = self.rnn(x, None)
        return self.out(r_out[:, -1, :])


def train_and_test(train_x, train_y, test_x, test_y, seed: int) -> float:
    """The tutorial's loop, verbatim in substance: one epoch, then the test accuracy."""
    torch.manual_seed(seed)
    rnn = TutorialRNN()
    optimizer = torch.optim.Adam(rnn.parameters(), lr=0.01)
    for index in torch.randperm(len(train_y)).split(64):
        loss = F.cross_entropy(rnn(train_x[index]), train_y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return (rnn(test_x).argmax(1) == test_y).float().mean().item()


def main(directory: Path, seed: int) -> float:
    return train_and_test(*load(directory, "train"), *load(directory, "t10k"), seed)


if __name__ == "__main__":
    torch.set_num_threads(2)
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    print(f"test accuracy {main(Path(sys.argv[1]), seed):.4f}")
