"""Several trained translators decoding as one model: an ensemble.

At every step each member scores the next token and the ensemble's log-probabilities are
the mean of the members' (a product of experts: search renormalises it, so a hypothesis's
score is the log-probability of its tokens under that normalised product). This is
OpenNMT-py's default way of ensembling at decoding time; members may differ in size, cell,
depth and attention, and share only their vocabularies.

The ensemble follows the search protocol (``encode``/``step``/``step_from_rows``): its
state is the members' states one after another, so greedy, beam, n-best and sampling
decode it unchanged, and beam search still steps each member from its parents' rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seq2seq.base.errors import UserError
from seq2seq.models.encoder_decoder import EncoderDecoder, State


class Ensemble(nn.Module):
    """``members`` (:class:`EncoderDecoder` models over the same source and target
    vocabularies) decoding together; ``attention`` is None (an ensemble has no one
    alignment)."""

    attention = None

    def __init__(self, members: Sequence[EncoderDecoder]) -> None:
        super().__init__()
        if not members:
            raise UserError("ensemble: expected at least one model")
        first = members[0]
        for number, member in enumerate(members[1:], 2):
            for side, size in (("source", lambda m: m.src_input.vocab_size),
                               ("target", lambda m: m.output.out_features)):
                if size(member) != size(first):
                    raise UserError(f"ensemble: model {number} has {size(member)} {side} "
                                    f"symbols, model 1 {size(first)}: members must share "
                                    "their vocabularies")
        self.members = nn.ModuleList(members)
        # entries of each member's state: one per decoder layer, and the encoder memory
        self.state_sizes = [m.config.layers + (m.attention is not None) for m in members]

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> State:
        """Every member's initial state, one after another."""
        return [entry for member in self.members for entry in member.encode(src, src_lengths)]

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """The members' mean next-token log-probabilities ``(batch, vocab)``, and the state."""
        return self._combine([member.step(tokens, part)
                              for member, part in zip(self.members, self._split(state))])

    def step_from_rows(self, tokens: torch.Tensor, state: State, rows: torch.Tensor
                       ) -> tuple[torch.Tensor, State]:
        """:meth:`step` from ``state``'s rows ``rows``: each member steps from them its own
        way (an LSTM decoder multiplies each distinct parent row once)."""
        return self._combine([member.step_from_rows(tokens, part, rows)
                              for member, part in zip(self.members, self._split(state))])

    def attention_weights(self, *_) -> torch.Tensor:
        """Refused: each member attends its own way (a :class:`UserError`)."""
        raise UserError("attention weights: an ensemble has no one alignment (each member "
                        "attends its own way); align with one of its runs")

    def _split(self, state: State) -> list[State]:
        if len(state) != sum(self.state_sizes):
            raise ValueError(f"ensemble state: expected {sum(self.state_sizes)} entries, "
                             f"got {len(state)}")
        parts, start = [], 0
        for size in self.state_sizes:
            parts.append(state[start : start + size])
            start += size
        return parts

    @staticmethod
    def _combine(steps: list[tuple[torch.Tensor, State]]) -> tuple[torch.Tensor, State]:
        log_probs = torch.stack([logits.float().log_softmax(-1) for logits, _ in steps])
        return log_probs.mean(0), [entry for _, state in steps for entry in state]
