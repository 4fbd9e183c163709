"""Variable-length sources through our encoder against torch's packed LSTM, on the random
batches of ``seq2seq bench peers`` (sources of 10-40 tokens, unsorted, 64 a batch).

Our encoder (``seq2seq.core.recurrent.RNN._run_fused_segments``) makes one fused call per
run of steps between distinct lengths; OpenNMT-py packs the batch, which torch runs on
CPU step by step. One fused call over the padded batch is timed beside them as a floor:
it is not exact (the shorter sources' final states would be those of their padding).
Forward and backward, training mode, the three interleaved, median of the rounds.

    .venv/bin/python scripts/encoder_lengths.py [--threads 2] [--rounds 5] [--batches 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.nn.utils.rnn import pack_padded_sequence

from seq2seq.benchmarks.peers import EMBEDDING, SOURCE_VOCAB, UNITS, random_batches
from seq2seq.models.encoder_decoder import EncoderDecoder, TranslatorConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = EncoderDecoder(TranslatorConfig(units=UNITS, layers=1, embedding=EMBEDDING),
                           SOURCE_VOCAB, 93).train()
    packed_lstm = torch.nn.LSTM(EMBEDDING, UNITS, batch_first=True)
    batches = random_batches(args.batches, 64, torch.Generator().manual_seed(1))

    def ours(src, lengths):
        outputs, states = model.encoder(model.src_input(src), lengths=lengths)
        return outputs.sum() + sum(tensor.sum() for tensor in states[0])

    def packed(src, lengths):
        sequence = pack_padded_sequence(model.src_input(src), lengths, batch_first=True,
                                        enforce_sorted=False)
        outputs, (h, c) = packed_lstm(sequence)
        return outputs.data.sum() + h.sum() + c.sum()

    def padded(src, lengths):
        outputs, (h, c) = packed_lstm(model.src_input(src))
        return outputs.sum() + h.sum() + c.sum()

    ways = {"ours (a fused call per run of steps)": ours, "torch packed (step by step)": packed,
            "one fused call, padded (inexact)": padded}
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    for round_index in range(args.rounds + 1):  # round 0 warms up
        for name, run in ways.items():
            start = time.perf_counter()
            for src, lengths, _ in batches:
                run(src, lengths).backward()
            if round_index:
                seconds[name].append(time.perf_counter() - start)
    distinct = statistics.median(len(set(lengths.tolist())) for _, lengths, _ in batches)
    print(f"{args.batches} batches of 64 sources, a median of {distinct:g} distinct lengths "
          f"a batch; encoder forward and backward, ms per batch (median of {args.rounds} "
          f"rounds), {args.threads} threads")
    for name, times in seconds.items():
        print(f"{name:<40} {1000 * statistics.median(times) / args.batches:8.1f}")


if __name__ == "__main__":
    main()
