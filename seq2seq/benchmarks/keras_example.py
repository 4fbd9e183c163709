"""``seq2seq bench keras``: an epoch of the Keras ``lstm_seq2seq`` example against an epoch
of ``fra-eng-keras`` (the same model), both including their evaluation, in one run.

The Keras side is the example as published (Keras 3 on the torch backend, so both use the
same torch and threads): one-hot encoder and decoder inputs over the first 10,000 pairs,
``LSTM(256)`` encoder whose states start an ``LSTM(256)`` decoder, softmax, rmsprop, batch
64, ``validation_split=0.2``; an epoch is timed by a callback from its start to its end
(training and the validation pass). Ours is ``fra-eng-keras`` through the real trainer:
an epoch is the time between two evaluations' ends (training steps, teacher-forced
validation loss on the same 2,000 pairs, greedy chrF/BLEU on 300 of them, checkpoint).
Keras is not a dependency: without it the benchmark says how to install it.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

KERAS_MISSING = ("the Keras example needs Keras 3 beside torch: pip install keras "
                 "(it runs on the torch backend, KERAS_BACKEND=torch)")


def keras_epoch_seconds(data_path: Path, epochs: int, threads: int) -> list[float]:
    """Wall seconds of each epoch of the Keras example (training + validation)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    lines = data_path.read_text(encoding="utf-8").split("\n")[:10000]
    pairs = [line.split("\t")[:2] for line in lines if "\t" in line]
    inputs = [source for source, _ in pairs]
    targets = ["\t" + target + "\n" for _, target in pairs]
    input_chars = sorted({c for text in inputs for c in text})
    target_chars = sorted({c for text in targets for c in text})
    input_index = {c: i for i, c in enumerate(input_chars)}
    target_index = {c: i for i, c in enumerate(target_chars)}
    encoder_input = np.zeros((len(inputs), max(map(len, inputs)), len(input_chars)), "float32")
    decoder_input = np.zeros((len(inputs), max(map(len, targets)), len(target_chars)),
                             "float32")
    decoder_target = np.zeros_like(decoder_input)
    for i, (source, target) in enumerate(zip(inputs, targets)):
        for t, char in enumerate(source):
            encoder_input[i, t, input_index[char]] = 1.0
        encoder_input[i, len(source):, input_index[" "]] = 1.0
        for t, char in enumerate(target):
            decoder_input[i, t, target_index[char]] = 1.0
            if t > 0:
                decoder_target[i, t - 1, target_index[char]] = 1.0
        decoder_input[i, len(target):, target_index[" "]] = 1.0
        decoder_target[i, len(target) - 1:, target_index[" "]] = 1.0

    encoder_inputs = keras.Input(shape=(None, len(input_chars)))
    _, state_h, state_c = keras.layers.LSTM(256, return_state=True)(encoder_inputs)
    decoder_inputs = keras.Input(shape=(None, len(target_chars)))
    decoder_outputs, _, _ = keras.layers.LSTM(256, return_sequences=True, return_state=True)(
        decoder_inputs, initial_state=[state_h, state_c])
    outputs = keras.layers.Dense(len(target_chars), activation="softmax")(decoder_outputs)
    model = keras.Model([encoder_inputs, decoder_inputs], outputs)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])

    seconds: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    model.fit([encoder_input, decoder_input], decoder_target, batch_size=64, epochs=epochs,
              validation_split=0.2, verbose=0, callbacks=[EpochTimer()])
    return seconds


def our_epoch_seconds(data_path: Path, recipes_dir: Path, epochs: int,
                      threads: int) -> list[float]:
    """Wall seconds of each epoch of ``fra-eng-keras`` through the trainer, evaluation
    and checkpoint included (differences of the metrics rows' ``elapsed_s``)."""
    from seq2seq.benchmarks.train import run_train_benchmark

    rows, _, _ = run_train_benchmark("fra-eng-keras", recipes_dir,
                                     [f"data.path={data_path}"], epochs, threads)
    elapsed = [0.0] + [row["elapsed_s"] for row in rows]
    return [after - before for before, after in zip(elapsed, elapsed[1:])]


def format_keras_table(keras_seconds: list[float], ours: list[float], threads: int) -> str:
    theirs = statistics.median(keras_seconds[1:] or keras_seconds)
    mine = statistics.median(ours[1:] or ours)
    return "\n".join([
        f"an epoch of the Keras lstm_seq2seq example and of fra-eng-keras, evaluation "
        f"included, {threads} threads (median after the first epoch)",
        f"{'Keras example (Keras 3, torch backend)':<42} {theirs:>7.2f} s  "
        f"({', '.join(f'{s:.1f}' for s in keras_seconds)})",
        f"{'seq2seq fra-eng-keras':<42} {mine:>7.2f} s  ({', '.join(f'{s:.1f}' for s in ours)})",
        f"ours is {theirs / mine:.1f}x faster",
    ])
