"""``seq2seq bench decode``: batched greedy and beam search against one sentence at a time.

Both sides decode with the same model and the same search code; the reference loop
simply hands it one sentence per call, as a decode loop without batching does (the
Keras example's own loop decodes one sentence at a time). Sentences/s over the run's
validation sources; the unbatched loop runs on the first ``reference_sentences`` of
them, which is enough for a rate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch


@dataclass
class DecodeTiming:
    name: str
    sentences: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.sentences / self.seconds


def time_decoding(translator, sentences: list[str], beam: int, batch_size: int) -> DecodeTiming:
    """Seconds to decode ``sentences`` (results are read back to the host, so a GPU's
    queued work is done when the clock stops)."""
    config = translator.search_config(beam_size=beam, nbest=1, batch_size=batch_size)
    start = time.perf_counter()
    translator.hypotheses(sentences, config)
    seconds = time.perf_counter() - start
    mode = "greedy" if beam == 1 else f"beam {beam}"
    batching = "one at a time" if batch_size == 1 else f"batched ({batch_size})"
    return DecodeTiming(f"{mode}, {batching}", len(sentences), seconds)


def run_decode_benchmark(translator, sentences: list[str], beams=(1, 5), batch_size: int = 256,
                         reference_sentences: int = 200, threads: int = 2,
                         rounds: int = 1) -> list[DecodeTiming]:
    """Per beam, the batched search (its fastest of ``rounds``) and the one-at-a-time loop
    on the first ``reference_sentences`` (once: it is the slow reference)."""
    torch.set_num_threads(threads)
    time_decoding(translator, sentences[:50], 1, batch_size)  # warm-up
    rows = []
    for beam in beams:
        rows.append(min((time_decoding(translator, sentences, beam, batch_size)
                         for _ in range(rounds)), key=lambda timing: timing.seconds))
        rows.append(time_decoding(translator, sentences[:reference_sentences], beam, 1))
    return rows


def format_decode_table(rows: list[DecodeTiming], description: str) -> str:
    lines = [description, f"{'decoding':<28} {'sentences':>9} {'seconds':>8} {'sent/s':>9} "
                          f"{'speed-up':>8}"]
    for batched, single in zip(rows[::2], rows[1::2]):
        for row in (batched, single):
            ratio = row.rate / single.rate
            lines.append(f"{row.name:<28} {row.sentences:>9,} {row.seconds:>8.2f} "
                         f"{row.rate:>9,.0f} {ratio:>7.1f}x")
    return "\n".join(lines)


# --- torch against its ONNX export (fp32 and int8), one process ----------------------------

ENGINES = ("torch", "onnx fp32", "onnx int8")


@dataclass
class EngineTiming:
    """One engine's best of ``rounds`` passes over the sources with one search."""

    engine: str
    beam: int
    sentences: int
    seconds: float
    score: float  # the metric, multi-reference
    same_as_torch: int  # best outputs identical to torch's
    graph_megabytes: float | None  # encoder + decoder step (None: torch)

    @property
    def rate(self) -> float:
        return self.sentences / self.seconds


def run_engine_comparison(run_dir, pairs, metric: str, beams=(1, 5), batch_size: int = 256,
                          threads: int = 2, rounds: int = 2, work_dir=None) -> list[EngineTiming]:
    """Export ``run_dir`` (fp32 and int8) into ``work_dir`` and time torch and both exports
    on the sources of ``pairs``, each search in turn, the engines interleaved round after
    round (each keeps its fastest round); ``metric`` (multi-reference) scores each."""
    from pathlib import Path

    from seq2seq.api import Translator
    from seq2seq.evaluation import score_outputs
    from seq2seq.export import GRAPHS, QUANTIZED, export_run
    from seq2seq.runtime import OnnxTranslator

    torch.set_num_threads(threads)
    work_dir = Path(work_dir)
    engines = {"torch": Translator.from_pretrained(run_dir)}
    sizes: dict[str, float | None] = {"torch": None}
    for name, quantize in (("onnx fp32", "none"), ("onnx int8", "int8")):
        out = export_run(run_dir, work_dir / quantize, quantize, log=lambda _: None)
        engines[name] = OnnxTranslator(out, threads=threads)
        sizes[name] = sum((out / GRAPHS[g]).stat().st_size for g in QUANTIZED) / 1e6
    sources = [pair.src for pair in pairs]
    rows = []
    for beam in beams:
        best_seconds = {name: float("inf") for name in engines}
        outputs: dict[str, list[str]] = {}
        for _ in range(rounds):
            for name, translator in engines.items():
                config = translator.search_config(beam_size=beam, nbest=1,
                                                  batch_size=batch_size)
                translator.hypotheses(sources[:batch_size], config)  # warm-up
                start = time.perf_counter()
                found = translator.hypotheses(sources, config)
                best_seconds[name] = min(best_seconds[name], time.perf_counter() - start)
                outputs[name] = [nbest[0].text if nbest else "" for nbest in found]
        for name in engines:
            best = dict(zip(sources, outputs[name]))
            report = score_outputs(pairs, best, [metric], beam)
            same = sum(a == b for a, b in zip(outputs[name], outputs["torch"]))
            rows.append(EngineTiming(name, beam, len(sources), best_seconds[name],
                                     report.multi_reference[metric], same, sizes[name]))
    return rows


def format_engine_table(rows: list[EngineTiming], metric: str, description: str) -> str:
    lines = [description, f"{'engine':<10} {'decoding':<8} {'sent/s':>8} {'x torch':>8} "
                          f"{metric + ' (multi)':>13} {'same as torch':>14} {'graphs MB':>10}"]
    torch_rate = {row.beam: row.rate for row in rows if row.engine == "torch"}
    for row in rows:
        mode = "greedy" if row.beam == 1 else f"beam {row.beam}"
        size = "-" if row.graph_megabytes is None else f"{row.graph_megabytes:.2f}"
        lines.append(f"{row.engine:<10} {mode:<8} {row.rate:>8,.0f} "
                     f"{row.rate / torch_rate[row.beam]:>7.2f}x {row.score:>13.2f} "
                     f"{f'{row.same_as_torch:,}/{row.sentences:,}':>14} {size:>10}")
    return "\n".join(lines)
