"""A trained :class:`~seq2seq.models.encoder_decoder.EncoderDecoder` as two ONNX graphs.

The graphs are written node by node from the model's weights (no tracing), so that every
configuration a translation recipe can build maps onto ONNX's own recurrent operators,
whose variable-length handling (``sequence_lens``) is what packed sequences do in torch:

* ``encoder``: ``src (batch, src_time)`` int64 and ``src_lengths (batch,)`` -> the
  decoder's initial state, one ``(batch, units)`` tensor per layer and state (``h0``,
  ``c0``, ``h1`` ...), and with attention the encoder memory: ``memory_values (batch,
  src_time, memory)``, ``memory_keys`` and ``memory_mask`` (bool, True at real positions).
* ``decoder_step``: ``tokens (rows,)`` and the state -> ``log_probs (rows, vocab)`` and the
  next state (``h0_out`` ...). With attention it also takes the memory and ``memory_rows
  (rows,)``, the sentence each row reads, so that beam search indexes the encoder outputs
  instead of copying them once per beam; with input feeding, ``feed`` (the previous
  attentional vector) in and ``feed_out`` out.

ONNX orders an LSTM's gates i, o, f, c and takes the input and recurrent biases apart;
Keras (and this toolkit) order them i, f, c, o with one bias. A GRU's gates are z, r, h
in both, and ``reset_after`` is ONNX's ``linear_before_reset``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from seq2seq.core import Bidirectional
from seq2seq.models.encoder_decoder import EncoderDecoder
from seq2seq.runtime import manifest

OPSET = 17
FLOAT, INT64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()


@dataclass
class GraphBuilder:
    """Nodes, initializers, inputs and outputs of one graph, with generated names."""

    name: str
    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    renamed: dict = field(default_factory=dict)  # node output -> the graph output it is
    count: int = 0

    def fresh(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, array: np.ndarray, hint: str = "const") -> str:
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def ints(self, *values: int) -> str:
        return self.const(np.array(values, dtype=np.int64), "ints")

    def op(self, op_type: str, *inputs: str, outputs: int = 1, **attributes):
        names = [self.fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, **attributes))
        return names[0] if outputs == 1 else names

    def input(self, name: str, element: int, shape: list) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, element, shape))
        return name

    def output(self, name: str, value: str, element: int, shape: list) -> None:
        """Graph output ``name`` is ``value``: the node making it is renamed (an Identity
        would copy it every run), unless it is an input or already an output."""
        if value in self.renamed or value in {i.name for i in self.inputs}:
            self.nodes.append(helper.make_node("Identity", [value], [name]))
        else:
            self.renamed[value] = name
        self.outputs.append(helper.make_tensor_value_info(name, element, shape))

    def model(self, doc: str) -> onnx.ModelProto:
        for node in self.nodes:
            for names in (node.input, node.output):
                for index, name in enumerate(names):
                    names[index] = self.renamed.get(name, name)
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs,
                                  self.initializers, doc_string=doc)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="seq2seq")
        model.ir_version = 8  # readable by onnxruntime releases from 1.14 on
        return model


def _cells(layer) -> list:
    if isinstance(layer, Bidirectional):
        return [layer.forward_layer.cell, layer.backward_layer.cell]
    return [layer.cell]


def _onnx_weights(cells: list, cell_kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``W (dirs, gates*units, input)``, ``R (dirs, gates*units, units)``, ``B (dirs,
    2*gates*units)`` of ONNX's LSTM or GRU from our cells (one per direction)."""
    ws, rs, bs = [], [], []
    for cell in cells:
        weight_ih, weight_hh, units = _array(cell.weight_ih), _array(cell.weight_hh), cell.units
        if cell_kind == "lstm":
            order = [0, 3, 1, 2]  # ours i, f, c, o -> ONNX i, o, f, c

            def reorder(matrix, order=order, units=units):
                return np.concatenate([matrix[k * units:(k + 1) * units] for k in order])

            bias = _array(cell.bias)
            ws.append(reorder(weight_ih))
            rs.append(reorder(weight_hh))
            bs.append(np.concatenate([reorder(bias), np.zeros_like(bias)]))
        else:  # gru, reset_after: gates z, r, h in both; bias rows (input, recurrent)
            ws.append(weight_ih)
            rs.append(weight_hh)
            bias = _array(cell.bias)
            bs.append(np.concatenate([bias[0], bias[1]]))
    return np.stack(ws), np.stack(rs), np.stack(bs)


