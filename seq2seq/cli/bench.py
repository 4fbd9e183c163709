"""``seq2seq bench``: benchmarks that time our code against a reference in the same process."""

from __future__ import annotations

from pathlib import Path

import click

from seq2seq.base.errors import UserError

DEVICE = click.option("--device", default="cpu", show_default=True,
                      type=click.Choice(["cpu", "cuda"]), help="Where to run.")


@click.group()
def bench() -> None:
    """Benchmarks that time our code against a reference in the same process."""


@bench.command("core")
@click.option("--batch", default=64, show_default=True, help="Sequences per batch.")
@click.option("--time-steps", "time_steps", default="16,60", show_default=True,
              help="Comma-separated sequence lengths.")
@click.option("--units", default="256,512", show_default=True, help="Comma-separated layer sizes.")
@click.option("--features", default=80, show_default=True, help="Input features per step.")
@click.option("--threads", default=2, show_default=True, help="torch threads.")
@click.option("--rounds", default=7, show_default=True, help="Timed rounds (median reported).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON instead.")
@DEVICE
def bench_core(batch, time_steps, units, features, threads, rounds, as_json, device) -> None:
    """Our LSTM (fused, reference, lengths, bf16) vs torch.nn.LSTM, tokens/s."""
    from seq2seq.benchmarks.core import format_core_table, results_json, run_core_benchmark

    _check_device(device)
    results = run_core_benchmark(batch, _ints(time_steps, "--time-steps"), _ints(units, "--units"),
                                 features, threads, rounds, device)
    click.echo(results_json(results) if as_json else format_core_table(results, batch, features,
                                                                       threads, device))


@bench.command("mnist")
@click.option("--data-dir", type=click.Path(path_type=Path), required=True,
              help="Directory of the MNIST IDX files, e.g. ../shared/data/mnist.")
@click.option("--rounds", default=2, show_default=True, help="Alternating runs of each.")
@click.option("--threads", default=2, show_default=True, help="torch threads.")
@click.option("--process-rounds", default=5, show_default=True,
              help="Alternating whole-process runs of each (0: skip).")
def bench_mnist(data_dir, rounds, threads, process_rounds) -> None:
    """The mnist-pytorch recipe's whole run vs the tutorial's plain PyTorch loop: in one
    process (training and test pass), then as whole processes (startup and imports too)."""
    from seq2seq.benchmarks.mnist import (
        format_mnist_table,
        format_process_table,
        run_mnist_benchmark,
        run_process_benchmark,
    )
    from seq2seq.data.mnist import load_digits
    from seq2seq.runs import RECIPES

    digits = load_digits(data_dir=data_dir)
    tutorial, ours = run_mnist_benchmark(digits, RECIPES, rounds, threads)
    click.echo(format_mnist_table(tutorial, ours, digits.source))
    if process_rounds:
        click.echo(format_process_table(*run_process_benchmark(data_dir, process_rounds)))


@bench.command("train")
@click.argument("recipe", default="fra-eng-keras")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe key, e.g. data.path=../shared/data/fra-eng/fra.txt.")
@click.option("--epochs", type=int, help="Epochs to time (default 3; not with --attention).")
@click.option("--threads", default=2, show_default=True, help="torch threads.")
@click.option("--attention", "attention_variants", is_flag=True,
              help="Compare the training tokens/s of every attention setting (none, dot, "
                   "general, bahdanau; with and without input feeding): the same batches, "
                   "the settings in turn, round after round.")
@click.option("--steps", type=int,
              help="With --attention: training steps per setting and round (default 40).")
@click.option("--rounds", type=int,
              help="With --attention: timed rounds, each setting keeping its fastest "
                   "(default 3; one more warms up).")
