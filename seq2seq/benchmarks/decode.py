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
                         reference_sentences: int = 200, threads: int = 2) -> list[DecodeTiming]:
    torch.set_num_threads(threads)
    time_decoding(translator, sentences[:50], 1, batch_size)  # warm-up
    rows = []
    for beam in beams:
        rows.append(time_decoding(translator, sentences, beam, batch_size))
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
