"""``seq2seq bench train --attention`` with the additive score computed by the plain
formula, ``tanh(queries + keys) @ vector`` through autograd, in place of
:func:`seq2seq.models.attention.additive_scores`: the "before" of that function.
Arguments are those of the benchmark; compare its bahdanau rows with a run of
``seq2seq bench train --attention`` itself.

    .venv/bin/python scripts/additive_plain_formula.py fra-eng-keras \\
        --set data.path=../shared/data/fra-eng/fra.txt
"""

from __future__ import annotations

import sys

import torch

from seq2seq.cli import main
from seq2seq.models import attention


def plain_additive_scores(queries: torch.Tensor, keys: torch.Tensor, vector: torch.Tensor
                          ) -> torch.Tensor:
    return torch.tanh(queries[:, :, None] + keys[:, None]) @ vector


if __name__ == "__main__":
    attention.additive_scores = plain_additive_scores
    main(["bench", "train", "--attention", *sys.argv[1:]])