@DEVICE
def bench_train(recipe, overrides, epochs, threads, attention_variants, steps, rounds,
                device) -> None:
    """Seconds per training epoch of a translation RECIPE, through the real trainer."""
    from seq2seq.benchmarks.train import (
        format_attention_table,
        format_train_table,
        run_attention_benchmark,
        run_train_benchmark,
    )
    from seq2seq.limits import check_positive
    from seq2seq.runs import RECIPES

    _check_device(device)
    check_positive(("--epochs", epochs), ("--steps", steps), ("--rounds", rounds))
    if attention_variants:
        if epochs is not None:
            raise UserError("--epochs: not with --attention (it times --steps per round)")
        steps, rounds = steps or 40, rounds or 3
        results, source, tokens = run_attention_benchmark(recipe, RECIPES, list(overrides),
                                                          steps, rounds, threads, device)
        click.echo(format_attention_table(recipe, results, source, threads, steps, rounds,
                                          tokens))
        return
    for name, value in (("--steps", steps), ("--rounds", rounds)):
        if value is not None:
            raise UserError(f"{name}: applies with --attention only")
    rows, source, tokens = run_train_benchmark(recipe, RECIPES, list(overrides), epochs or 3,
                                               threads, device)
    click.echo(format_train_table(recipe, rows, source, tokens, threads, device))


@bench.command("precision")
@click.argument("recipe", default="fra-eng-keras")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe key, e.g. data.path=../shared/data/fra-eng/fra.txt.")
@click.option("--steps", default=100, show_default=True,
              help="Training steps per precision (the first batches of the first epoch).")
@click.option("--threads", default=2, show_default=True, help="torch threads.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Keep the runs in OUT/fp32, OUT/bf16, OUT/fp16 (default: a temporary one).")
@DEVICE
def bench_precision(recipe, overrides, steps, threads, out, device) -> None:
    """A translation RECIPE's first training steps in fp32, bf16 autocast and fp16 with
    loss scaling (CUDA only), from one seed: training and validation loss, tokens/s."""
    from seq2seq.benchmarks.precision import format_precision_table, run_precision_benchmark
    from seq2seq.limits import check_positive
    from seq2seq.runs import RECIPES

    _check_device(device)
    check_positive(("--steps", steps))
    results, source = run_precision_benchmark(recipe, RECIPES, list(overrides), steps, device,
                                              threads, out)
    click.echo(format_precision_table(recipe, results, source, steps, device))


@bench.command("peers")
@click.option("--sources", default=512, show_default=True, help="Sources decoded per round.")
@click.option("--batch-size", default=64, show_default=True, help="Sentences per batch.")
@click.option("--train-batches", default=20, show_default=True,
              help="Training steps timed per round.")
@click.option("--rounds", default=3, show_default=True,
              help="Timed rounds, ours and theirs interleaved (medians reported; each "
                   "ratio is the median of the rounds' ratios).")
@click.option("--threads", default=2, show_default=True, help="torch threads.")
@click.option("--bf16", is_flag=True,
              help="Also time training under bf16 autocast, both toolkits (as train.bf16 = "
                   "\"auto\" trains on a CPU with native bf16; refused elsewhere).")
def bench_peers(sources, batch_size, train_batches, rounds, threads, bf16) -> None:
    """Ours vs OpenNMT-py 3.5.1 on the identical model: training, greedy, beam 5.

    OpenNMT-py is not a dependency: it runs from a separate virtual environment
    (make peers-venv; then .venv-peers/bin/seq2seq bench peers). Without it this
    says so and exits with status 1.
    """
    from seq2seq.benchmarks.peers import format_peer_table, run_peer_benchmark
    from seq2seq.limits import check_positive

    check_positive(("--sources", sources), ("--batch-size", batch_size),
                   ("--train-batches", train_batches), ("--rounds", rounds),
                   ("--threads", threads))
    if sources < batch_size:
        raise UserError(f"--sources: expected at least --batch-size ({batch_size}), got "
                        f"{sources}")
    click.echo(format_peer_table(run_peer_benchmark(sources, batch_size, train_batches,
                                                    rounds, threads, bf16)))


@bench.command("decode")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override the run's data settings, e.g. data.path=... (to find the data).")
@click.option("--split", type=click.Choice(["valid", "test"]), default="valid",
              show_default=True, help="The held-out sources to decode.")
@click.option("--beam", default=5, show_default=True, help="Beam size to time beside greedy.")
@click.option("--batch-size", default=256, show_default=True, help="Sentences per batch.")
@click.option("--threads", default=2, show_default=True, help="torch (and onnxruntime) threads.")
@click.option("--export/--no-export", "with_export", default=True, show_default=True,
              help="Also export the run (ONNX fp32 and int8) and time it against torch, "
                   "with the run's first eval metric for each.")
@click.option("--rounds", default=3, show_default=True,
              help="Timed rounds: each batched search, and each engine of the export "
                   "comparison (interleaved), keeps its fastest.")