def _recurrence(g: GraphBuilder, cell_kind: str, layer, x: str, sequence_lens: str
                ) -> list[str]:
    """One encoder layer over ``x (time, batch, input)`` from zero states: ``[Y, Y_h(,
    Y_c)]`` as ONNX gives them (``Y (time, dirs, batch, units)``, states ``(dirs, batch,
    units)``)."""
    cells = _cells(layer)
    w, r, b = _onnx_weights(cells, cell_kind)
    direction = "bidirectional" if len(cells) == 2 else "forward"
    inputs = [x, g.const(w, "W"), g.const(r, "R"), g.const(b, "B"), sequence_lens]
    if cell_kind == "lstm":
        return g.op("LSTM", *inputs, outputs=3, hidden_size=cells[0].units, direction=direction)
    return g.op("GRU", *inputs, outputs=2, hidden_size=cells[0].units, direction=direction,
                linear_before_reset=1)


def _gru_step(g: GraphBuilder, cell, projected: str, h: str) -> str:
    """One GRU step (``reset_after``: gates z, r, h, the recurrent bias inside the reset)
    from its projected input ``(rows, 3 * units)`` (input bias included), with torch's
    formulas (:mod:`seq2seq.core.cells`); returns the new ``h``."""
    recurrent = g.const(_array(cell.weight_hh).T.copy(), "R")
    inner = g.op("Add", g.op("MatMul", h, recurrent), g.const(_array(cell.bias[1]), "bias"))
    x_z, x_r, x_h = g.op("Split", projected, g.ints(*[cell.units] * 3), outputs=3, axis=1)
    r_z, r_r, r_h = g.op("Split", inner, g.ints(*[cell.units] * 3), outputs=3, axis=1)
    z = g.op("Sigmoid", g.op("Add", x_z, r_z))
    r = g.op("Sigmoid", g.op("Add", x_r, r_r))
    candidate = g.op("Tanh", g.op("Add", x_h, g.op("Mul", r, r_h)))
    one = g.const(np.array(1.0, dtype=np.float32), "one")
    return g.op("Add", g.op("Mul", z, h), g.op("Mul", g.op("Sub", one, z), candidate))


def _lstm_step(g: GraphBuilder, inputs: list[str], kernel: np.ndarray, offsets: list[str],
               c: str) -> list[str]:
    """One LSTM step whose gates are ``[inputs...] @ kernel + offset`` (``kernel`` stacks
    the matrices of the concatenated ``inputs``, the recurrent one included; ``offsets``
    holds per gate i, f, c, o a bias or a looked-up input projection), gate by gate: four
    products, each with its offset added (onnxruntime fuses the pair into one Gemm), and
    no Split of a ``(rows, 4 * units)`` tensor (a full copy each step): 10% faster a step
    than one product and a Split (G2P's 2x256 decoder at 1,280 rows, fp32). Returns
    ``[h, c]``, with torch's gate order and formulas (:mod:`seq2seq.core.cells`)."""
    x = inputs[0] if len(inputs) == 1 else g.op("Concat", *inputs, axis=1)
    i, f, candidate, o = (g.op("Add", g.op("MatMul", x, g.const(weights.copy(), "W")), offset)
                          for weights, offset in zip(np.split(kernel, 4, axis=1), offsets))
    c = g.op("Add", g.op("Mul", g.op("Sigmoid", f), c),
             g.op("Mul", g.op("Sigmoid", i), g.op("Tanh", candidate)))
    return [g.op("Mul", g.op("Sigmoid", o), g.op("Tanh", c)), c]


def _input_bias(cell) -> np.ndarray:
    return _array(cell.bias[0] if cell.bias.dim() == 2 else cell.bias)


def _token_table(token_input) -> np.ndarray:
    """Rows looked up by token id: the embedding, or the identity (one-hot inputs)."""
    if token_input.embedding is not None:
        return _array(token_input.embedding.weight)
    return np.eye(token_input.vocab_size, dtype=np.float32)


def _linear(g: GraphBuilder, x: str, linear: torch.nn.Linear) -> str:
    """``x @ W.T + b`` over the last axis of ``x`` (any rank)."""
    y = g.op("MatMul", x, g.const(_array(linear.weight).T.copy(), "weight"))
    if linear.bias is not None:
        y = g.op("Add", y, g.const(_array(linear.bias), "bias"))
    return y


def state_names(model: EncoderDecoder) -> list[str]:
    """The decoder state's tensors in order: ``h0, c0, h1, c1 ...`` (GRU: ``h0, h1 ...``),
    by the rule the runtime checks a manifest with."""
    return manifest.state_names(model.config.cell, model.config.layers)


