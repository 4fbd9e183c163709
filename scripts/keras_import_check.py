"""The import check of ``seq2seq import-keras``, in one run: train the Keras lstm_seq2seq
example (real Keras 3, torch backend), save it, import it, then compare.

    KERAS_BACKEND=torch .venv/bin/python scripts/keras_import_check.py \\
        ../shared/data/fra-eng/fra.txt --num-samples 10000 --epochs 3 --out runs/keras-import

Prints: sources decoded, exact matches of our batched greedy decoding with the example's
``decode_sequence``, the largest difference of the two models' next-character
probabilities (teacher-forced on the first 100 pairs), both decoders' sentences/s (2 torch
threads), and chrF/BLEU of the imported run on the example's validation pairs, greedy and
beam 5 (``seq2seq evaluate --split valid``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras_example  # noqa: E402  (beside this script; the slow import test runs it too)

from seq2seq.api import Translator  # noqa: E402
from seq2seq.keras_import import import_keras  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--num-samples", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--sources", type=int, default=200, help="validation sources decoded")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(2)
    import keras

    tables, encoder_input, decoder_input, decoder_target = keras_example.prepare(
        args.data, args.num_samples)
    start = time.perf_counter()
    model = keras_example.build_and_train(tables, encoder_input, decoder_input, decoder_target,
                                          epochs=args.epochs)
    print(f"Keras example trained: {args.epochs} epochs in {time.perf_counter() - start:.0f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    saved = args.out / "s2s_model.keras"
    model.save(saved)
    run = args.out / "run"
    import_keras(saved, args.data, args.num_samples, run)

    valid = range(int(len(tables["input_texts"]) * 0.8), len(tables["input_texts"]))
    rows = list(valid)[: args.sources]
    encoder_model, decoder_model = keras_example.inference_models(model)
    start = time.perf_counter()
    theirs = [keras_example.decode_sequence(encoder_input[i : i + 1], encoder_model,
                                            decoder_model, tables) for i in rows]
    their_seconds = time.perf_counter() - start
    theirs = [text.removesuffix("\n").replace("\t", "") for text in theirs]
    translator = Translator.from_pretrained(run)
    sources = [tables["input_texts"][i] for i in rows]
    translator.translate(sources[:20])  # warm-up
    start = time.perf_counter()
    ours = translator.translate(sources)
    our_seconds = time.perf_counter() - start
    matches = sum(a == b for a, b in zip(ours, theirs))

    ti = tables["target_token_index"]
    target = translator.target
    columns = [target.bos_id if c == "\t" else target.eos_id if c == "\n"
               else target.symbols.index(c) for c in sorted(ti, key=ti.get)]
    worst = 0.0
    for i in range(100):
        text = tables["target_texts"][i]
        one_hot = np.zeros((1, len(text) - 1, len(ti)), dtype="float32")
        for t, char in enumerate(text[:-1]):
            one_hot[0, t, ti[char]] = 1.0
        expected = keras.ops.convert_to_numpy(model([encoder_input[i : i + 1], one_hot]))[0]
        src = torch.tensor([translator.source.encode(tables["input_texts"][i])])
        tgt_in = torch.tensor([[target.bos_id, *target.encode(text[1:-1])]])
        with torch.no_grad():
            got = translator.model(src, torch.tensor([src.shape[1]]), tgt_in).softmax(-1)[0]
        worst = max(worst, float(np.abs(got[:, columns].numpy() - expected).max()))

    from click.testing import CliRunner

    from seq2seq.cli import main as cli

    scores = {}
    for beam in (1, 5):
        result = CliRunner().invoke(cli, ["evaluate", str(run), "--split", "valid", "--beam",
                                          str(beam), "--json"])
        scores[beam] = json.loads(result.output.strip().splitlines()[-1])
    print(f"sources decoded: {len(rows)} (validation); exact matches with decode_sequence: "
          f"{matches}/{len(rows)}; max next-character probability difference: {worst:.2e}")
    print(f"decoding speed: the example's loop {len(rows) / their_seconds:,.1f} sentences/s, "
          f"ours batched {len(rows) / our_seconds:,.1f} sentences/s "
          f"({their_seconds / our_seconds:.0f}x)")
    for beam, report in scores.items():
        print(f"imported run, {'greedy' if beam == 1 else f'beam {beam}'}: "
              f"{json.dumps(report)[:300]}")


if __name__ == "__main__":
    main()
