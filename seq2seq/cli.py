"""The ``seq2seq`` command line: one click group, a subcommand per job."""

from __future__ import annotations

import click

from seq2seq import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="seq2seq")
def main() -> None:
    """Character-level sequence learning on one Keras-exact recurrent core."""


@main.group()
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
def bench_core(batch, time_steps, units, features, threads, rounds, as_json) -> None:
    """Our LSTM (fused, reference, lengths, bf16) vs torch.nn.LSTM, tokens/s."""
    from seq2seq.benchmarks.core import format_core_table, results_json, run_core_benchmark

    results = run_core_benchmark(batch, _ints(time_steps, "--time-steps"), _ints(units, "--units"),
                                 features, threads, rounds)
    click.echo(results_json(results) if as_json else format_core_table(results, batch, features,
                                                                       threads))


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}",
                                 param_hint=option) from None
    if not values or min(values) < 1:
        raise click.BadParameter(f"expected positive integers, got {text!r}", param_hint=option)
    return values
