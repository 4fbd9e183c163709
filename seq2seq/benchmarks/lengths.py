"""``seq2seq bench lengths``: time per output token at growing output lengths.

A random translator (LSTM 256, embeddings 64, vocabularies 71 / 93, the fra-eng-keras
sizes) whose eos is never chosen (its output bias is -inf) decodes a few sources to
exactly ``length`` tokens, greedy and beam search. A search whose step cost does not grow
with the position gives the same time per token at every length; the table prints each
length's time per token (the best of up to 5 runs for the short lengths) and its ratio
to the shortest length's, in the same process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from seq2seq.models.encoder_decoder import EncoderDecoder, TranslatorConfig
from seq2seq.search import SearchConfig, decode

PAD, BOS, EOS = 0, 1, 2


@dataclass
class LengthTiming:
    beam: int
    length: int
    sentences: int
    seconds: float

    @property
    def per_token(self) -> float:
        """Seconds per output token of the batch (one decoder step for all sentences)."""
        return self.seconds / self.length


def never_ending_model(seed: int = 0) -> EncoderDecoder:
    torch.manual_seed(seed)
    model = EncoderDecoder(TranslatorConfig(units=256, embedding=64), 71, 93, PAD).eval()
    with torch.no_grad():
        model.output.bias[EOS] = float("-inf")
    return model


def run_length_benchmark(lengths=(100, 1000, 10000), beams=(1, 5), sentences: int = 4,
                         threads: int = 2) -> list[LengthTiming]:
    torch.set_num_threads(threads)
    model = never_ending_model()
    generator = torch.Generator().manual_seed(0)
    src = torch.randint(3, 71, (sentences, 20), generator=generator)
    src_lengths = torch.full((sentences,), 20)
    rows = []
    for beam in beams:
        for length in lengths:
            config = SearchConfig(beam_size=beam, max_len_ratio=0.0, max_len_offset=length,
                                  batch_size=sentences)
            if length == lengths[0]:
                decode(model, src, src_lengths, BOS, EOS, config)  # warm-up
            times = []
            for _ in range(max(1, min(5, max(lengths) // (10 * length)))):  # short: best of 5
                start = time.perf_counter()
                found = decode(model, src, src_lengths, BOS, EOS, config)
                times.append(time.perf_counter() - start)
            assert all(len(nbest[0].tokens) == length for nbest in found)
            rows.append(LengthTiming(beam, length, sentences, min(times)))
    return rows


def format_length_table(rows: list[LengthTiming], threads: int) -> str:
    lines = [f"decoding {rows[0].sentences} sentences to exactly N tokens (eos never chosen), "
             f"{threads} threads; time per output token and its ratio to the shortest N's",
             f"{'search':<8} {'N':>7} {'seconds':>9} {'ms/token':>9} {'ratio':>6}"]
    for beam in sorted({row.beam for row in rows}):
        mine = [row for row in rows if row.beam == beam]
        for row in mine:
            name = "greedy" if beam == 1 else f"beam {beam}"
            lines.append(f"{name:<8} {row.length:>7,} {row.seconds:>9.2f} "
                         f"{1000 * row.per_token:>9.3f} {row.per_token / mine[0].per_token:>6.2f}")
    return "\n".join(lines)
