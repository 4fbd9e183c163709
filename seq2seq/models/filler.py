"""The fill-in-the-blank model: two readers meet at the blank, a decoder spells the answer.

A sentence arrives as character ids with exactly one blank symbol (id ``blank_id``). Two
recurrent stacks of the shared core read towards the blank and stop on it:

    forward reader:   s_0 s_1 ... s_p           (start -> blank)    the left context
    backward reader:  s_{n-1} s_{n-2} ... s_p   (end -> blank)      the right context

where ``p`` is the blank's position and ``n`` the sentence's length. Each reader gets its
own gathered copy of the ids and its own lengths (``p + 1`` and ``n - p``), so its final
state, per layer (LSTM: h and c), is its state *on* the blank, exactly, whatever the
padding: the core leaves the state unchanged on padded steps. (Picking positions out of
one :class:`~seq2seq.core.Bidirectional` stack's sequence outputs would not do: they hold
no LSTM cell state, and above the first layer each direction's outputs have seen the other
direction's, so a "forward" state would know the right context.)

The translator's :class:`Bridge` joins the two states of each layer into the decoder's
initial state, and the translator's decoder pieces (:class:`TokenInput`, a
:class:`StackedRNN`, an output ``Linear``) spell the missing text, character by character,
then eos. Search uses the usual protocol, ``encode(src, src_lengths)`` and
``step(tokens, state)``, so greedy, beam and n-best search decode it unchanged.

``direction`` ablates a side while keeping the architecture, hence the parameter count,
identical: every model has both readers, the bridge and the decoder, and ``direction``
only chooses what the readers read.

    direction   forward reader reads           backward reader reads
    "both"      left context, start -> blank   right context, end -> blank
    "forward"   left context, start -> blank   left context, blank -> start
    "backward"  right context, blank -> end    right context, end -> blank

A one-sided model thus reads its side in both directions (a bidirectional encoder of that
side) and never sees the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from seq2seq.config import setting
from seq2seq.core import StackedRNN
from seq2seq.models.encoder_decoder import Bridge, State, StepwiseDecoder, TokenInput, check_sizes


@dataclass
class BlankFillerConfig:
    """The ``[model]`` table of a fill-in recipe."""

    cell: Literal["lstm", "gru"] = setting(
        "lstm", "the recurrent cell of the two readers and the decoder")
    units: int = setting(128, "hidden units of each recurrent layer")
    layers: int = setting(1, "stacked recurrent layers of each reader and of the decoder")
    embedding: int = setting(32, "character embedding size; 0: one-hot inputs")
    direction: Literal["both", "forward", "backward"] = setting(
        "both", "the context(s) the readers read: both sides of the blank, or only the left "
                "(forward) or the right (backward)")
    bridge: Literal["concat", "sum"] = setting(
        "concat", "how the two readers' states join into the decoder's: concatenated and "
                  "projected, or summed")
    dropout: float = setting(0.0, "dropout between layers and before the output layer")

    def check(self) -> None:
        check_sizes(self)


class BlankFiller(StepwiseDecoder, nn.Module):
    """Two readers that stop on the blank, a bridge, and a decoder, over one vocabulary.

    Inputs of :meth:`forward`: ``src (batch, src_time)`` with one ``blank_id`` per row,
    ``src_lengths (batch,)``, ``tgt_in (batch, tgt_time)`` (bos + answer).
    Output: ``logits (batch, tgt_time, vocab)``.

    Example::

        >>> model = BlankFiller(BlankFillerConfig(units=8), vocab_size=10, blank_id=9)
        >>> state = model.encode(torch.tensor([[5, 9, 6]]), torch.tensor([3]))
        >>> logits, state = model.step(torch.tensor([1]), state)   # (1, 10)
    """

    def __init__(self, config: BlankFillerConfig, vocab_size: int, blank_id: int,
                 pad_id: int = 0) -> None:
        super().__init__()
        self.config, self.blank_id, self.pad_id = config, blank_id, pad_id
        # one vocabulary: the answer is a piece of the sentence
        self.char_input = TokenInput(vocab_size, config.embedding, pad_id)
        size, units, layers = self.char_input.output_size, config.units, config.layers
        self.forward_reader = StackedRNN.build(config.cell, size, units, layers,
                                               dropout=config.dropout)
        self.backward_reader = StackedRNN.build(config.cell, size, units, layers,
                                                dropout=config.dropout)
        self.bridge = Bridge(config.bridge, units, 2 if config.cell == "lstm" else 1)
        self.decoder = StackedRNN.build(config.cell, size, units, layers, dropout=config.dropout)
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(units, vocab_size)

    def blank_positions(self, src: torch.Tensor) -> torch.Tensor:
        """``(batch,)`` the position of each row's one blank.

        Raises:
            ValueError: a row holds no blank or more than one.
        """
        is_blank = src == self.blank_id
        counts = is_blank.sum(1)
        if bool((counts != 1).any()):
            row = int((counts != 1).nonzero()[0, 0])
            raise ValueError(f"src: expected exactly one blank (id {self.blank_id}) per row, "
                             f"got {int(counts[row])} in row {row}")
        return is_blank.int().argmax(1)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> State:
        """The decoder's initial state, one tuple per layer: both readers' states on the
        blank, joined by the bridge."""
        src_lengths = src_lengths.to(src.device)
        blank = self.blank_positions(src)
        left, right = blank + 1, src_lengths - blank  # steps to the blank, the blank included
        last = src_lengths - 1
        if self.config.direction == "backward":
            forward_path = (blank, +1, right)
        else:
            forward_path = (torch.zeros_like(blank), +1, left)
        if self.config.direction == "forward":
            backward_path = (blank, -1, left)
        else:
            backward_path = (last, -1, right)
        forward_states = self._read(self.forward_reader, src, *forward_path)
        backward_states = self._read(self.backward_reader, src, *backward_path)
        return [self.bridge((*forward, *backward))
                for forward, backward in zip(forward_states, backward_states)]

    def _read(self, reader: StackedRNN, src: torch.Tensor, start: torch.Tensor, step: int,
              lengths: torch.Tensor) -> State:
        """``reader``'s final states over ``src[start], src[start + step], ...``, ``lengths``
        ids per row (padded after them)."""
        time = torch.arange(int(lengths.max()), device=src.device)
        index = (start[:, None] + step * time).clamp(0, src.shape[1] - 1)
        ids = src.gather(1, index).masked_fill(time >= lengths[:, None], self.pad_id)
        _, states = reader(self.char_input(ids), lengths=lengths)
        return states

    @property
    def decoder_input(self) -> TokenInput:
        return self.char_input  # the answer is spelled in the sentence's own symbols

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor,
                tgt_in: torch.Tensor) -> torch.Tensor:
        return self.decode(tgt_in, self.encode(src, src_lengths))[0]
