"""Scoring a translator on held-out pairs, single- and multi-reference.

Tatoeba has many translations of one sentence. The single-reference figure scores every
pair against its own reference (a repeated source's output counts once per pair); the
multi-reference figure scores each distinct source once, against all its references.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seq2seq import metrics
from seq2seq.data.pairs import Pair
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
