"""``seq2seq import-keras``: a model saved by the Keras ``lstm_seq2seq`` example, as a run.

The example (keras.io/examples/nlp/lstm_seq2seq) trains an LSTM encoder whose final
``(h, c)`` starts an LSTM decoder with a softmax ``Dense`` on top, over one-hot
characters, and ends with ``model.save("s2s_model.keras")``. That file is a zip of
``config.json`` (the graph) and ``model.weights.h5`` (the weights), read here with
``json`` and ``h5py``: no Keras or TensorFlow is imported.

The example's character tables are not in the file; they are rebuilt from the same data
as the example builds them: the first ``num_samples`` lines of ``fra.txt``, each target
wrapped in ``"\\t"`` (start) and ``"\\n"`` (end), both sides' characters sorted. Its input
conventions are kept where they change the outputs: every source is padded with spaces to
the longest source length (the source tokenizer's ``pad_to``), and decoding stops at
``"\\n"`` or after the longest target length plus one characters. ``"\\t"`` and ``"\\n"``
become the target tokenizer's bos and eos; the toolkit's other special symbols (pad,
unk) get zero input weights and an output bias of -1e9, so that their probability is 0 to
float precision and the softmax over the example's characters is unchanged.

The result is an ordinary run directory (recipe, tokenizers, a checkpoint with a fresh
optimizer state): ``translate``, ``evaluate``, ``bench decode`` and ``train --resume``
work on it as on any run.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seq2seq.base.errors import UserError
from seq2seq.data.files import one_line
from seq2seq.tokenizers import BOS_ID, EOS_ID, GRAPHEME, SPECIALS, CharTokenizer

START, END = "\t", "\n"  # the example's target start and end characters
NO_PROBABILITY = -1e9  # output bias of the symbols the Keras model has no class for


@dataclass
class ExampleTables:
    """The example's character tables, rebuilt from its data."""

    input_texts: list[str]
    target_texts: list[str]  # with the start and end characters
    input_characters: list[str]  # sorted: index = the one-hot position
    target_characters: list[str]
    max_encoder_seq_length: int
    max_decoder_seq_length: int


@dataclass
class KerasSeq2Seq:
    """The example's graph and weights as NumPy arrays (Keras layouts)."""

    units: int
    source_size: int
    target_size: int
    encoder: list[np.ndarray]  # kernel, recurrent_kernel, bias
    decoder: list[np.ndarray]
    dense: list[np.ndarray]  # kernel (units, target_size), bias


def example_tables(data: Path, num_samples: int) -> ExampleTables:
    """What the example computes from ``data`` before training, line for line."""
    try:
        lines = data.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{data}: cannot read it: {one_line(error)}") from error
    input_texts, target_texts = [], []
    for number, line in enumerate(lines[: min(num_samples, len(lines) - 1)], start=1):
        fields = line.split("\t")  # the Anki file has an attribution column, older copies not
        if len(fields) not in (2, 3):
            raise UserError(f"{data}:{number}: expected english<TAB>french[<TAB>attribution], "
                            f"as the example reads it, got {len(fields)} fields")
        input_texts.append(fields[0])
        target_texts.append(START + fields[1] + END)
    if not input_texts:
        raise UserError(f"{data}: no lines to rebuild the example's tables from")
    for text in (*input_texts, *(t[1:-1] for t in target_texts)):
        if GRAPHEME.findall(text) != list(text):  # the toolkit reads graphemes, Keras chars
            raise UserError(f"{data}: {text!r} holds a character that combines with the "
                            f"next; the example reads it as several, this toolkit as one")
    return ExampleTables(
        input_texts, target_texts,
        sorted(set("".join(input_texts))), sorted(set("".join(target_texts))),
        max(len(t) for t in input_texts), max(len(t) for t in target_texts))


def read_keras_file(path: Path) -> KerasSeq2Seq:
    """The graph and weights of a ``.keras`` file of the example's shape; anything else is
    a :class:`UserError` naming what differs."""
    import h5py

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            weights_file = archive.read("model.weights.h5")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise UserError(f"{path}: not a Keras 3 .keras file (a zip of config.json and "
                        f"model.weights.h5): {one_line(error)}") from None
    layers = _check_graph(path, config)
    stored = _weight_groups(config["config"]["layers"])
    try:
        with h5py.File(io.BytesIO(weights_file), "r") as weights:
            def arrays(name: str, group: str) -> list[np.ndarray]:
                variables = weights[f"layers/{stored[name]}/{group}"]
                return [np.asarray(variables[str(i)]) for i in range(len(variables))]

            encoder = arrays(layers["encoder"]["name"], "cell/vars")
            decoder = arrays(layers["decoder"]["name"], "cell/vars")
            dense = arrays(layers["dense"]["name"], "vars")
    except (OSError, KeyError, ValueError) as error:
        raise UserError(f"{path}: model.weights.h5: {one_line(error)}") from None
    units = layers["encoder"]["config"]["units"]
    model = KerasSeq2Seq(units, encoder[0].shape[0], dense[0].shape[1], encoder, decoder, dense)
    expected = {"encoder": [(model.source_size, 4 * units), (units, 4 * units), (4 * units,)],
                "decoder": [(model.target_size, 4 * units), (units, 4 * units), (4 * units,)],
                "dense": [(units, model.target_size), (model.target_size,)]}
    for part, shapes in expected.items():
        got = [a.shape for a in getattr(model, part)]
        if got != shapes:
            raise UserError(f"{path}: the {part}'s weights have shapes {got}, expected {shapes}")
    return model


