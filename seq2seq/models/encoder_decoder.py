"""The translator's model: the encoder-decoder of the Keras ``lstm_seq2seq`` example, with
optional attention.

The encoder reads the source; its final state, per layer, is the decoder's initial
state (through a bridge when the encoder is bidirectional). The decoder is trained with
teacher forcing, optionally with scheduled sampling. With ``model.attention`` the
decoder's top output also attends to every encoder output (:mod:`seq2seq.models.attention`),
and with ``model.input_feeding`` the previous attentional vector joins the next input
(Luong et al. 2015). Search talks to the model through two methods only:

    state = model.encode(src, src_lengths)
    logits, state = model.step(tokens, state)      # one step, no recomputation of the prefix

With attention, the state's last entry is ``(EncoderMemory,)``, or ``(EncoderMemory,
previous attentional vector)`` with input feeding: search repeats and reorders its rows
like any other state tensor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from seq2seq.base.errors import UserError
from seq2seq.config import reject_inapplicable, setting
from seq2seq.core import LSTMStep, StackedRNN, StepCache, select_state, step_applies
from seq2seq.core.segments import outputs_by_length
from seq2seq.limits import check_model_sizes
from seq2seq.models.attention import SCORES, Attention, AttentionKind, EncoderMemory

State = list[tuple[torch.Tensor, ...]]  # one tuple per decoder layer: (h, c) or (h,)


def check_sizes(config) -> None:
    """The ``[model]`` settings the translator and the fill-in model share: cell, units,
    layers, embedding, dropout (a recipe's types check the cell too; this checks it for
    configurations built in code)."""
    if config.cell not in ("lstm", "gru"):
        raise UserError(f"model.cell: expected 'lstm' or 'gru', got {config.cell!r}")
    for name in ("units", "layers"):
        if getattr(config, name) < 1:
            raise UserError(f"model.{name}: expected a positive integer, "
                            f"got {getattr(config, name)}")
    if config.embedding < 0:
        raise UserError(f"model.embedding: expected 0 (one-hot) or a size, "
                        f"got {config.embedding}")
    if not 0 <= config.dropout < 1:
        raise UserError(f"model.dropout: expected a fraction in [0, 1), got {config.dropout}")
    check_model_sizes({"units": config.units, "layers": config.layers,
                       "embedding": config.embedding})


@dataclass
class TranslatorConfig:
    """The ``[model]`` table of a translation recipe."""

    cell: Literal["lstm", "gru"] = setting(
        "lstm", "the recurrent cell of the encoder and the decoder")
    units: int = setting(256, "hidden units of each recurrent layer")
    layers: int = setting(1, "stacked recurrent layers, in the encoder and in the decoder")
    embedding: int = setting(0, "token embedding size; 0: one-hot inputs (the Keras example's)")
    bidirectional_encoder: bool = setting(False, "the encoder reads the source in both directions")
    bridge: Literal["concat", "sum"] = setting(
        "concat", "how a bidirectional encoder's forward and backward states join into the "
                  "decoder's: concatenated and projected, or summed")
    dropout: float = setting(0.0, "dropout between layers and before the output layer")
    tie_embeddings: bool = setting(
        False, "the decoder's output layer shares the target embedding (needs embedding = units)")
    attention: AttentionKind = setting(
        "none", "the decoder's top output attends to every encoder output with this score ('none': "
                "the Keras design)")
    input_feeding: bool = setting(
        False, "with attention: the previous attentional vector joins the next input")

    def check(self) -> None:
        check_sizes(self)
        reject_inapplicable(self, "model.", {
            "bridge": (self.bidirectional_encoder, "with model.bidirectional_encoder = true"),
            "input_feeding": (self.attention != "none", "with model.attention")})
        if self.attention not in ("none", *SCORES):
            raise UserError(f"model.attention: expected one of {['none', *SCORES]}, "
                            f"got {self.attention!r}")
        if (self.attention == "dot" and self.bidirectional_encoder
                and self.bridge == "concat"):
            raise UserError('model.attention: "dot" needs encoder outputs of model.units; a '
                            'bidirectional encoder with model.bridge = "concat" gives twice '
                            'that (use bridge = "sum", or attention = "general")')
        if self.tie_embeddings and self.embedding != self.units:
            raise UserError(f"model.tie_embeddings: needs model.embedding == model.units "
                            f"({self.units}), got {self.embedding}")


class TokenInput(nn.Module):
    """Token ids -> vectors: an embedding, or one-hot vectors as in the Keras example."""

    def __init__(self, vocab_size: int, embedding: int, pad_id: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding, padding_idx=pad_id) \
            if embedding else None
        self.output_size = embedding or vocab_size

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None:
            return self.embedding(tokens)
        return F.one_hot(tokens, self.vocab_size).float()

    def step_tokens(self) -> dict:
        """How :class:`~seq2seq.core.LSTMStep` reads these tokens: their vectors (an
        embedding's weight) or, for one-hot inputs, the vocabulary size."""
        if self.embedding is not None:
            return {"token_vectors": self.embedding.weight}
        return {"one_hot": self.vocab_size}


class Bridge(nn.Module):
    """A bidirectional encoder's (forward, backward) states -> the decoder's states."""

    def __init__(self, mode: str, units: int, state_count: int) -> None:
        super().__init__()
        self.mode, self.state_count = mode, state_count
        self.projections = nn.ModuleList(
            nn.Linear(2 * units, units) for _ in range(state_count)) if mode == "concat" else None

    def forward(self, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        forward, backward = state[: self.state_count], state[self.state_count :]
        if self.projections is None:
            return tuple(f + b for f, b in zip(forward, backward))
        return tuple(p(torch.cat([f, b], -1))
                     for p, f, b in zip(self.projections, forward, backward))


class StepwiseDecoder:
    """The decoder half every model here shares: token input -> core stack -> dropout ->
    linear. A model mixing it in names its target-side input ``decoder_input`` and has
    ``decoder`` (a :class:`StackedRNN`), ``dropout`` and ``output``."""

    def decode(self, tgt_in: torch.Tensor, state: State, lengths: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, State | None]:
        """Teacher-forced decoding of whole sequences: logits ``(batch, time, vocab)`` and
        the final state. With ``lengths`` (each row's real positions in ``tgt_in``) the
        decoder may skip padded positions (:func:`~seq2seq.core.segments.outputs_by_length`):
        the logits are the same at real positions, and no state comes back (None)."""
        inputs = self.decoder_input(tgt_in)
        if lengths is not None:
            return self.output(self.dropout(outputs_by_length(self.decoder, inputs, state,
                                                              lengths))), None
        outputs, state = self.decoder(inputs, initial_state=state)
        return self.output(self.dropout(outputs)), state

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One decoder step: ``tokens (batch,)`` -> ``logits (batch, vocab)`` and the new state.

        In inference on CPU an LSTM decoder takes :class:`~seq2seq.core.LSTMStep` (the same
        function, its weights laid out once for single steps); otherwise the layers run as
        in :meth:`decode`.
        """
        stepper = self._inference_step(state)
        if stepper is None:
            logits, state = self.decode(tokens[:, None], state)
            return logits[:, 0], state
        return self._step_with(stepper, tokens, state)

    def step_from_rows(self, tokens: torch.Tensor, state: State, rows: torch.Tensor
                       ) -> tuple[torch.Tensor, State]:
        """:meth:`step` from ``state``'s rows ``rows`` (``rows (batch,)``: the row each token
        continues), the same as ``step(tokens, select_state(state, rows))``. In inference
        on CPU, :class:`~seq2seq.core.LSTMStep` multiplies each distinct row's recurrent
        state once, however many rows continue it (a beam's hypotheses and their parent)."""
        stepper = self._inference_step(state)
        if stepper is None:
            return self.step(tokens, select_state(state, rows))
        return self._step_with(stepper, tokens, state, rows)

    def _step_with(self, stepper: LSTMStep, tokens: torch.Tensor, state: State,
                   rows: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        output, state = stepper(None, state, tokens, rows)
        return self.output(output), state

    def _inference_step(self, state: State) -> LSTMStep | None:
        """The decoder's :class:`~seq2seq.core.LSTMStep`, when it applies now (None: not)."""
        if self.training or not step_applies(self.decoder, state[0][0]):
            return None
        cache = self.__dict__.setdefault("_step_cache", StepCache())  # not saved with weights
        tokens = self.decoder_input
        return cache.get([*self.decoder.parameters(), *tokens.parameters()],
                         lambda: LSTMStep(self.decoder, **tokens.step_tokens()))


class EncoderDecoder(StepwiseDecoder, nn.Module):
    """Encoder-decoder over token ids.

    Inputs of :meth:`forward`: ``src (batch, src_time)``, ``src_lengths (batch,)``,
    ``tgt_in (batch, tgt_time)`` (bos + target). Output: ``logits (batch, tgt_time, vocab)``.
    """

    def __init__(self, config: TranslatorConfig, src_vocab: int, tgt_vocab: int,
                 pad_id: int = 0) -> None:
        super().__init__()
        self.config, self.pad_id = config, pad_id
        self.src_input = TokenInput(src_vocab, config.embedding, pad_id)
        self.tgt_input = TokenInput(tgt_vocab, config.embedding, pad_id)
        self.encoder = StackedRNN.build(config.cell, self.src_input.output_size, config.units,
                                        config.layers, dropout=config.dropout,
                                        bidirectional=config.bidirectional_encoder)
        state_count = 2 if config.cell == "lstm" else 1
        self.bridge = Bridge(config.bridge, config.units, state_count) \
            if config.bidirectional_encoder else None
        feeding = config.units if config.input_feeding else 0
        self.decoder = StackedRNN.build(config.cell, self.tgt_input.output_size + feeding,
                                        config.units, config.layers, dropout=config.dropout)
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(config.units, tgt_vocab)
        if config.tie_embeddings:
            self.output.weight = self.tgt_input.embedding.weight
        self.attention = self.combine = None
        if config.attention != "none":  # built last: "none" initialises as it always has
            memory_size = self.encoder.output_size
            if config.bidirectional_encoder and config.bridge == "sum":
                memory_size = config.units
            self.attention = Attention(config.attention, config.units, memory_size)
            self.combine = nn.Linear(memory_size + config.units, config.units, bias=False)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> State:
        """The decoder's initial state, one tuple per layer (and, with attention, the
        encoder memory and the first input-feeding vector, zeros)."""
        outputs, states = self.encoder(self.src_input(src), lengths=src_lengths)
        if self.bridge is not None:
            states = [self.bridge(state) for state in states]
        if self.attention is None:
            return states
        if self.bridge is not None and self.config.bridge == "sum":
            # a bidirectional encoder's two directions, added as its states are
            outputs = outputs[..., : self.config.units] + outputs[..., self.config.units :]
        memory = self.attention.memory(outputs, src_lengths)
        if self.config.input_feeding:
            return [*states, (memory, outputs.new_zeros(outputs.shape[0], self.config.units))]
        return [*states, (memory,)]

    def decode(self, tgt_in: torch.Tensor, state: State, lengths: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, State | None]:
        """Teacher-forced decoding of whole sequences: logits ``(batch, time, vocab)`` and
        the final state (see :meth:`StepwiseDecoder.decode` for ``lengths``)."""
        logits, state, _ = self.decode_with_weights(tgt_in, state, lengths)
        return logits, state

    def decode_with_weights(self, tgt_in: torch.Tensor, state: State,
                            lengths: torch.Tensor | None = None
                            ) -> tuple[torch.Tensor, State | None, torch.Tensor | None]:
        """:meth:`decode`, and the attention weights ``(batch, time, src_time)`` (None
        without attention). Without input feeding the decoder runs over the whole target
        at once (skipping padding where ``lengths`` allow) and attends at every position
        in one go; with it, position by position (``lengths`` unused)."""
        if self.attention is None:
            return (*StepwiseDecoder.decode(self, tgt_in, state, lengths), None)
        memory = state[-1][0]
        inputs = self.decoder_input(tgt_in)
        if not self.config.input_feeding:
            if lengths is None:
                outputs, layers = self.decoder(inputs, initial_state=state[:-1])
                final = [*layers, (memory,)]
            else:
                outputs = outputs_by_length(self.decoder, inputs, state[:-1], lengths)
                final = None
            attentional, weights = self._attend(outputs, memory)
            return self.output(self.dropout(attentional)), final, weights
        layers, feed = state[:-1], state[-1][1]
        steps, weights = [], []
        for t in range(inputs.shape[1]):
            output, layers = self.decoder(torch.cat([inputs[:, t : t + 1], feed[:, None]], -1),
                                          initial_state=layers)
            attentional, step_weights = self._attend(output, memory)
            feed = attentional[:, 0]
            steps.append(attentional)
            weights.append(step_weights)
        attentional = torch.cat(steps, 1)
        return (self.output(self.dropout(attentional)), [*layers, (memory, feed)],
                torch.cat(weights, 1))

    def _step_with(self, stepper: LSTMStep, tokens: torch.Tensor, state: State,
                   rows: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        if self.attention is None:
            return StepwiseDecoder._step_with(self, stepper, tokens, state, rows)
        memory, *feed = state[-1] if rows is None else select_state(state[-1:], rows)[0]
        output, layers = stepper(feed[0] if feed else None, state[:-1], tokens, rows)
        attentional = self._attend(output[:, None], memory)[0][:, 0]
        return self.output(attentional), [*layers, (memory, attentional) if feed else (memory,)]

    def _attend(self, outputs: torch.Tensor, memory: EncoderMemory
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder outputs -> attentional vectors ``tanh(W_c [context; output])``, weights."""
        context, weights = self.attention(outputs, memory)
        return torch.tanh(self.combine(torch.cat([context.to(outputs.dtype), outputs], -1))), \
            weights

    @torch.no_grad()
    def attention_weights(self, src: torch.Tensor, src_lengths: torch.Tensor,
                          tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced attention weights ``(batch, tgt_time, src_time)`` of ``tgt_in``
        (bos + output): what the decoder attended to at each step of that output."""
        if self.attention is None:
            raise UserError("attention weights: this model has no attention "
                            "(model.attention = \"none\")")
        return self.decode_with_weights(tgt_in, self.encode(src, src_lengths))[2]

    @property
    def decoder_input(self) -> TokenInput:
        return self.tgt_input

    def forward(self, src, src_lengths, tgt_in, sampling_probability: float = 0.0):
        """Logits for every target position of right-padded ``tgt_in`` (the decoder skips
        most padding, so at padded positions they are not the model's: every loss and score
        here ignores them); with ``sampling_probability`` > 0, each step's input is, with
        that probability, the model's own previous prediction."""
        state = self.encode(src, src_lengths)
        if sampling_probability <= 0:
            return self.decode(tgt_in, state, target_lengths(tgt_in, self.pad_id))[0]
        logits, tokens = [], tgt_in[:, 0]
        for t in range(tgt_in.shape[1]):
            if t > 0:
                sampled = torch.rand(tokens.shape, device=tokens.device) < sampling_probability
                tokens = torch.where(sampled, logits[-1].argmax(-1), tgt_in[:, t])
            step_logits, state = self.step(tokens, state)
            logits.append(step_logits)
        return torch.stack(logits, 1)


def target_lengths(tgt_in: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Each row's real positions in right-padded ``tgt_in``: up to its last non-pad token."""
    positions = torch.arange(1, tgt_in.shape[1] + 1, device=tgt_in.device)
    return ((tgt_in != pad_id) * positions).amax(1) if tgt_in.shape[1] else \
        tgt_in.new_zeros(tgt_in.shape[0])


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor, pad_id: int,
                  label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy over real (non-pad) target tokens."""
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=pad_id,
                           label_smoothing=label_smoothing)


@torch.no_grad()
def teacher_forced_scores(model: nn.Module, batches: Iterable, pad_id: int) -> tuple[float, float]:
    """Loss and accuracy per real target token of ``model`` on collated ``batches``
    (:class:`~seq2seq.batching.Batch`, already on the model's device), teacher-forced."""
    total_loss, correct, tokens = 0.0, 0, 0
    for batch in batches:
        logits = model(batch.src, batch.src_lengths, batch.tgt_in).float()
        real = batch.tgt_out != pad_id
        total_loss += sequence_loss(logits, batch.tgt_out, pad_id).item() * batch.target_tokens
        correct += ((logits.argmax(-1) == batch.tgt_out) & real).sum().item()
        tokens += batch.target_tokens
    return total_loss / max(tokens, 1), correct / max(tokens, 1)