@DEVICE
def bench_decode(run_dir, overrides, split, beam, batch_size, threads, with_export, rounds,
                 device) -> None:
    """Batched greedy and beam search vs one sentence at a time on RUN_DIR's held-out
    sources; then torch vs its ONNX export, fp32 and int8 (CPU)."""
    import tempfile

    from seq2seq.api import Translator
    from seq2seq.benchmarks.decode import (
        format_decode_table,
        format_engine_table,
        run_decode_benchmark,
        run_engine_comparison,
    )
    from seq2seq.benchmarks.timing import where
    from seq2seq.config import override_section
    from seq2seq.limits import check_positive
    from seq2seq.tasks.translation import load_splits

    _check_device(device)
    check_positive(("--rounds", rounds))
    if with_export and device != "cpu":
        raise UserError("--export: the export runs on the CPU; add --no-export with --device")
    translator = Translator.from_pretrained(run_dir, device=device)
    splits = load_splits(override_section(translator.recipe.data, "data", list(overrides)))
    pairs = getattr(splits, split)
    if not pairs:
        raise UserError(f"--split {split}: {run_dir}'s recipe holds out no {split} pairs")
    sentences = [pair.src for pair in pairs]
    rows = run_decode_benchmark(translator, sentences, (1, beam), batch_size, threads=threads,
                                rounds=rounds)
    click.echo(format_decode_table(rows, f"{run_dir}: {len(sentences):,} {split} sources, "
                                         f"{where(threads, device)}; batched: fastest of "
                                         f"{rounds}"))
    if with_export:
        metric = translator.recipe.eval.metrics[0]
        with tempfile.TemporaryDirectory() as work_dir:
            engines = run_engine_comparison(run_dir, pairs, metric, (1, beam), batch_size,
                                            threads, rounds, work_dir=work_dir)
        click.echo()
        click.echo(format_engine_table(engines, metric, f"torch vs its export: "
                                       f"{len(sentences):,} {split} sources, {threads} "
                                       f"threads, fastest of {rounds} interleaved rounds"))


@bench.command("keras")
@click.option("--data", "data_path", type=click.Path(path_type=Path), required=True,
              help="The Anki/Tatoeba fra.txt, e.g. ../shared/data/fra-eng/fra.txt.")
@click.option("--epochs", default=3, show_default=True, help="Epochs of each to time.")
@click.option("--threads", default=2, show_default=True, help="torch threads.")
def bench_keras(data_path, epochs, threads) -> None:
    """An epoch of the Keras lstm_seq2seq example vs one of fra-eng-keras, evaluation
    included (needs Keras 3: pip install keras)."""
    import importlib.util

    from seq2seq.benchmarks.keras_example import (
        KERAS_MISSING,
        format_keras_table,
        keras_epoch_seconds,
        our_epoch_seconds,
    )
    from seq2seq.runs import RECIPES

    if importlib.util.find_spec("keras") is None:
        raise UserError(KERAS_MISSING)
    theirs = keras_epoch_seconds(data_path, epochs, threads)
    ours = our_epoch_seconds(data_path, RECIPES, epochs, threads)
    click.echo(format_keras_table(theirs, ours, threads))


@bench.command("lengths")
@click.option("--lengths", "lengths", default="100,1000,10000", show_default=True,
              help="Comma-separated output lengths.")
@click.option("--beam", default=5, show_default=True, help="Beam size to time beside greedy.")
@click.option("--sentences", default=4, show_default=True, help="Sentences per batch.")
@click.option("--threads", default=2, show_default=True, help="torch threads.")
def bench_lengths(lengths, beam, sentences, threads) -> None:
    """Time per output token of greedy and beam search at growing output lengths."""
    from seq2seq.benchmarks.lengths import format_length_table, run_length_benchmark

    rows = run_length_benchmark(_ints(lengths, "--lengths"), (1, beam), sentences, threads)
    click.echo(format_length_table(rows, threads))


def _check_device(device: str) -> None:
    """``--device cuda`` where torch sees no CUDA device: a one-line error."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise click.BadParameter("cuda: torch sees no CUDA device here", param_hint="--device")


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}",
                                 param_hint=option) from None
    if not values or min(values) < 1:
        raise click.BadParameter(f"expected positive integers, got {text!r}", param_hint=option)
    return values
