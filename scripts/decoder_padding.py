"""Training steps with the decoder cut by target length against one call over the padding,
on the random batches of ``seq2seq bench peers`` (targets of 10-60 tokens, unsorted, 64
a batch: 40% of the decoder's positions are padding).

The same model and batches train both ways, round after round (the two take turns, so a
slow spell of the machine falls on both): ``seq2seq.core.segments`` as the trainer runs
it, and with its plan held to one call (``MIN_SAVING = 1``), as before it existed. Each
round's ratio is taken side by side; the median of the rounds is printed, with the
largest difference of the two ways' losses (they compute the same function).

    .venv/bin/python scripts/decoder_padding.py [--threads 2] [--rounds 7] [--batches 20]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from seq2seq.benchmarks.peers import (
    EMBEDDING,
    PAD,
    SOURCE_VOCAB,
    TARGET_VOCAB,
    UNITS,
    random_batches,
)
from seq2seq.core import segments
from seq2seq.models.encoder_decoder import EncoderDecoder, TranslatorConfig, sequence_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--bf16", action="store_true", help="under bf16 autocast (native "
                        "bf16 only), as train.bf16 = \"auto\" trains there")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = EncoderDecoder(TranslatorConfig(units=UNITS, layers=1, embedding=EMBEDDING),
                           SOURCE_VOCAB, TARGET_VOCAB).train()
    batches = random_batches(args.batches, 64, torch.Generator().manual_seed(1))
    padding = sum(int((tgt[:, 1:] == PAD).sum()) for _, _, tgt in batches) / sum(
        tgt[:, 1:].numel() for _, _, tgt in batches)
    trainees = {}
    for name in ("cut by length", "one call"):
        copied = copy.deepcopy(model)
        trainees[name] = (copied, torch.optim.Adam(copied.parameters(), lr=1e-4))
    saving = segments.MIN_SAVING
    seconds: dict[str, list[float]] = {name: [] for name in trainees}
    losses: dict[str, list[float]] = {name: [] for name in trainees}
    for round_index in range(args.rounds + 1):  # round 0 warms up
        for name, (trainee, optimizer) in trainees.items():
            segments.MIN_SAVING = saving if name == "cut by length" else 1.0
            start = time.perf_counter()
            for src, src_lengths, tgt in batches:
                optimizer.zero_grad()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                    logits = trainee(src, src_lengths, tgt[:, :-1])
                    loss = sequence_loss(logits, tgt[:, 1:], PAD)
                loss.backward()
                optimizer.step()
                if round_index == 0:
                    losses[name].append(loss.item())
            if round_index:
                seconds[name].append(time.perf_counter() - start)
    segments.MIN_SAVING = saving
    ratio = statistics.median(one / cut for cut, one in zip(seconds["cut by length"],
                                                             seconds["one call"]))
    difference = max(abs(a - b) for a, b in zip(*losses.values()))
    print(f"{args.batches} batches of 64, {padding:.0%} of target positions padding; "
          f"training steps (forward, loss, backward, Adam), "
          f"{'bf16 autocast' if args.bf16 else 'fp32'}, {args.threads} threads, "
          f"ms per batch (median of {args.rounds} rounds):")
    for name, times in seconds.items():
        print(f"  decoder {name:<14} {1000 * statistics.median(times) / args.batches:8.1f}")
    print(f"cut by length / one call: {ratio:.2f}x faster (median of the rounds' ratios); "
          f"largest loss difference over the first round {difference:.1e}")


if __name__ == "__main__":
    main()
