"""A setting is a promise: every key of every recipe dataclass changes what its task does,
or, where it does not apply, is a one-line error naming it.

The test walks the dataclasses (a new key without an entry in ``CHANGES`` fails it), sets
each key to another value, and runs a short real training on tiny data: the run's
fingerprint (metrics rows, final weights, the model's shapes, decoded outputs, batches)
must differ from the baseline's, or loading must fail naming the key.
"""

import dataclasses
import hashlib
import json
import typing

import datasets
import pytest
import torch

from seq2seq.config import apply_overrides, from_mapping
from seq2seq.errors import UserError
from seq2seq.runs import recipe_type
from seq2seq.trainer import Trainer
from tests.helpers import assert_one_line_error

TIMING = {"train_seconds", "eval_seconds", "elapsed_s"}
WORDS = ["cat", "dog", "house", "tree", "river", "stone", "light", "water", "green", "small",
         "apple", "bread", "cloud", "night", "horse", "table", "chair", "music", "paper", "sun"]
SENTENCES = [f"the {a} sees a {b} now." for a, b in zip(WORDS, WORDS[7:] + WORDS[:7])]

BASE = {
    "translation": {"data": {"valid_fraction": 0.25},
                    "model": {"units": 8, "embedding": 4},
                    "train": {"epochs": 2, "batch_size": 4},
                    "decode": {"batch_size": 8}, "eval": {"max_sentences": 5}},
    "fill": {"data": {"valid_fraction": 0.25},
             "model": {"units": 8, "embedding": 4},
             "train": {"epochs": 2, "batch_size": 4}, "decode": {"batch_size": 8}},
    "mnist": {"data": {"source": "embedded", "valid_size": 40},
              "model": {"units": 8}, "train": {"epochs": 2, "batch_size": 64}},
}

# a model trained long enough to end its outputs, and a beam, where the length rules bite
SEARCHING = {"train.epochs": 12, "train.learning_rate": 0.02, "decode.beam_size": 3,
             "decode.nbest": 3}

TRAIN = {  # shared by the three tasks: (overrides, expected) with expected "differs" or an
    # error message part; companions make the key apply
    "train.epochs": ({"train.epochs": 3}, "differs"),
    "train.batch_size": ({"train.batch_size": 3}, "differs"),
    "train.optimizer": ({"train.optimizer": "sgd"}, "differs"),
    "train.learning_rate": ({"train.learning_rate": 0.05}, "differs"),
    "train.weight_decay": ({"train.weight_decay": 0.5}, "differs"),
    "train.momentum": ({"train.momentum": 0.9}, "train.momentum: applies to rmsprop and sgd"),
    "train.clip_grad_norm": ({"train.clip_grad_norm": 0.01}, "differs"),
    "train.label_smoothing": ({"train.label_smoothing": 0.3}, "differs"),
    "train.lr_schedule": ({"train.lr_schedule": "step"}, "differs"),
    "train.lr_step_epochs": ({"train.lr_step_epochs": 3},
                             "train.lr_step_epochs: applies only with train.lr_schedule"),
    "train.lr_gamma": ({"train.lr_gamma": 0.9}, "train.lr_gamma: applies only with"),
    "train.plateau_patience": ({"train.plateau_patience": 0},
                               "train.plateau_patience: applies only with"),
    "train.early_stopping_patience": ({"train.early_stopping_patience": 1,
                                       "train.epochs": 4, "train.learning_rate": 1e-12},
                                      "differs"),
    "train.max_minutes": ({"train.max_minutes": 1e-9}, "differs"),
    "train.eval_every_steps": ({"train.eval_every_steps": 2}, "differs"),
    "train.seed": ({"train.seed": 5}, "differs"),
    "train.threads": ({"train.threads": 1}, "threads"),
    "train.device": ({"train.device": "cuda"}, "device"),
    "train.bf16": ({"train.bf16": True}, "bf16"),
    "train.fp16": ({"train.fp16": True}, "train.fp16: float16 autocast with loss scaling runs "
                                         "on CUDA only, not on cpu"),
    "train.ema_decay": ({"train.ema_decay": 0.5}, "differs"),
}

