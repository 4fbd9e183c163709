"""``seq2seq export``: a trained translation run as one directory that translates without
torch (:mod:`seq2seq.runtime`).

An export holds the encoder and the one-step decoder as ONNX graphs
(:mod:`seq2seq.export.graphs`), both tokenizers, the run's decoding settings and input
limit (``decode.json``), and ``manifest.json`` (format and toolkit versions, opset,
vocabulary sizes, the state layout, the quantisation, and every file's SHA-256). The graphs
pass ``onnx.checker`` before anything is written, and the directory appears whole or not
at all: it is built beside ``--out`` and renamed into place.

``quantize="int8"`` applies onnxruntime's dynamic quantisation: weights stored as int8,
activations quantised on the fly, for the matrix products and LSTM recurrences
(``DynamicQuantizeLSTM``; onnxruntime has no int8 GRU, so a GRU's stays fp32).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import onnx

from seq2seq import __version__, checkpoint
from seq2seq.base.errors import UserError
from seq2seq.export.graphs import (
    OPSET,
    beam_candidates_graph,
    decoder_step_graph,
    encoder_graph,
    state_names,
)
from seq2seq.runtime.manifest import (
    DECODE_FILE,
    FORMAT,
    FORMAT_VERSION,
    GRAPH_NAMES,
    MANIFEST,
    says_export,
    sha256,
)

__all__ = ["QUANTIZATIONS", "export_run"]

QUANTIZATIONS = ("none", "int8")
GRAPHS = {name: f"{name}.onnx" for name in GRAPH_NAMES}  # the graphs the runtime reads
QUANTIZED = ("encoder", "decoder_step")  # the search graph has no weights


def export_run(run_dir: str | Path, out: str | Path, quantize: str = "none",
               log: Callable[[str], None] = print) -> Path:
    """Export ``run_dir``'s best checkpoint (or a checkpoint directory) to ``out``.

    ``out`` must not exist, be empty, or be an earlier export (which is replaced).
    Raises :class:`UserError` for a run with no checkpoint, a run of another task, or an
    ``out`` that holds something else.
    """
    from seq2seq.api import Translator

    if quantize not in QUANTIZATIONS:
        raise UserError(f"--quantize: expected one of {list(QUANTIZATIONS)}, got {quantize!r}")
    run_dir, out = Path(run_dir), Path(out)
    if out.name in ("", ".", ".."):
        raise UserError(f"--out {str(out)!r}: expected the export directory's name")
    if out.exists() and not (out.is_dir() and (says_export(out) or not any(out.iterdir()))):
        raise UserError(f"{out}: exists and is not an export; choose another --out")
    if out.is_symlink() and not out.exists():  # found only once the export was built
        raise UserError(f"{out}: a broken link; choose another --out")
    translator = Translator.from_pretrained(run_dir)
    model = translator.model
    graphs = {"encoder": encoder_graph(model), "decoder_step": decoder_step_graph(model),
              "beam_candidates": beam_candidates_graph()}
    for graph in graphs.values():
        onnx.checker.check_model(graph, full_check=True)
    building = out.with_name(f".{out.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    try:  # the export is built beside --out, then moved into place
        building.mkdir(parents=True)
    except OSError as error:
        raise UserError(f"{out}: cannot write the export there "
                        f"({error.strerror or error})") from None
    try:
        for name, graph in graphs.items():
            onnx.save(graph, str(building / GRAPHS[name]))
            if quantize == "int8" and name in QUANTIZED:
                _quantize_int8(building / GRAPHS[name])
        translator.source.save(building, "source")
        translator.target.save(building, "target")
        settings = {"search": dataclasses.asdict(translator.search),
                    "max_input_len": translator.max_input_len}
        (building / DECODE_FILE).write_text(json.dumps(settings, indent=1) + "\n",
                                            encoding="utf-8")
        config = model.config
        path = checkpoint.resolve(run_dir, "best")
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "toolkit_version": __version__,
            "opset": OPSET, "onnx_version": onnx.__version__, "quantize": quantize,
            "exported_from": {"run": str(run_dir), "checkpoint": path.name},
            "graphs": GRAPHS, "cell": config.cell, "units": config.units,
            "layers": config.layers, "state": state_names(model),
            "attention": config.attention, "input_feeding": config.input_feeding,
            "vocabulary": {"source": len(translator.source), "target": len(translator.target)},
            "files": {file.name: sha256(file) for file in sorted(building.iterdir())},
        }
        (building / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n",
                                         encoding="utf-8")
        _move_into_place(building, out)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    sizes = ", ".join(f"{GRAPHS[name]} {(out / GRAPHS[name]).stat().st_size / 1e6:.2f} MB"
                      for name in QUANTIZED)
    log(f"exported {path} to {out} ({quantize}; {sizes})")
    return out


def _quantize_int8(path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantized = path.with_name(path.stem + ".int8.onnx")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process applies to image models
    try:
        # the token tables stay fp32: a lookup gains nothing from int8 but a dequantisation
        quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gemm", "LSTM", "GRU"])
    finally:
        root.setLevel(level)
    os.replace(quantized, path)


def _move_into_place(building: Path, out: Path) -> None:
    """``building`` renamed to ``out``; an earlier export there goes only once the new one
    is in place."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(building, out)
    if old is not None and old.is_symlink():  # --out was a link: it goes, its target stays
        old.unlink()
    elif old is not None:
        shutil.rmtree(old, ignore_errors=True)