def memory_size(model: EncoderDecoder) -> int:
    """The size of each encoder output attention reads (a bidirectional encoder's two
    directions added, with ``bridge = "sum"``)."""
    if model.bridge is not None and model.config.bridge == "sum":
        return model.config.units
    return model.encoder.output_size


def encoder_graph(model: EncoderDecoder) -> onnx.ModelProto:
    config, cell_kind = model.config, model.config.cell
    g = GraphBuilder("encoder")
    src = g.input("src", INT64, ["batch", "src_time"])
    lengths = g.input("src_lengths", INT64, ["batch"])
    x = g.op("Gather", g.const(_token_table(model.src_input), "src_table"), src)
    x = g.op("Transpose", x, perm=[1, 0, 2])  # (time, batch, features)
    sequence_lens = g.op("Cast", lengths, to=TensorProto.INT32)
    final = []
    for layer in model.encoder.layers:
        y, *states = _recurrence(g, cell_kind, layer, x, sequence_lens)
        if isinstance(layer, Bidirectional):  # (time, 2, batch, units) -> (time, batch, 2u)
            x = g.op("Reshape", g.op("Transpose", y, perm=[0, 2, 1, 3]), g.ints(0, 0, -1))
        else:
            x = g.op("Squeeze", y, g.ints(1))
        final.append(states)
    for index, states in enumerate(final):
        names = state_names(model)[index * len(states):(index + 1) * len(states)]
        for kind, (state, name) in enumerate(zip(states, names)):
            directions = [g.op("Gather", state, g.const(np.array(d), "direction"), axis=0)
                          for d in range(2 if model.bridge is not None else 1)]
            if model.bridge is None:
                value = directions[0]
            elif model.bridge.projections is None:  # "sum"
                value = g.op("Add", *directions)
            else:
                value = _linear(g, g.op("Concat", *directions, axis=1),
                                model.bridge.projections[kind])
            g.output(name, value, FLOAT, ["batch", config.units])
    if model.attention is not None:
        outputs = g.op("Transpose", x, perm=[1, 0, 2])  # (batch, time, memory)
        if model.bridge is not None and config.bridge == "sum":
            forward, backward = g.op("Split", outputs, g.ints(config.units, config.units),
                                     outputs=2, axis=2)
            outputs = g.op("Add", forward, backward)
        projection = model.attention.key_projection
        keys = outputs if projection is None else _linear(g, outputs, projection)
        time = g.op("Gather", g.op("Shape", src), g.const(np.array(1), "axis"), axis=0)
        positions = g.op("Range", g.const(np.array(0), "zero"), time,
                         g.const(np.array(1), "one"))
        mask = g.op("Less", g.op("Unsqueeze", positions, g.ints(0)),
                    g.op("Unsqueeze", lengths, g.ints(1)))
        g.output("memory_values", outputs, FLOAT, ["batch", "src_time", memory_size(model)])
        g.output("memory_keys", keys, FLOAT, ["batch", "src_time", "key_size"])
        g.output("memory_mask", mask, BOOL, ["batch", "src_time"])
    return g.model("seq2seq encoder: source ids -> the decoder's initial state")