DECODE = {  # shared by translation and fill
        "decode.max_len_ratio": ({"decode.max_len_ratio": 0.2}, "differs"),
        "decode.max_len_offset": ({"decode.max_len_offset": 1}, "differs"),
        "decode.batch_size": ({"decode.batch_size": 2}, "differs"),
        "decode.beam_size": ({"decode.beam_size": 3}, "differs"),
        "decode.nbest": ({"decode.nbest": 2, "decode.beam_size": 2}, "differs"),
        "decode.alpha": ({"decode.alpha": 2.0, **SEARCHING}, "differs", SEARCHING),
        "decode.min_len": ({"decode.min_len": 6, **SEARCHING}, "differs", SEARCHING),
        "decode.no_repeat_ngram": ({"decode.no_repeat_ngram": 1}, "differs"),
        "decode.sample": ({"decode.sample": True}, "differs"),
        "decode.temperature": ({"decode.temperature": 0.5}, "decode.temperature: applies only"),
        "decode.top_k": ({"decode.top_k": 2}, "decode.top_k: applies only"),
}

CHANGES = {
    "translation": {
        "task": ({"task": "mnist"}, "unknown key"),
        "data.path": ({"data.path": "OTHER"}, "differs"),
        "data.hf": ({"data.hf": "HUB", "data.path": ""}, "differs"),
        "data.hf_config": ({"data.hf_config": "x"}, "data.hf_config: applies only with data.hf"),
        "data.hf_split": ({"data.hf_split": "valid"}, "data.hf_split: applies only"),
        "data.corpus": ({"data.corpus": "cmudict", "data.path": "", "data.first": 60},
                        "differs"),
        "data.keep_stress": ({"data.keep_stress": True}, "data.keep_stress: applies only"),
        "data.test_fraction": ({"data.test_fraction": 0.1}, "data.test_fraction: applies only"),
        "data.hold_out": ({"data.hold_out": "sources"}, "differs"),
        "data.src_field": ({"data.src_field": "a"}, "data.src_field: applies only"),
        "data.tgt_field": ({"data.tgt_field": "b"}, "data.tgt_field: applies only"),
        "data.valid_path": ({"data.valid_path": "OTHER", "data.valid_fraction": 0.0},
                            "differs"),
        "data.test_path": ({"data.test_path": "OTHER"}, "test"),
        "data.first": ({"data.first": 12}, "differs"),
        "data.valid_fraction": ({"data.valid_fraction": 0.4}, "differs"),
        "data.shuffle": ({"data.shuffle": False}, "differs"),
        "data.seed": ({"data.seed": 9}, "differs"),
        "data.max_src_len": ({"data.max_src_len": 6}, "differs"),
        "data.max_tgt_len": ({"data.max_tgt_len": 6}, "differs"),
        "data.lowercase": ({"data.lowercase": True}, "differs"),
        "data.normalize": ({"data.normalize": "NFKC"}, "differs"),
        "data.on_bad_line": ({"data.on_bad_line": "skip"}, "differs"),
        "tokenizer.source.kind": ({"tokenizer.source.kind": "words"}, "differs"),
        "tokenizer.source.sp_model_type": ({"tokenizer.source.sp_model_type": "bpe"},
                                           "tokenizer.source.sp_model_type: applies only"),
        "tokenizer.source.sp_vocab_size": ({"tokenizer.source.sp_vocab_size": 50},
                                           "tokenizer.source.sp_vocab_size: applies only"),
        "tokenizer.source.min_count": ({"tokenizer.source.min_count": 4}, "differs"),
        "tokenizer.target.kind": ({"tokenizer.target.kind": "sentencepiece"}, "differs"),
        "tokenizer.target.sp_model_type": ({"tokenizer.target.kind": "sentencepiece",
                                            "tokenizer.target.sp_model_type": "bpe"},
                                           "differs"),
        "tokenizer.target.sp_vocab_size": ({"tokenizer.target.kind": "sentencepiece",
                                            "tokenizer.target.sp_vocab_size": 30}, "differs"),
        "tokenizer.target.min_count": ({"tokenizer.target.min_count": 4}, "differs"),
        "model.cell": ({"model.cell": "gru"}, "differs"),
        "model.units": ({"model.units": 10}, "differs"),
        "model.layers": ({"model.layers": 2}, "differs"),
        "model.embedding": ({"model.embedding": 0}, "differs"),
        "model.bidirectional_encoder": ({"model.bidirectional_encoder": True}, "differs"),
        "model.bridge": ({"model.bridge": "sum"}, "model.bridge: applies only"),
        "model.dropout": ({"model.dropout": 0.5}, "differs"),
        "model.tie_embeddings": ({"model.tie_embeddings": True, "model.embedding": 8},
                                 "differs"),
        "model.attention": ({"model.attention": "bahdanau"}, "differs"),
        "model.input_feeding": ({"model.input_feeding": True, "model.attention": "dot"},
                                "differs", {"model.attention": "dot"}),
        **{key: change for key, change in TRAIN.items()},
        "train.batch_unit": ({"train.batch_unit": "tokens", "train.batch_size": 40}, "differs"),
        "train.early_stopping_metric": ({"train.early_stopping_metric": "valid_chrf"},
                                        "differs"),
        "teacher_forcing.sampling_probability": ({"teacher_forcing.sampling_probability": 0.5,
                                                  "teacher_forcing.schedule": "constant"},
                                                 "differs"),
        "teacher_forcing.schedule": ({"teacher_forcing.schedule": "constant"},
                                     "teacher_forcing.schedule: applies only"),
        "teacher_forcing.ramp_steps": ({"teacher_forcing.sampling_probability": 0.9,
                                        "teacher_forcing.ramp_steps": 1}, "differs"),
        **DECODE,
        "eval.metrics": ({"eval.metrics": ["ter"]}, "differs"),
        "eval.max_sentences": ({"eval.max_sentences": 2}, "differs"),
    },
    "fill": {
        "task": ({"task": "translation"}, "differs"),  # the same file read as pairs
        "data.path": ({"data.path": "OTHER"}, "differs"),
        "data.column": ({"data.column": 1}, "differs"),
        "data.hf": ({"data.hf": "HUB", "data.path": ""}, "differs"),
        "data.hf_config": ({"data.hf_config": "x"}, "data.hf_config: applies only with data.hf"),
        "data.hf_split": ({"data.hf_split": "valid"}, "data.hf_split: applies only"),
        "data.text_field": ({"data.text_field": "x"}, "data.text_field: applies only"),
        "data.embedded": ({"data.embedded": True, "data.path": "", "data.first": 40},
                          "differs"),
        "data.first": ({"data.first": 14}, "differs"),
        "data.valid_fraction": ({"data.valid_fraction": 0.4}, "differs"),
        "data.max_len": ({"data.max_len": 27}, "differs"),
        "data.seed": ({"data.seed": 9}, "differs"),
        "data.blank": ({"data.blank": "___"}, "differs"),
        "tokenizer.kind": ({"tokenizer.kind": "words"}, "tokenizer.kind: the fill-in model"),
        "tokenizer.sp_model_type": ({"tokenizer.sp_model_type": "bpe"},
                                    "tokenizer.sp_model_type: applies only"),
        "tokenizer.sp_vocab_size": ({"tokenizer.sp_vocab_size": 50},
                                    "tokenizer.sp_vocab_size: applies only"),
        "tokenizer.min_count": ({"tokenizer.min_count": 4}, "differs"),
        "model.cell": ({"model.cell": "gru"}, "differs"),
        "model.units": ({"model.units": 10}, "differs"),
        "model.layers": ({"model.layers": 2}, "differs"),
        "model.embedding": ({"model.embedding": 0}, "differs"),
        "model.direction": ({"model.direction": "forward"}, "differs"),
        "model.bridge": ({"model.bridge": "sum"}, "differs"),
        "model.dropout": ({"model.dropout": 0.5}, "differs"),
        **{key: change for key, change in TRAIN.items()},
        "train.batch_unit": ({"train.batch_unit": "tokens", "train.batch_size": 60}, "differs"),
        "train.early_stopping_metric": ({"train.early_stopping_metric": "valid_exact"},
                                        "differs"),
        **DECODE,
        "decode.max_len_ratio": ({"decode.max_len_ratio": 0.01, "decode.max_len_offset": 1},
                                 "differs"),
        "decode.sample": ({"decode.sample": True}, "decode.sample: applies only to translation"),
    },
    "mnist": {
        "task": ({"task": "fill"}, "unknown key"),
        "data.source": ({"data.source": "idx"}, "data.dir: source 'idx' needs a directory"),
        "data.dir": ({"data.dir": "MISSING", "data.source": "auto"}, "MISSING"),
        "data.hub": ({"data.hub": "HUB", "data.source": "hub"}, "HUB"),
        "data.valid_size": ({"data.valid_size": 100}, "differs"),
        "model.cell": ({"model.cell": "rnn"}, "differs"),
        "model.units": ({"model.units": 10}, "differs"),
        "model.layers": ({"model.layers": 2}, "differs"),
        "model.bidirectional": ({"model.bidirectional": True}, "differs"),
        "model.input_projection": ({"model.input_projection": 6}, "differs"),
        "model.dropout": ({"model.dropout": 0.5}, "differs"),
        "model.classes": ({"model.classes": 12}, "differs"),
        **{key: change for key, change in TRAIN.items()},
        "train.batch_unit": ({"train.batch_unit": "tokens"}, "train.batch_unit: MNIST batches"),
        "train.early_stopping_metric": ({"train.early_stopping_metric": "valid_accuracy"},
                                        "differs"),
    },
}


