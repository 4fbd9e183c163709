"""Beam search on an attention model: the encoder memory indexed by row (what the model
does) against copied once per beam and reordered with the beams every step (what a
search that treats the memory as one more state tensor would do). Same model, same
sources, same outputs; prints sentences/s of each, their ratio and the memory held.

    .venv/bin/python scripts/attention_memory.py [--threads 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from seq2seq.models.attention import EncoderMemory
from seq2seq.models.encoder_decoder import EncoderDecoder, TranslatorConfig
from seq2seq.search import SearchConfig, beam_search

BOS, EOS = 1, 2


class CopiedMemory(EncoderMemory):
    """The memory as plain per-row tensors: repeating and selecting rows copies them."""

    def index_select(self, dim, index):
        values, keys, mask = self.per_row()
        return CopiedMemory(values.index_select(0, index), keys.index_select(0, index),
                            mask.index_select(0, index))

    def repeat_interleave(self, repeats, dim):
        values, keys, mask = self.per_row()
        return CopiedMemory(values.repeat_interleave(repeats, 0),
                            keys.repeat_interleave(repeats, 0), mask.repeat_interleave(repeats, 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--beam", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = TranslatorConfig(units=256, layers=2, embedding=64, bidirectional_encoder=True,
                              attention="general")
    model = EncoderDecoder(config, 71, 93).eval()
    generator = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(4):
        lengths = torch.randint(20, 61, (64,), generator=generator)
        src = torch.randint(4, 71, (64, int(lengths.max())), generator=generator)
        src[torch.arange(src.shape[1]) >= lengths[:, None]] = 0
        batches.append((src, lengths))
    search = SearchConfig(beam_size=args.beam, min_len=60, max_len_ratio=0.0, max_len_offset=60)
    encode = model.encode

    def copied_encode(src, lengths):
        state = encode(src, lengths)
        memory = state[-1][0]
        return [*state[:-1], (CopiedMemory(memory.values, memory.keys, memory.mask),)]

    def run(copy: bool) -> tuple[float, list]:
        model.encode = copied_encode if copy else encode
        start = time.perf_counter()
        with torch.no_grad():
            found = [h[0].tokens for src, lengths in batches
                     for h in beam_search(model, src, lengths, BOS, EOS, search)]
        return time.perf_counter() - start, found

    seconds = {False: [], True: []}
    outputs = {}
    for round_index in range(args.rounds + 1):
        for copy in (False, True):
            elapsed, outputs[copy] = run(copy)
            if round_index:
                seconds[copy].append(elapsed)
    sentences = sum(src.shape[0] for src, _ in batches)
    memory = encode(*batches[0])[-1][0]
    per_sentence = (memory.values.numel() + memory.keys.numel()) * memory.values.element_size()
    indexed, copied = (statistics.median(seconds[c]) for c in (False, True))
    print(f"beam {args.beam}, {sentences} sources of 20-60 tokens in batches of 64, outputs "
          f"of 60 tokens; {args.threads} threads; general attention, 2x256 bidirectional "
          f"encoder")
    print(f"indexed memory: {sentences / indexed:8.1f} sentences/s, holds "
          f"{per_sentence / 2**20:.1f} MiB per batch")
    print(f"copied memory:  {sentences / copied:8.1f} sentences/s, holds "
          f"{args.beam * per_sentence / 2**20:.1f} MiB per batch")
    print(f"indexed / copied speed: {copied / indexed:.2f}; same outputs: "
          f"{outputs[False] == outputs[True]}")


if __name__ == "__main__":
    main()
