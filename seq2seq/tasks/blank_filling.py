"""Fill-in-the-blank as the trainer sees it: blanked sentences + BlankFiller + loss + exact match.

Each epoch blanks every training sentence anew (seeded by the train seed and the epoch),
so the model sees a different word of each sentence in each epoch; the held-out sentences
keep the blanks the data seed gave them. One character tokenizer serves both sides (the
answer is a piece of the sentence), with the blank symbol added to its vocabulary.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from seq2seq.batching import SEED_STRIDE, Batch, bucket_batches, collate, sorted_batches
from seq2seq.config import reject_inapplicable, save_json, setting, to_mapping
from seq2seq.data.blanks import BLANK, BlankDataConfig, Blanked, BlankSplits, blank_sentences
from seq2seq.errors import UserError
from seq2seq.models.blank_filler import BlankFiller, BlankFillerConfig
from seq2seq.models.translator import sequence_loss, teacher_forced_scores
from seq2seq.search import SearchConfig, decode_sequences
from seq2seq.tokenizers import CharTokenizer, TokenizerConfig, load_tokenizer, train_tokenizer
from seq2seq.trainer import TrainConfig, check_early_stopping_metric

TOKENIZER = "text"  # the run's one tokenizer: text.tokenizer.json


@dataclass
class FillRecipe:
    """A fill-in-the-blank recipe: sentences with one blank, two readers and a decoder."""

    task: Literal["fill"] = setting("fill", "the task this recipe trains")
    data: BlankDataConfig = field(default_factory=BlankDataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: BlankFillerConfig = field(default_factory=BlankFillerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode: SearchConfig = field(default_factory=SearchConfig)

    def check(self) -> None:
        if self.tokenizer.kind != "char":
            raise UserError(f"tokenizer.kind: the fill-in model reads and spells characters; "
                            f"expected 'char', got {self.tokenizer.kind!r}")
        reject_inapplicable(self.decode, "decode.", {"sample": (
            False, "to translation (fill-in answers come from search: greedy, beam, n-best)")})
        check_early_stopping_metric(self.train, MEASURED_METRICS)


MEASURED_METRICS = ["train_loss", "valid_loss", "valid_exact"]  # FillTask.evaluate's rows


@dataclass
class Candidate:
    """One answer for a blank, with its log-probability and probability under the model."""

    text: str
    score: float

    @property
    def probability(self) -> float:
        return math.exp(self.score)


def train_fill_tokenizer(config: TokenizerConfig, sentences: list[str]) -> CharTokenizer:
    """Characters of the training ``sentences``, then the blank symbol."""
    tokenizer = train_tokenizer(config, [s for s in sentences if BLANK not in s])
    return CharTokenizer([*tokenizer.symbols, BLANK])


def encode_blanked(tokenizer: CharTokenizer,
                   blanked: list[Blanked]) -> list[tuple[list[int], list[int]]]:
    """(sentence ids with the blank's id, answer ids) per blanked sentence."""
    return [(tokenizer.encode(b.text), tokenizer.encode(b.answer)) for b in blanked]


class FillTask:
    """The trainer's view of blank filling (see :class:`seq2seq.trainer.Task`)."""

    unit = "tok"

    def __init__(self, recipe: FillRecipe, splits: BlankSplits, device: torch.device,
                 tokenizer: CharTokenizer | None = None) -> None:
        self.recipe, self.splits, self.device = recipe, splits, device
        if tokenizer is None:  # built from the training sentences only
            tokenizer = train_fill_tokenizer(recipe.tokenizer, splits.train)
        self.tokenizer = tokenizer
        if BLANK not in self.tokenizer.symbols:
            raise UserError(f"tokenizer: expected the blank symbol U+{ord(BLANK):04X} in its "
                            f"vocabulary; is this a fill-in run?")
        self.valid_examples = encode_blanked(self.tokenizer, splits.valid)
        self.model = build_filler(recipe, self.tokenizer).to(device)

    def batches(self, epoch: int, seed: int) -> list[Batch]:
        """This epoch's blanks, collated into length-bucketed batches."""
        blanked = blank_sentences(self.splits.train, seed * SEED_STRIDE + epoch)
        examples = encode_blanked(self.tokenizer, blanked)
        lengths = [(len(src), len(tgt) + 1) for src, tgt in examples]
        return [self._collate(examples, indices) for indices in bucket_batches(
            lengths, self.recipe.train.batch_size, self.recipe.train.batch_unit, seed, epoch)]

    def _collate(self, examples, indices) -> Batch:
        tokenizer = self.tokenizer
        return collate([examples[i] for i in indices], indices, tokenizer.pad_id,
                       tokenizer.bos_id, tokenizer.eos_id)

    def loss(self, batch: Batch, step: int) -> tuple[torch.Tensor, int]:
        """Mean cross-entropy over the answers' characters and eos; padding ignored."""
        batch = batch.to(self.device)
        logits = self.model(batch.src, batch.src_lengths, batch.tgt_in)
        loss = sequence_loss(logits, batch.tgt_out, self.tokenizer.pad_id,
                             self.recipe.train.label_smoothing)
        return loss, batch.target_tokens

    def evaluate(self) -> dict[str, float]:
        """Teacher-forced loss per answer token; ``valid_exact``: greedy answers equal to the
        blanked text."""
        self.model.eval()
        batches = (self._collate(self.valid_examples, indices).to(self.device)
                   for indices in sorted_batches([len(src) for src, _ in self.valid_examples],
                                                 self.recipe.decode.batch_size))
        loss, _ = teacher_forced_scores(self.model, batches, self.tokenizer.pad_id)
        greedy = dataclasses.replace(self.recipe.decode, beam_size=1, nbest=1, alpha=0.0)
        found = held_out_accuracy(self.model, self.tokenizer, self.splits.valid, greedy, nbest=1)
        return {"valid_loss": loss, "valid_exact": found["top1"]}

    def save_extra(self, directory: Path) -> None:
        save_json(directory / "config.json", to_mapping(self.recipe))
        self.tokenizer.save(directory, TOKENIZER)


@torch.no_grad()
def fill_blanks(model: BlankFiller, tokenizer: CharTokenizer, texts: list[str],
                config: SearchConfig) -> list[list[Candidate]]:
    """Each text's candidates (its one blank written as :data:`BLANK`), best first, under
    ``config`` (greedy, or beam search with ``nbest``); in the texts' order."""
    model.eval()
    encoded = [tokenizer.encode(text) for text in texts]
    found = decode_sequences(model, encoded, tokenizer.pad_id, tokenizer.bos_id,
                             tokenizer.eos_id, config)
    return [[Candidate(tokenizer.decode(h.tokens), h.score) for h in hypotheses]
            for hypotheses in found]


def load_fill_tokenizer(directory: Path) -> CharTokenizer:
    """The one tokenizer of a fill-in run or checkpoint directory."""
    tokenizer = load_tokenizer(directory, TOKENIZER)
    if not isinstance(tokenizer, CharTokenizer) or BLANK not in tokenizer.symbols:
        raise UserError(f"{directory}: not a fill-in run (its tokenizer has no blank symbol)")
    return tokenizer


def build_filler(recipe: FillRecipe, tokenizer: CharTokenizer) -> BlankFiller:
    return BlankFiller(recipe.model, len(tokenizer), tokenizer.symbols.index(BLANK),
                       tokenizer.pad_id)


def held_out_accuracy(model, tokenizer, blanked: list, config, nbest: int) -> dict[str, float]:
    """Exact-match accuracy of the best answer, and of any of the ``nbest`` best (beam search
    with beam ``max(config.beam_size, nbest)``), over held-out blanked sentences."""
    search = dataclasses.replace(config, nbest=nbest, beam_size=max(config.beam_size, nbest))
    found = fill_blanks(model, tokenizer, [b.text for b in blanked], search)
    top1 = sum(candidates[0].text == b.answer for candidates, b in zip(found, blanked))
    topk = sum(any(c.text == b.answer for c in candidates)
               for candidates, b in zip(found, blanked))
    total = max(len(blanked), 1)
    return {"sentences": len(blanked), "top1": top1 / total, f"top{nbest}": topk / total}
