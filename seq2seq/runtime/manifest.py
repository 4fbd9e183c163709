"""An export directory's manifest: what is in it, and the checks that it is whole.

``manifest.json`` names the format version, the toolkit version and ONNX opset that
wrote it, the vocabulary sizes, the model's state and attention layout, the quantisation,
and the SHA-256 of every other file. Reading an export verifies all of them first: a
missing or altered file, or a format newer than this runtime reads, is a one-line
:class:`UserError`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from seq2seq.base.errors import UserError
from seq2seq.base.files import read_json_object

__all__ = ["DECODE_FILE", "FORMAT", "FORMAT_VERSION", "GRAPH_NAMES", "MANIFEST", "is_export",
           "read_manifest", "says_export", "sha256", "state_names"]

MANIFEST = "manifest.json"
DECODE_FILE = "decode.json"  # the decoding settings and the input limit
FORMAT = "seq2seq-export"
FORMAT_VERSION = 1  # raise it when a reader of the previous version would misread an export


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_export(directory: str | Path) -> bool:
    """Whether ``directory`` is an export (it has a manifest), not a run directory."""
    return (Path(directory) / MANIFEST).is_file()


def says_export(directory: str | Path) -> bool:
    """Whether ``directory``'s manifest names this format: what ``seq2seq export`` may
    replace (another program's ``manifest.json`` does not make a directory an export)."""
    try:
        return read_json_object(Path(directory) / MANIFEST, "manifest").get("format") == FORMAT
    except UserError:
        return False


def read_manifest(directory: str | Path) -> dict:
    """The manifest of an export directory, after checking its format and every file."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise UserError(f"{directory}: export directory not found")
    manifest = read_json_object(path, "export manifest")
    if manifest.get("format") != FORMAT:
        raise UserError(f"{path}: format: expected {FORMAT!r}, got {manifest.get('format')!r}")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise UserError(f"{path}: format_version: expected a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise UserError(f"{path}: format_version {version} is newer than this runtime reads "
                        f"({FORMAT_VERSION}); export it again with this version, or upgrade "
                        f"seq2seq (the export says {manifest.get('toolkit_version')!r})")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise UserError(f"{path}: files: expected an object of file names and checksums")
    for name, expected in files.items():
        file = directory / name
        if Path(name).is_absolute() or not file.resolve().is_relative_to(directory.resolve()):
            raise UserError(f"{path}: files: {name!r} is outside the export directory")
        if not file.is_file():
            raise UserError(f"{file}: missing (the export's manifest lists it)")
        if sha256(file) != expected:
            raise UserError(f"{file}: checksum mismatch: the file was changed after export "
                            f"(expected sha256 {str(expected)[:12]}...)")
    _check_layout(path, manifest)
    return manifest


GRAPH_NAMES = ("encoder", "decoder_step", "beam_candidates")
CELLS = {"lstm": ("h", "c"), "gru": ("h",), "rnn": ("h",)}  # each layer's state, in order
ATTENTION = ("none", "dot", "general", "bahdanau")
MAX_LAYERS = 1024  # as seq2seq.limits bounds a model's (this runtime imports no torch side)


def state_names(cell: str, layers: int) -> list[str]:
    """The decoder state's tensors in order, as the graphs name them: ``h0, c0, h1, c1 ...``
    (GRU, RNN: ``h0, h1 ...``)."""
    return [f"{kind}{layer}" for layer in range(layers) for kind in CELLS[cell]]


def _check_layout(path: Path, manifest: dict) -> None:
    """The fields the runtime reads (the manifest has no checksum of its own): a field of
    the wrong type, or that disagrees with the others, is an error naming it. The graphs'
    own inputs and outputs are checked against it when they load."""
    def field(name: str, expected: str, valid) -> object:
        value = manifest.get(name)
        if not valid(value):
            raise UserError(f"{path}: {name}: expected {expected}, got {value!r:.80}")
        return value

    def positive(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    graphs = field("graphs", f"an object naming the files of {', '.join(GRAPH_NAMES)}",
                   lambda v: isinstance(v, dict) and set(v) == set(GRAPH_NAMES))
    for name, file in graphs.items():
        if not isinstance(file, str) or file not in manifest["files"]:
            raise UserError(f"{path}: graphs: {name}: expected one of the files the manifest "
                            f"lists, got {file!r:.80}")
    cell = field("cell", f"one of {list(CELLS)}", lambda v: isinstance(v, str) and v in CELLS)
    layers = field("layers", f"a positive integer up to {MAX_LAYERS:,}",
                   lambda v: positive(v) and v <= MAX_LAYERS)
    field("units", "a positive integer", positive)
    state = state_names(cell, layers)
    field("state", f"{state} ({layers} layer{'s' * (layers > 1)} of {cell})",
          lambda v: v == state)
    field("attention", f"one of {list(ATTENTION)}",
          lambda v: isinstance(v, str) and v in ATTENTION)
    field("input_feeding", "true or false" + (" (false: it needs attention)"
                                              if manifest["attention"] == "none" else ""),
          lambda v: isinstance(v, bool) and (manifest["attention"] != "none" or not v))
    field("vocabulary", "an object of the source and target vocabulary sizes",
          lambda v: isinstance(v, dict) and set(v) == {"source", "target"}
          and all(positive(size) for size in v.values()))
