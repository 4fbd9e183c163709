"""The translation commands: ``translate``, ``align``, ``export`` and ``import-keras`` (its
``train``, ``evaluate`` and ``summary`` are the task's: :mod:`seq2seq.tasks.translation`)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from seq2seq.base.errors import UserError
from seq2seq.cli.common import check_utf8, input_stream
from seq2seq.limits import MAX_SEED, check_positive

CHUNK_BATCHES = 8  # translate reads this many decoding batches of lines at a time


@click.command("translate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--input", "input_path", type=click.Path(path_type=Path),
              help="A file of source sentences, one per line (default: standard input).")
@click.option("--beam", type=int, help="Beam size (1: greedy).")
@click.option("--nbest", type=int,
              help="Hypotheses per sentence (at most the beam size; default: the run's "
                   "decode.nbest, at most --beam).")
@click.option("--alpha", type=float, help="GNMT length normalisation (0: raw log-prob).")
@click.option("--sample", is_flag=True,
              help="Draw each token from the model's distribution instead of searching.")
@click.option("--temperature", type=float, help="With --sample: softmax(logits / T).")
@click.option("--top-k", "top_k", type=int, help="With --sample: draw among the K most "
              "probable tokens.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED),
              help="With --sample: the random seed (repeatable draws).")
@click.option("--batch-size", type=int, help="Sentences per decoding batch.")
@click.option("--max-len-ratio", type=float, help="Output length limit, times the source's.")
@click.option("--max-input-len", type=int,
              help="Longest source, in tokens, that is translated; a longer line gets an "
                   "empty output line and a warning naming it (0: no limit). Default: 4 "
                   "times the longest training source of the run (1,000 for runs saved "
                   "without that figure).")
@click.option("--format", "output_format", type=click.Choice(["text", "jsonl"]), default="text",
              show_default=True, help="text: the best (or n-best, tab-separated) per line; "
              "jsonl: the source and its hypotheses with scores.")
@click.option("--attention", "with_attention", is_flag=True,
              help="With --format jsonl and a model with attention: each hypothesis's "
                   "attention matrix (source tokens, output tokens, weights).")
@click.option("--ensemble", "ensemble", multiple=True, metavar="RUN_DIR",
              type=click.Path(path_type=Path),
              help="Another run trained on the same data (the same tokenizers), decoding "
                   "together with RUN_DIR's model: each step takes the mean of the models' "
                   "log-probabilities (repeatable). RUN_DIR's decoding settings apply.")
def translate(run_dir, input_path, beam, nbest, alpha, sample, temperature, top_k, seed,
              batch_size, max_len_ratio, max_input_len, output_format, with_attention,
              ensemble) -> None:
    """Translate lines (stdin or --input) with RUN_DIR's best model, one output line each.

    RUN_DIR may also be what `seq2seq export` wrote: the export then translates through
    onnxruntime, without torch (greedy or beam search; no --sample, no --attention).
    Input is read as it comes, a few batches of lines at a time (fewer when no more input
    is ready: a line typed at a terminal is translated at once), and each chunk's
    translations are written, in input order, as soon as it is done: any input size
    runs in bounded memory. Lines are split on newlines only.
    """
    from seq2seq.data.files import chunks, stream_lines
    from seq2seq.runtime.manifest import is_export

    check_positive(("--beam", beam), ("--nbest", nbest), ("--batch-size", batch_size),
                   ("--top-k", top_k))
    if not sample:
        for name, value in (("--temperature", temperature), ("--top-k", top_k),
                            ("--seed", seed)):
            if value is not None:
                raise UserError(f"{name}: applies only with --sample")
    if with_attention and output_format != "jsonl":
        raise UserError("--attention: needs --format jsonl")
    if with_attention and ensemble:
        raise UserError("--attention: an ensemble has no one alignment (each member attends "
                        "its own way); use --attention with one run")
    if is_export(run_dir):
        from seq2seq.runtime.onnx_translator import OnnxTranslator

        for flag, given in (("--sample", sample), ("--attention", with_attention),
                            ("--ensemble", ensemble)):
            if given:
                raise UserError(f"{flag}: {run_dir} is an export, which searches (greedy or "
                                f"beam) with its one model and keeps no alignments; use its "
                                f"run directory")
        translator = OnnxTranslator(run_dir)
    else:
        from seq2seq.api import Translator

        translator = Translator.from_pretrained(run_dir, ensemble=ensemble)
    if with_attention and not translator.has_attention:
        raise UserError(f"--attention: {run_dir}'s model has no attention "
                        "(model.attention = \"none\")")
    if max_input_len is not None:
        if max_input_len < 0:
            raise UserError(f"--max-input-len: expected a value >= 0, got {max_input_len}")
        translator.max_input_len = max_input_len
    changes = {"sample": True, "beam_size": 1 if beam is None else beam} if sample else {}
    if nbest is None:  # the run's, within the beam this command searches with
        searched = changes.get("beam_size", beam or translator.search.beam_size)
        nbest = min(translator.search.nbest, searched)
    config = translator.search_config(
        {"beam_size": "--beam", "nbest": "--nbest", "alpha": "--alpha", "sample": "--sample",
         "temperature": "--temperature", "top_k": "--top-k", "batch_size": "--batch-size",
         "max_len_ratio": "--max-len-ratio"},
        **{"beam_size": beam, "nbest": nbest, "alpha": alpha, "temperature": temperature,
           "top_k": top_k, "batch_size": batch_size, "max_len_ratio": max_len_ratio, **changes})
    generator = None
    if seed is not None:
        import torch

        generator = torch.Generator().manual_seed(seed)
    stream, name = input_stream(input_path)
    number, untranslated = 0, 0
    for lines in chunks(stream_lines(stream, name, pauses=True),
                        CHUNK_BATCHES * config.batch_size):
        for line, translated in zip(lines, translator.translate_lines(lines, config, generator,
                                                                       with_attention)):
            number += 1
            if translated.untranslated:
                untranslated += 1
                reason = (f"{translated.source_tokens:,} source tokens, over --max-input-len "
                          f"{translator.max_input_len:,}"
                          if translated.untranslated == "too long" else
                          "the search found no hypothesis (decode.min_len and "
                          "decode.no_repeat_ngram forbid every output)")
                click.echo(f"warning: {name}:{number}: {reason}; empty output line", err=True)
            _write(line, translated.hypotheses, output_format, translated.untranslated)
        sys.stdout.flush()
    if not number:  # as a filter should, it writes nothing; it says so
        click.echo(f"warning: {name}: no input lines; nothing translated", err=True)
    if untranslated:
        click.echo(f"warning: {untranslated:,} of {number:,} line(s) left untranslated (empty "
                   "output lines)", err=True)
    if translator.source.unknown_count:
        click.echo(f"note: {translator.source.unknown_count} unknown source symbol(s) read as "
                   "<unk>", err=True)


def _write(line: str, hypotheses, output_format: str, untranslated: str = "") -> None:
    """One output line; in jsonl, a line left untranslated also says why ("too long",
    "no hypothesis"), as the warning on stderr does."""
    if output_format == "jsonl":
        record = {"source": line, "hypotheses": [
            {"text": h.text, "score": round(h.score, 4),
             "normalized_score": round(h.normalized_score, 4),
             **({"attention": dataclasses.asdict(h.attention)} if h.attention else {})}
            for h in hypotheses], **({"untranslated": untranslated} if untranslated else {})}
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write("\t".join(h.text for h in hypotheses) + "\n")


@click.command("align")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("text")
@click.option("--out", "out_path", type=click.Path(path_type=Path), default="align.png",
              show_default=True, help="The PNG to write (atomically).")
@click.option("--beam", type=int, help="Beam size (1: greedy; default: the run's).")
def align(run_dir, text, out_path, beam) -> None:
    """Draw the attention of RUN_DIR's model (one with attention) while it translates TEXT:
    a heatmap of source tokens x output tokens for the best hypothesis."""
    from seq2seq.api import Translator
    from seq2seq.reports.plots import plot_alignment

    check_positive(("--beam", beam))
    check_utf8(text, "TEXT")
    translator = Translator.from_pretrained(run_dir)
    if translator.model.attention is None:
        raise UserError(f"align: {run_dir}'s model has no attention (model.attention = "
                        "\"none\"); train one with model.attention = \"general\", say")
    best = translator.align(text, beam)
    plot_alignment(best.attention, out_path, title=best.text)
    click.echo(f"{best.text}\nwrote {out_path}")


@click.command("export")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="The export directory to write (replaced if it holds an earlier export).")
@click.option("--format", "export_format", type=click.Choice(["onnx"]), default="onnx",
              show_default=True, help="The graph format.")
@click.option("--quantize", type=click.Choice(["none", "int8"]), default="none",
              show_default=True, help="int8: dynamic int8 quantisation of the graphs' weights.")
def export(run_dir, out_dir, export_format, quantize) -> None:
    """Write RUN_DIR's best translation model as ONNX graphs with its tokenizers, decoding
    settings and a checksummed manifest: `seq2seq translate EXPORT_DIR` and
    seq2seq.runtime.OnnxTranslator translate with it, without torch."""
    from seq2seq.export import export_run

    export_run(run_dir, out_dir, quantize, log=click.echo)


@click.command("import-keras")
@click.argument("model_path", metavar="MODEL.keras", type=click.Path(path_type=Path))
@click.option("--data", "data_path", type=click.Path(path_type=Path), required=True,
              help="The data the example was trained on (fra.txt), to rebuild its tables.")
@click.option("--num-samples", default=10000, show_default=True,
              help="The example's num_samples: how many of the first lines it read.")
@click.option("--out", "run_dir", type=click.Path(path_type=Path), required=True,
              help="The run directory to write.")
def import_keras(model_path, data_path, num_samples, run_dir) -> None:
    """Turn a model saved by the Keras lstm_seq2seq example (model.save("s2s_model.keras"))
    into a run directory: translate, evaluate and beam search then work on its weights."""
    from seq2seq.keras_import import import_keras as run_import

    check_positive(("--num-samples", num_samples))
    run_import(model_path, data_path, num_samples, run_dir, log=click.echo)