def _weight_groups(layers: list[dict]) -> dict[str, str]:
    """Layer name -> its group in ``model.weights.h5``: Keras stores a model's layers under
    their class's snake-case name, numbered per class in layer order (``lstm``,
    ``lstm_1``), whatever the layers were named."""
    counts: dict[str, int] = {}
    groups = {}
    for layer in layers:
        base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", layer["class_name"]).lower()
        count = counts.get(base, 0)
        counts[base] = count + 1
        groups[layer["name"]] = base if count == 0 else f"{base}_{count}"
    return groups


def _check_graph(path: Path, config: dict) -> dict[str, dict]:
    """The example's layers by role, or a UserError naming the first difference."""
    if config.get("class_name") != "Functional":
        raise UserError(f"{path}: a {config.get('class_name')!r} model; the example's is a "
                        "functional Model")
    layers = config.get("config", {}).get("layers", [])
    kinds = [layer.get("class_name") for layer in layers]
    other = [k for k in kinds if k not in ("InputLayer", "LSTM", "Dense")]
    if other:
        raise UserError(f"{path}: holds a {other[0]} layer; the example's graph is two inputs, "
                        f"an LSTM encoder, an LSTM decoder and a Dense softmax "
                        f"(layers here: {kinds})")
    if kinds.count("InputLayer") != 2 or kinds.count("LSTM") != 2 or kinds.count("Dense") != 1:
        raise UserError(f"{path}: layers {kinds}; the example's are two InputLayers, two "
                        f"LSTMs and one Dense")
    by_name = {layer["name"]: layer for layer in layers}

    def sources(layer: dict, key: str = "args") -> list[tuple[str, int]]:
        node = layer["inbound_nodes"][0]
        found = node["kwargs"].get(key, []) if key != "args" else node["args"]
        return [(t["config"]["keras_history"][0], t["config"]["keras_history"][2])
                for t in found]

    lstms = [layer for layer in layers if layer["class_name"] == "LSTM"]
    dense = next(layer for layer in layers if layer["class_name"] == "Dense")
    decoder = next((lstm for lstm in lstms
                    if lstm["inbound_nodes"][0]["kwargs"].get("initial_state")), None)
    if decoder is None:
        raise UserError(f"{path}: no LSTM starts from another's state; the example's decoder "
                        "starts from the encoder's final (h, c)")
    encoder = next(lstm for lstm in lstms if lstm is not decoder)
    if sources(decoder, "initial_state") != [(encoder["name"], 1), (encoder["name"], 2)]:
        raise UserError(f"{path}: the decoder starts from {sources(decoder, 'initial_state')}; "
                        f"the example's starts from the encoder's (h, c)")
    if sources(dense) != [(decoder["name"], 0)]:
        raise UserError(f"{path}: the Dense layer reads {sources(dense)}; the example's reads "
                        "the decoder's outputs")
    for role, layer, wanted in (("encoder", encoder, {"return_state": True}),
                                ("decoder", decoder, {"return_sequences": True})):
        settings = layer["config"]
        wanted = {**wanted, "activation": "tanh", "recurrent_activation": "sigmoid",
                  "use_bias": True, "go_backwards": False}
        for key, value in wanted.items():
            if settings.get(key) != value:
                raise UserError(f"{path}: the {role} LSTM has {key} = {settings.get(key)!r}; "
                                f"the example's has {value!r}")
        if by_name[sources(layer)[0][0]]["class_name"] != "InputLayer":
            raise UserError(f"{path}: the {role} LSTM reads {sources(layer)[0][0]!r}, not an "
                            "input (the example feeds one-hot characters straight in)")
    if encoder["config"]["units"] != decoder["config"]["units"]:
        raise UserError(f"{path}: encoder and decoder LSTMs of {encoder['config']['units']} and "
                        f"{decoder['config']['units']} units; the example's have one size")
    if dense["config"].get("activation") != "softmax":
        raise UserError(f"{path}: the Dense layer's activation is "
                        f"{dense['config'].get('activation')!r}; the example's is softmax")
    return {"encoder": encoder, "decoder": decoder, "dense": dense}