def leaf_keys(cls, prefix=""):
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[field.name]):
            yield from leaf_keys(hints[field.name], f"{prefix}{field.name}.")
        else:
            yield prefix + field.name


@pytest.mark.parametrize("task", list(CHANGES))
def test_every_key_of_every_recipe_is_covered(task):
    assert sorted(leaf_keys(recipe_type(task))) == sorted(CHANGES[task])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    pairs = [(w, w[::-1].upper()) for w in WORDS] + [(f"{a} {b}", (b + a).upper())
                                                     for a, b in zip(WORDS, WORDS[3:])]
    pairs.append(("\ufb01re", "FEU"))  # NFKC makes the ligature "fi"
    (root / "pairs.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in pairs))
    (root / "other.tsv").write_text("".join(f"{t}\t{s}\n" for s, t in pairs))
    hub = root / "hub"
    hub.mkdir()
    datasets.Dataset.from_dict({"src": [s for s, _ in pairs[::-1]],
                                "tgt": [t.lower() for _, t in pairs[::-1]]}).to_parquet(
        str(hub / "train.parquet"))
    (root / "sentences.txt").write_text("".join(f"{s}\tthe {s[4:]}\n" for s in SENTENCES)
                                        + "a ___ line that data.blank = '___' drops.\tx y\n")
    (root / "other.txt").write_text("".join(f"a {s}\n" for s in SENTENCES[::-1]))
    text_hub = root / "text-hub"
    text_hub.mkdir()
    datasets.Dataset.from_dict({"text": SENTENCES[::-1]}).to_parquet(
        str(text_hub / "train.parquet"))
    return {"pairs": root / "pairs.tsv", "OTHER_PAIRS": root / "other.tsv", "HUB_PAIRS": hub,
            "sentences": root / "sentences.txt", "OTHER_TEXT": root / "other.txt",
            "HUB_TEXT": text_hub}


def recipe(task, files, changes):
    mapping = json.loads(json.dumps(BASE[task]))
    if task == "translation":
        mapping["data"]["path"] = str(files["pairs"])
    elif task == "fill":
        mapping["data"]["path"] = str(files["sentences"])
    mapping["task"] = task
    names = {"translation": ("OTHER_PAIRS", "HUB_PAIRS"),
             "fill": ("OTHER_TEXT", "HUB_TEXT")}.get(task)
    overrides = []
    for key, value in changes.items():
        if names and value in ("OTHER", "HUB"):
            value = str(files[names[value == "HUB"]])
        overrides.append(f"{key}={json.dumps(value)}")
    mapping = apply_overrides(mapping, overrides)
    return from_mapping(recipe_type(mapping["task"]), mapping)


def fewer_digits(digits, train=640, test=200):
    """The first 640 training and 200 test digits (of the embedded 4,000 and 1,000, which
    are shuffled): every MNIST key's effect shows, at a sixth of the cost."""
    return dataclasses.replace(digits, train_images=digits.train_images[:train],
                               train_labels=digits.train_labels[:train],
                               test_images=digits.test_images[:test],
                               test_labels=digits.test_labels[:test])


def built_task(config):
    """The trainer's task for ``config`` (seeded with its train.seed) on its data, and the
    held-out sources it decodes (none for MNIST)."""
    from seq2seq.tasks.fill import FillTask
    from seq2seq.tasks.mnist import MnistTask, load_recipe_digits
    from seq2seq.tasks.translation import TranslationTask, load_splits

    torch.manual_seed(config.train.seed)
    if config.task == "translation":
        splits = load_splits(config.data)
        return (TranslationTask(config, splits, torch.device("cpu")),
                [p.src for p in splits.valid + splits.test])
    if config.task == "fill":
        from seq2seq.data.fill import load_blank_splits

        splits = load_blank_splits(config.data)
        return FillTask(config, splits, torch.device("cpu")), [b.text for b in splits.valid]
    digits = fewer_digits(load_recipe_digits(config.data, log=lambda _m: None))
    return MnistTask(config, digits, torch.device("cpu")), []


def fingerprint(task, config, tmp_path) -> str:
    """What a short real run does: its metrics rows, final weights, the model's shapes, the
    first epoch's batches and the decoded validation outputs."""
    from seq2seq.tasks.fill import fill_blanks
    from seq2seq.tasks.translation import translate_texts

    task = config.task
    run, sources = built_task(config)
    batches = [b.tolist() if isinstance(b, torch.Tensor) else list(getattr(b, "indices", b))
               for b in run.batches(0, config.train.seed)]
    trainer = Trainer(run, config.train, tmp_path, log=lambda _m: None)
    rows = trainer.fit()
    weights = hashlib.sha256(b"".join(t.detach().numpy().tobytes()
                                      for t in run.model.state_dict().values())).hexdigest()
    generator = torch.Generator().manual_seed(0)
    if task == "translation":
        outputs = [[(h.text, round(h.score, 4), round(h.normalized_score, 4)) for h in nbest]
                   for nbest in translate_texts(
            run.model, run.source, run.target, sources, config.decode, generator=generator)]
    elif task == "fill":
        outputs = [[(c.text, round(c.score, 4)) for c in found] for found in fill_blanks(
            run.model, run.tokenizer, sources, config.decode)]
    else:
        outputs = []
    shapes = [tuple(p.shape) for p in run.model.parameters()]
    return json.dumps([[{k: v for k, v in row.items() if k not in TIMING} for row in rows],
                       weights, shapes, batches, outputs, trainer.position.best], default=str)


@pytest.fixture(scope="module")
def baselines(files, tmp_path_factory):
    return {task: fingerprint(task, recipe(task, files, {}), tmp_path_factory.mktemp(task))
            for task in CHANGES}


CASES = [(task, key) for task in CHANGES for key in CHANGES[task]]


@pytest.mark.parametrize("task, key", CASES, ids=[f"{t}:{k}" for t, k in CASES])
def test_every_key_changes_the_run_or_is_rejected_by_name(task, key, files, baselines,
                                                          tmp_path, monkeypatch):
    changes, expected, *baseline_changes = CHANGES[task][key]
    if baseline_changes:  # compared with the same run without the key's own change
        baselines = {task: fingerprint(task, recipe(task, files, baseline_changes[0]),
                                       tmp_path / "baseline")}
    if key == "train.threads":  # set by the command line, for the whole process
        from seq2seq.cli.common import prepare_run

        threads: list[int] = []
        monkeypatch.setattr(torch, "set_num_threads", threads.append)
        name = {"translation": "fra-eng", "fill": "fill-demo", "mnist": "mnist-demo"}[task]
        data = {"translation": [f"data.path={files['pairs']}"], "fill": [],
                "mnist": []}[task]
        for overrides, expected_threads in (([], []), (["train.threads=1"], [1])):
            threads.clear()
            prepare_run(name, None, [*data, *overrides], tmp_path / str(len(overrides)), None,
                        None, None, None)
            assert threads == expected_threads
        return
    if key == "data.on_bad_line":  # a bad line is an error, or skipped and counted
        bad = tmp_path / "bad.tsv"
        bad.write_text(files["pairs"].read_text() + "a line without a tab\n")
        with pytest.raises(UserError, match=r"bad.tsv:\d+"):
            fingerprint(task, recipe(task, files, {"data.path": str(bad)}), tmp_path / "a")
        fingerprint(task, recipe(task, files, {"data.path": str(bad), **changes}),
                    tmp_path / "b")
        return
    if key == "train.device":  # the device the command line builds the run on
        from seq2seq.trainer import pick_device

        config = recipe(task, files, changes)
        if torch.cuda.is_available():
            pytest.skip("a CUDA device is present: cuda is a valid choice here")
        assert pick_device(recipe(task, files, {}).train.device) == torch.device("cpu")
        with pytest.raises(UserError, match="train.device: cuda requested"):
            pick_device(config.train.device)
        return
    if key == "train.bf16":
        from seq2seq.core import precision

        monkeypatch.setattr(precision, "bf16_native", lambda device_type: False)
        with pytest.raises(UserError, match="train.bf16 = true: this CPU has no native"):
            fingerprint(task, recipe(task, files, changes), tmp_path)
        return
    try:
        config = recipe(task, files, changes)
        if expected not in ("differs",):
            found = fingerprint(task, config, tmp_path)
            if expected in ("test",):
                assert found != baselines[task]
                return
    except UserError as error:
        assert expected != "differs", f"{key}: rejected: {error}"
        assert_one_line_error(error, expected)
        return
    if expected == "differs":
        assert fingerprint(task, config, tmp_path) != baselines[task], f"{key} did nothing"
    else:
        pytest.fail(f"{key}: expected an error containing {expected!r}")


# Keys that apply to some settings of their task and not to others: each set where it
# would do nothing is a one-line error naming it (the walk above sets each key only where
# it applies).
MISAPPLIED = [
    ("translation", {"data.corpus": "cmudict", "data.path": "", "data.lowercase": True},
     "data.lowercase: applies only to files and hub datasets"),
    ("translation", {"data.corpus": "cmudict", "data.path": "", "data.normalize": "NFKC"},
     "data.normalize: applies only to files and hub datasets"),
    ("translation", {"data.corpus": "cmudict", "data.path": "", "data.on_bad_line": "skip"},
     "data.on_bad_line: applies only to files and hub datasets"),
    ("translation", {"data.shuffle": False, "data.seed": 9},
     "data.seed: applies only with data.shuffle"),
    ("translation", {"eval.metrics": [], "eval.max_sentences": 5},
     "eval.max_sentences: applies only with eval.metrics"),
    ("translation", {"eval.max_sentences": -1},
     r"eval.max_sentences: expected 0 \(all\) or more"),
    ("mnist", {"data.dir": "SOMEWHERE"}, "data.dir: applies only with data.source = 'idx'"),
    ("mnist", {"data.hub": "someone/digits"},
     "data.hub: applies only with data.source = 'hub'"),
    ("mnist", {"data.source": "idx", "data.dir": "SOMEWHERE", "data.hub": "someone/digits"},
     "data.hub: applies only with data.source = 'hub'"),
]


@pytest.mark.parametrize("task, changes, message", MISAPPLIED,
                         ids=[f"{t}:{','.join(c)}" for t, c, _ in MISAPPLIED])
def test_a_key_set_where_it_does_nothing_is_rejected_by_name(task, changes, message, files):
    with pytest.raises(UserError, match=message) as error:
        recipe(task, files, changes)
    assert_one_line_error(error)


# Values out of range, refused by name when the recipe loads (each was accepted once: a
# ramp of -1,000,000 steps trained as a constant schedule; an empty hub name failed with
# torch's "list index out of range"; a metric named twice was measured twice; classes
# past any allocation reached torch's allocator)
OUT_OF_RANGE = [
    ("translation", {"teacher_forcing.sampling_probability": 0.5,
                     "teacher_forcing.ramp_steps": -1000000},
     "teacher_forcing.ramp_steps: expected a positive integer, got -1000000"),
    ("translation", {"teacher_forcing.sampling_probability": 0.5,
                     "teacher_forcing.ramp_steps": 0},
     "teacher_forcing.ramp_steps: expected a positive integer, got 0"),
    ("translation", {"eval.metrics": ["chrf", "bleu", "chrf"]},
     r"eval.metrics: \['chrf'\] named more than once"),
    ("mnist", {"data.source": "hub", "data.hub": ""},
     "data.hub: expected a hub dataset name or a local copy of one, got an empty string"),
    ("mnist", {"model.classes": 2**40}, "model.classes: expected at most 1,048,576"),
]


@pytest.mark.parametrize("task, changes, message", OUT_OF_RANGE,
                         ids=[f"{t}:{','.join(c)}" for t, c, _ in OUT_OF_RANGE])
def test_a_value_out_of_range_is_rejected_by_name(task, changes, message, files):
    with pytest.raises(UserError, match=message) as error:
        recipe(task, files, changes)
    assert_one_line_error(error)


def test_a_key_set_where_it_applies_is_accepted(files):
    """The same keys where they apply load (the rules above are not blanket bans)."""
    recipe("translation", files, {"data.shuffle": False})
    recipe("translation", files, {"data.hold_out": "sources", "data.seed": 9})
    recipe("translation", files, {"eval.metrics": [], "eval.max_sentences": 1000})
    recipe("mnist", files, {"data.source": "idx", "data.dir": "SOMEWHERE"})
    recipe("mnist", files, {"data.source": "auto", "data.dir": "SOMEWHERE",
                            "data.hub": "someone/digits"})


@pytest.mark.parametrize("task, changes", [("translation", {}), ("fill", {}), ("mnist", {}),
                                           ("mnist", {"data.valid_size": 0,
                                                      "train.early_stopping_metric": "test_loss"}),
                                           ("translation", {"eval.metrics": ["ter", "exact"]})])
def test_the_metrics_a_recipe_may_stop_on_are_those_its_evaluation_measures(task, changes,
                                                                             files):
    """train.early_stopping_metric is checked when the recipe loads against each task's
    list of measured metrics: that list must be what an evaluation really returns."""
    from seq2seq.tasks import fill, mnist, translation

    config = recipe(task, files, changes)
    run, _ = built_task(config)
    measured = {"translation": translation.measured_metrics, "mnist": mnist.measured_metrics,
                "fill": lambda _config: fill.MEASURED_METRICS}[task](config)
    with torch.no_grad():
        assert sorted(["train_loss", *run.evaluate()]) == sorted(measured)
    with pytest.raises(UserError, match="train.early_stopping_metric: 'valid_nothing' is not "
                                        "measured"):
        recipe(task, files, {**changes, "train.early_stopping_metric": "valid_nothing"})
