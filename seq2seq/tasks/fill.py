"""Fill-in-the-blank: blanked sentences + BlankFiller + loss + exact match, for the trainer,
and the task's ``train``, ``evaluate`` and ``summary`` (:data:`SPEC`).

Each epoch blanks every training sentence anew (seeded by the train seed and the epoch),
so the model sees a different word of each sentence in each epoch; the held-out sentences
keep the blanks the data seed gave them. One character tokenizer serves both sides (the
answer is a piece of the sentence), with the blank symbol added to its vocabulary.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from seq2seq.base.errors import UserError
from seq2seq.batching import SEED_STRIDE, Batch, bucket_batches, collate, sorted_batches
from seq2seq.config import override_section, reject_inapplicable, save_json, setting, to_mapping
from seq2seq.core import summary as keras_summary
from seq2seq.data.fill import (
    BLANK,
    BlankDataConfig,
    Blanked,
    BlankSplits,
    blank_sentences,
    load_blank_splits,
    show,
)
from seq2seq.limits import check_positive
from seq2seq.models.encoder_decoder import sequence_loss, teacher_forced_scores
from seq2seq.models.filler import BlankFiller, BlankFillerConfig
from seq2seq.runs import check_held_out_overrides, load_run
from seq2seq.search import SearchConfig, decode_sequences
from seq2seq.tasks import TaskSpec
from seq2seq.tokenizers import CharTokenizer, TokenizerConfig, load_tokenizer, train_tokenizer
from seq2seq.trainer import TrainConfig, Trainer, check_early_stopping_metric, pick_device

TOKENIZER = "text"  # the run's one tokenizer: text.tokenizer.json
SHOWN_EXAMPLES = 5  # held-out blanks filled after training
DEFAULT_NBEST = 5  # evaluate's top-k


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


def train(recipe: FillRecipe, run_dir: Path, resuming: bool, options: dict, fit, log) -> None:
    """Blank the recipe's sentences, train (``fit``), then fill a few held-out blanks with
    the best checkpoint."""
    splits = load_blank_splits(recipe.data)
    log(f"data: {splits.source}: {len(splits.train):,} training sentences, "
        f"{len(splits.valid):,} held out"
        + (f"; {splits.dropped:,} repeated or unusable dropped" if splits.dropped else ""))
    tokenizer = load_fill_tokenizer(run_dir) if resuming else None
    task = FillTask(recipe, splits, pick_device(recipe.train.device), tokenizer)
    parameters = sum(p.numel() for p in task.model.parameters())
    context = {"both": "left and right context", "forward": "left context only",
               "backward": "right context only"}[recipe.model.direction]
    log(f"vocabulary: {len(task.tokenizer)} symbols; model: {context}, "
        f"{parameters:,} parameters")
    fit(Trainer(task, recipe.train, run_dir, log=log))
    _show_examples(run_dir, splits, log)


def _show_examples(run_dir: Path, splits: BlankSplits, log) -> None:
    """A few held-out blanks filled by the best checkpoint."""
    run = load_run(run_dir, expected_task=SPEC.name)
    shown = splits.valid[:: max(1, len(splits.valid) // SHOWN_EXAMPLES)][:SHOWN_EXAMPLES]
    greedy = dataclasses.replace(run.recipe.decode, beam_size=1, nbest=1, alpha=0.0)
    found = fill_blanks(run.model, run.tokenizers[TOKENIZER], [b.text for b in shown], greedy)
    log(f"best checkpoint: {run.checkpoint}")
    for blanked, candidates in zip(shown, found):
        log(f"  {show(blanked.text, run.recipe.data.blank)}\n"
            f"    -> {candidates[0].text!r} (answer: {blanked.answer!r})")


def evaluate(run_dir: Path, options: dict, log) -> None:
    """Top-1 and top-k (``nbest``) exact match of RUN_DIR's best model on its held-out
    blanks; ``overrides`` may say where its data lies now."""
    nbest = DEFAULT_NBEST if options["nbest"] is None else options["nbest"]
    overrides = list(options["overrides"])
    check_positive(("--nbest", nbest))
    run = load_run(run_dir, expected_task=SPEC.name)
    check_held_out_overrides(run.recipe.data, overrides)
    # the top-k search widens the run's beam to --nbest
    search = run.recipe.decode.changed({"beam_size": "--nbest", "nbest": "--nbest"},
                                       nbest=nbest,
                                       beam_size=max(run.recipe.decode.beam_size, nbest))
    splits = load_blank_splits(override_section(run.recipe.data, "data", overrides))
    report = {"checkpoint": str(run.checkpoint), "direction": run.recipe.model.direction,
              **held_out_accuracy(run.model, run.tokenizers[TOKENIZER], splits.valid,
                                  search, nbest)}
    if options["as_json"]:
        log(json.dumps(report))
    else:
        log(f"{report['sentences']:,} held-out blanks ({report['direction']}): "
            f"top-1 {report['top1']:.2%}, top-{nbest} {report[f'top{nbest}']:.2%}")


def summary(recipe: FillRecipe, log) -> None:
    """The recipe's model as a Keras-style table (its vocabulary from the data)."""
    task = FillTask(recipe, load_blank_splits(recipe.data), torch.device("cpu"))
    blank = task.model.blank_id
    src = torch.tensor([[5, 6, blank, 7, 8, 9, 5], [6, blank, 5, 7, 8, 0, 0]])
    tgt = torch.ones(2, 4, dtype=torch.long)
    keras_summary(task.model, inputs=[src, torch.tensor([7, 5]), tgt], print_fn=log)


SPEC = TaskSpec(
    name="fill",
    recipe=FillRecipe,
    load_tokenizers=lambda directory: {TOKENIZER: load_fill_tokenizer(directory)},
    build_model=lambda recipe, tokenizers: build_filler(recipe, tokenizers[TOKENIZER]),
    train=train,
    evaluate=evaluate,
    summary=summary,
    recognises_saved=lambda mapping: "direction" in mapping.get("model", {}),
    evaluate_options=("--nbest", "--set"),
)