def tokenizers(tables: ExampleTables) -> tuple[CharTokenizer, CharTokenizer]:
    """Source: the example's characters, sources padded with spaces to the longest; target:
    its characters, "\\t" and "\\n" as bos and eos."""
    if " " not in tables.input_characters:
        raise UserError("the data's sources hold no space, which the example pads them with")
    source = CharTokenizer([*SPECIALS, *tables.input_characters],
                           pad_to=tables.max_encoder_seq_length, pad_symbol=" ")
    target = CharTokenizer([*SPECIALS, *(c for c in tables.target_characters
                                         if c not in (START, END))])
    return source, target


def target_ids(tables: ExampleTables, target: CharTokenizer) -> list[int]:
    """Our target id of each of the example's target classes, in its order."""
    ids = {symbol: i for i, symbol in enumerate(target.symbols)}
    return [BOS_ID if c == START else EOS_ID if c == END else ids[c]
            for c in tables.target_characters]


def load_weights(model, keras: KerasSeq2Seq, tables: ExampleTables, source: CharTokenizer,
                 target: CharTokenizer) -> None:
    """Copy the Keras weights into an :class:`EncoderDecoder` (one layer, one-hot inputs),
    rows and columns put in this toolkit's symbol order."""
    units = keras.units
    source_rows = [len(SPECIALS) + i for i in range(len(tables.input_characters))]
    target_rows = target_ids(tables, target)

    def spread(kernel: np.ndarray, rows: list[int], size: int) -> np.ndarray:
        full = np.zeros((size, kernel.shape[1]), dtype=np.float32)
        full[rows] = kernel
        return full

    encoder = model.encoder.layers[0]
    encoder.set_keras_weights([spread(keras.encoder[0], source_rows, len(source)),
                               keras.encoder[1], keras.encoder[2]])
    decoder = model.decoder.layers[0]
    decoder.set_keras_weights([spread(keras.decoder[0], target_rows, len(target)),
                               keras.decoder[1], keras.decoder[2]])
    weight = np.zeros((len(target), units), dtype=np.float32)
    bias = np.full(len(target), NO_PROBABILITY, dtype=np.float32)
    weight[target_rows] = keras.dense[0].T
    bias[target_rows] = keras.dense[1]
    with torch.no_grad():
        model.output.weight.copy_(torch.from_numpy(weight))
        model.output.bias.copy_(torch.from_numpy(bias))


def import_keras(model_path: Path, data: Path, num_samples: int, run_dir: Path,
                 log=print) -> Path:
    """Write ``run_dir`` from the example's ``.keras`` file and its data; returns the
    checkpoint written."""
    from seq2seq.config import find_recipe, load_recipe
    from seq2seq.runs import RECIPES, check_new_run_dir
    from seq2seq.tasks.translation import TranslationRecipe, TranslationTask, load_splits
    from seq2seq.trainer import Trainer

    check_new_run_dir(run_dir)
    keras = read_keras_file(model_path)
    tables = example_tables(data, num_samples)
    for side, model_size, table in (("source", keras.source_size, tables.input_characters),
                                    ("target", keras.target_size, tables.target_characters)):
        if model_size != len(table):
            raise UserError(f"{model_path}: the model has {model_size} {side} characters, the "
                            f"first {num_samples} lines of {data} give {len(table)}: import "
                            "with the data and --num-samples it was trained on")
    recipe = load_recipe(TranslationRecipe, find_recipe("fra-eng-keras", RECIPES), [
        f"data.path={data}", f"data.first={num_samples}", "data.normalize=none",
        f"model.units={keras.units}", "decode.max_len_ratio=0",
        f"decode.max_len_offset={decoding_limit(tables)}", "train.epochs=1"])
    source, target = tokenizers(tables)
    torch.manual_seed(recipe.train.seed)
    splits = load_splits(recipe.data)
    task = TranslationTask(recipe, splits, torch.device("cpu"), (source, target))
    load_weights(task.model, keras, tables, source, target)
    run_dir.mkdir(parents=True, exist_ok=True)
    task.save_extra(run_dir)
    path = Trainer(task, recipe.train, run_dir, log=lambda _m: None).save(best=True)
    log(f"imported {model_path} ({keras.units} units, {keras.source_size} source and "
        f"{keras.target_size} target characters) into {run_dir}")
    return path


def decoding_limit(tables: ExampleTables) -> int:
    """The example's ``decode_sequence`` writes characters until it writes "\\n" or its
    output is longer than ``max_decoder_seq_length``: at most that many plus one."""
    return tables.max_decoder_seq_length + 1
