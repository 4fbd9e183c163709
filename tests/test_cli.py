"""The command line: version, help, and the core benchmark on a tiny configuration."""

from click.testing import CliRunner

from seq2seq import __version__
from seq2seq.cli import main


def test_version_and_help():
    runner = CliRunner()
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0 and "bench" in result.output


def test_bench_core_prints_ratios():
    result = CliRunner().invoke(main, ["bench", "core", "--time-steps", "4", "--units", "8",
                                       "--batch", "4", "--features", "5", "--rounds", "1"])
    assert result.exit_code == 0, result.output
    assert "torch.nn.LSTM" in result.output and "reference, lengths" in result.output
    assert "bf16 autocast vs fp32" in result.output


def test_bench_core_rejects_bad_lists():
    result = CliRunner().invoke(main, ["bench", "core", "--units", "a,b"])
    assert result.exit_code == 2 and "--units" in result.output