def decoder_step_graph(model: EncoderDecoder) -> onnx.ModelProto:
    config = model.config
    g = GraphBuilder("decoder_step")
    tokens = g.input("tokens", INT64, ["rows"])
    names = state_names(model)
    state = [g.input(name, FLOAT, ["rows", config.units]) for name in names]
    attention = model.attention
    if attention is not None:
        values = g.input("memory_values", FLOAT, ["sentences", "src_time", memory_size(model)])
        keys = g.input("memory_keys", FLOAT, ["sentences", "src_time", "key_size"])
        mask = g.input("memory_mask", BOOL, ["sentences", "src_time"])
        rows = g.input("memory_rows", INT64, ["rows"])
    feed = g.input("feed", FLOAT, ["rows", config.units]) if config.input_feeding else None
    # the first layer's input projection, looked up: for a token, (its one-hot vector or
    # embedding) @ kernel + bias is one row of table @ kernel + bias, computed here once
    first = model.decoder.layers[0].cell
    table = _token_table(model.tgt_input)
    kernel = _array(first.weight_ih).T  # (input, gates * units)
    width = table.shape[1]
    looked_up = table @ kernel[:width] + _input_bias(first)  # (vocab, gates * units)
    per_layer = len(names) // config.layers
    new_state: list[str] = []
    x = None
    for index, layer in enumerate(model.decoder.layers):
        cell = layer.cell
        layer_state = state[index * per_layer:(index + 1) * per_layer]
        if per_layer == 2:  # LSTM, gate by gate (see _lstm_step)
            h, c = layer_state
            recurrent = _array(cell.weight_hh).T
            if index == 0:
                offsets = [g.op("Gather", g.const(part.copy(), "P"), tokens)
                           for part in np.split(looked_up, 4, axis=1)]
                inputs, stacked = [h], recurrent
                if feed is not None:
                    inputs, stacked = [feed, h], np.concatenate([kernel[width:], recurrent])
            else:
                offsets = [g.const(part.copy(), "bias") for part in np.split(_input_bias(cell), 4)]
                inputs = [x, h]
                stacked = np.concatenate([_array(cell.weight_ih).T, recurrent])
            states = _lstm_step(g, inputs, stacked, offsets, c)
        else:  # GRU
            if index == 0:
                projected = g.op("Gather", g.const(looked_up, "P"), tokens)
                if feed is not None:
                    projected = g.op("Add", projected, g.op(
                        "MatMul", feed, g.const(kernel[width:].copy(), "W_feed")))
            else:
                projected = g.op("Add", g.op("MatMul", x, g.const(
                    _array(cell.weight_ih).T.copy(), "W")), g.const(_input_bias(cell), "bias"))
            states = [_gru_step(g, cell, projected, layer_state[0])]
        new_state += states
        x = states[0]
    top = x  # (rows, units)
    if attention is not None:
        row_values = g.op("Gather", values, rows, axis=0)
        row_keys = g.op("Gather", keys, rows, axis=0)
        row_mask = g.op("Unsqueeze", g.op("Gather", mask, rows, axis=0), g.ints(1))
        query = g.op("Unsqueeze", top, g.ints(1))  # (rows, 1, units)
        if attention.kind == "bahdanau":
            hidden = g.op("Tanh", g.op("Add", _linear(g, query, attention.query_projection),
                                       row_keys))  # (rows, src_time, units)
            scores = g.op("Transpose", _linear(g, hidden, attention.score_vector),
                          perm=[0, 2, 1])
        else:
            scores = g.op("MatMul", query, g.op("Transpose", row_keys, perm=[0, 2, 1]))
        scores = g.op("Where", row_mask, scores,
                      g.const(np.array(-np.inf, dtype=np.float32), "minus_inf"))
        weights = g.op("Softmax", scores, axis=-1)  # (rows, 1, src_time)
        context = g.op("Squeeze", g.op("MatMul", weights, row_values), g.ints(1))
        top = g.op("Tanh", _linear(g, g.op("Concat", context, top, axis=1), model.combine))
    log_probs = g.op("LogSoftmax", _linear(g, top, model.output), axis=-1)
    g.output("log_probs", log_probs, FLOAT, ["rows", model.output.out_features])
    for name, value in zip(names, new_state):
        g.output(f"{name}_out", value, FLOAT, ["rows", config.units])
    if feed is not None:
        g.output("feed_out", top, FLOAT, ["rows", config.units])
    return g.model("seq2seq decoder step: tokens and state -> log-probabilities, next state")


def beam_candidates_graph() -> onnx.ModelProto:
    """Beam search's ranking step, for the runtime: ``log_probs (rows, vocab)`` plus each
    row's ``scores (rows,)``, regrouped as ``shape`` says (``[sentences, -1]``), and the
    ``k`` best of each group (ties: lower index first, as ONNX's TopK does), with nan as
    ``-inf``. The same function as the search's NumPy fallback, at a fraction of its cost."""
    g = GraphBuilder("beam_candidates")
    log_probs = g.input("log_probs", FLOAT, ["rows", "vocab"])
    scores = g.input("scores", FLOAT, ["rows"])
    shape = g.input("shape", INT64, [2])
    k = g.input("k", INT64, [1])
    totals = g.op("Reshape", g.op("Add", g.op("Unsqueeze", scores, g.ints(1)), log_probs), shape)
    totals = g.op("Where", g.op("IsNaN", totals),
                  g.const(np.array(-np.inf, dtype=np.float32), "minus_inf"), totals)
    values, indices = g.op("TopK", totals, k, outputs=2, axis=1, largest=1, sorted=1)
    g.output("values", values, FLOAT, ["sentences", "k"])
    g.output("indices", indices, INT64, ["sentences", "k"])
    return g.model("seq2seq beam search: the k best extensions of each sentence's beam")
