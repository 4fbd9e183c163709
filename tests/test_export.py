"""seq2seq export and the torch-free runtime (seq2seq.runtime).

- every model configuration's graphs compute what the torch model computes;
- the runtime's NumPy search equals the torch search on every setting, both driven by
  the same torch model (so any difference is the search's own);
- an exported trained run translates as the run does, token for token, scores within
  1e-4, greedy and beam 5, through the API and `seq2seq translate EXPORT_DIR`;
- the runtime imports without torch and without the rest of the toolkit;
- a missing or altered file, a newer format, a run with no checkpoint: one-line errors.
"""

import dataclasses
import itertools
import json
import random
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from seq2seq.api import Translator
from seq2seq.errors import UserError
from seq2seq.export import export_run
from seq2seq.export.graphs import decoder_step_graph, encoder_graph, state_names
from seq2seq.models.encoder_decoder import EncoderDecoder, TranslatorConfig
from seq2seq.runtime import OnnxTranslator
from seq2seq.runtime import search as runtime_search
from seq2seq.search import SearchConfig, decode, greedy_search
from tests.helpers import PAIRS, assert_one_line_error, run_cli


def configurations():
    """Every combination a translation recipe's [model] table can build."""
    for cell, layers, embedding, bidirectional, bridge, attention, feeding in itertools.product(
            ["lstm", "gru"], [1, 2], [0, 8], [False, True], ["concat", "sum"],
            ["none", "dot", "general", "bahdanau"], [False, True]):
        if (not bidirectional and bridge == "sum") or (attention == "none" and feeding):
            continue
        if attention == "dot" and bidirectional and bridge == "concat":
            continue  # refused by TranslatorConfig.check
        yield TranslatorConfig(cell=cell, units=6, layers=layers, embedding=embedding,
                               bidirectional_encoder=bidirectional, bridge=bridge,
                               attention=attention, input_feeding=feeding)


def random_model(config: TranslatorConfig, sharpen: float = 1.0) -> EncoderDecoder:
    model = EncoderDecoder(config, 13, 17).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
        model.output.weight.mul_(sharpen)
    return model


def session(graph: onnx.ModelProto) -> onnxruntime.InferenceSession:
    onnx.checker.check_model(graph, full_check=True)
    return onnxruntime.InferenceSession(graph.SerializeToString(),
                                        providers=["CPUExecutionProvider"])


def run(sess, feeds):
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


@pytest.mark.parametrize("config", list(configurations()),
                         ids=lambda c: f"{c.cell}-{c.layers}-e{c.embedding}-"
                                       f"{'bi-' + c.bridge if c.bidirectional_encoder else 'uni'}-"
                                       f"{c.attention}{'-feed' if c.input_feeding else ''}")
def test_the_graphs_compute_what_the_model_computes(config):
    """Encoder states and memory on a padded batch (lengths 7, 4, 1), then two decoder
    steps fed back through the graph's own state: all within 1e-5 of torch."""
    model = random_model(config)
    encoder, step = session(encoder_graph(model)), session(decoder_step_graph(model))
    src = torch.randint(4, 13, (3, 7))
    lengths = torch.tensor([7, 4, 1])
    src[1, 4:], src[2, 1:] = 0, 0
    with torch.no_grad():
        state = model.encode(src, lengths)
        first, state_1 = model.step(torch.tensor([1, 5, 6]), state)
        second, _ = model.step(torch.tensor([7, 8, 9]), state_1)
    got = run(encoder, {"src": src.numpy(), "src_lengths": lengths.numpy()})
    layers = state if model.attention is None else state[:-1]
    for name, tensor in zip(state_names(model), [t for layer in layers for t in layer]):
        np.testing.assert_allclose(got[name], tensor.numpy(), atol=1e-5)
    feeds = {"tokens": np.array([1, 5, 6]), **{n: got[n] for n in state_names(model)}}
    if model.attention is not None:
        memory = state[-1][0]
        np.testing.assert_allclose(got["memory_values"], memory.values.numpy(), atol=1e-5)
        np.testing.assert_allclose(got["memory_keys"], memory.keys.numpy(), atol=1e-5)
        assert (got["memory_mask"] == memory.mask.numpy()).all()
        feeds |= {k: got[k] for k in ("memory_values", "memory_keys", "memory_mask")}
        feeds["memory_rows"] = np.arange(3)
    if config.input_feeding:
        feeds["feed"] = np.zeros((3, config.units), np.float32)
    out = run(step, feeds)
    np.testing.assert_allclose(out["log_probs"], first.log_softmax(-1).numpy(), atol=1e-5)
    feeds |= {"tokens": np.array([7, 8, 9]), **{n: out[f"{n}_out"] for n in state_names(model)}}
    if config.input_feeding:
        feeds["feed"] = out["feed_out"]
    out = run(step, feeds)
    np.testing.assert_allclose(out["log_probs"], second.log_softmax(-1).numpy(), atol=1e-5)


def test_memory_rows_index_the_encoder_outputs_instead_of_copies():
    """A step over rows (0, 0, 1) of a 2-sentence memory equals the step over a memory
    that holds those rows as copies."""
    config = TranslatorConfig(units=6, embedding=8, attention="general")
    model = random_model(config)
    encoder, step = session(encoder_graph(model)), session(decoder_step_graph(model))
    src, lengths = np.array([[5, 6, 7], [8, 9, 0]]), np.array([3, 2])
    memory = run(encoder, {"src": src, "src_lengths": lengths})
    rows = np.array([0, 0, 1])
    state = {n: memory[n][rows] for n in state_names(model)}
    names = ("memory_values", "memory_keys", "memory_mask")
    indexed = run(step, {"tokens": np.array([1, 4, 5]), **state, "memory_rows": rows,
                         **{k: memory[k] for k in names}})
    copied = run(step, {"tokens": np.array([1, 4, 5]), **state, "memory_rows": np.arange(3),
                        **{k: memory[k][rows] for k in names}})
    np.testing.assert_array_equal(indexed["log_probs"], copied["log_probs"])


# --- one search: the runtime's NumPy search against the torch search ------------------------

class TorchModelAsArrays:
    """A torch model behind the runtime search's protocol (NumPy state in, NumPy
    log-probabilities out): the runtime search then sees exactly the numbers the torch
    search sees, so the two must agree exactly."""

    def __init__(self, model: EncoderDecoder) -> None:
        self.model = model

    @torch.no_grad()
    def encode(self, src, src_lengths):
        state = self.model.encode(torch.from_numpy(src), torch.from_numpy(src_lengths))
        arrays, shared = {}, {}
        layers = state
        if self.model.attention is not None:
            *layers, extra = state
            shared["memory"] = extra[0]
            arrays["memory_rows"] = np.arange(src.shape[0])
            if len(extra) > 1:
                arrays["feed"] = extra[1].numpy()
        self.layout = [len(layer) for layer in layers]
        for index, layer in enumerate(layers):
            for kind, tensor in enumerate(layer):
                arrays[f"{index}.{kind}"] = tensor.numpy()
        return arrays, shared

    @torch.no_grad()
    def step(self, tokens, state, shared):
        layers = [tuple(torch.from_numpy(state[f"{i}.{k}"]) for k in range(n))
                  for i, n in enumerate(self.layout)]
        if self.model.attention is not None:
            memory = dataclasses.replace(shared["memory"],
                                         rows=torch.from_numpy(state["memory_rows"]))
            feed = (torch.from_numpy(state["feed"]),) if "feed" in state else ()
            layers.append((memory, *feed))
        logits, new = self.model.step(torch.from_numpy(tokens), layers)
        arrays = {f"{i}.{k}": t.numpy() for i, layer in enumerate(new[:len(self.layout)])
                  for k, t in enumerate(layer)}
        if self.model.attention is not None:
            arrays["memory_rows"] = state["memory_rows"]
            if "feed" in state:
                arrays["feed"] = new[-1][1].numpy()
        return logits.float().log_softmax(-1).numpy(), arrays


SETTINGS = [dict(beam_size=b, nbest=n, alpha=a, min_len=m, no_repeat_ngram=r,
                 max_len_ratio=ratio)
            for b, a, m, r, ratio in itertools.product([1, 2, 5], [0.0, 0.6], [0, 4], [0, 2],
                                                       [2.0, 0.4])
            for n in sorted({1, b})]


@pytest.mark.parametrize("attention", ["none", "general"])
def test_the_runtime_search_equals_the_torch_search_on_every_setting(attention):
    """Same n-best lists, token for token, and the same raw and normalised scores, for
    every combination of beam size, n-best, alpha, min_len, no_repeat_ngram and length
    limit (0.4 x the source + 10 cuts many outputs at their limit)."""
    config = TranslatorConfig(units=8, embedding=6, attention=attention,
                              input_feeding=attention != "none")
    model = random_model(config, sharpen=12.0)  # peaked: outputs end at many lengths
    generator = torch.Generator().manual_seed(3)
    lengths = torch.tensor([9, 7, 7, 5, 3, 1])
    src = torch.randint(4, 13, (6, 9), generator=generator)
    src[torch.arange(9) >= lengths[:, None]] = 0
    arrays = TorchModelAsArrays(model)
    ended_early = 0
    for settings in SETTINGS:
        search = SearchConfig(**settings)
        with torch.no_grad():
            expected = decode(model, src, lengths, 1, 2, search)
            got = runtime_search.decode(arrays, src.numpy(), lengths.numpy(), 1, 2, search)
        assert [[h.tokens for h in nbest] for nbest in got] == \
               [[h.tokens for h in nbest] for nbest in expected], settings
        for mine, theirs in zip(itertools.chain(*got), itertools.chain(*expected)):
            assert mine.score == pytest.approx(theirs.score, abs=1e-6), settings
            assert mine.normalized_score == pytest.approx(theirs.normalized_score, abs=1e-6)
        limits = runtime_search.max_lengths(lengths.numpy(), search)
        ended_early += sum(len(h.tokens) < limit - 1 for nbest, limit in zip(got, limits)
                           for h in nbest)
    assert ended_early > len(SETTINGS)  # the settings met outputs ending with eos
    # greedy search with alpha (decode runs beam search then): eos, padded after an output
    # stopped by its limit, is not counted in its length
    search = SearchConfig(alpha=0.6, max_len_ratio=0.4)
    with torch.no_grad():
        expected = greedy_search(model, src, lengths, 1, 2, search)
    got = runtime_search.greedy_search(arrays, src.numpy(), lengths.numpy(), 1, 2, search)
    assert [h.tokens for h in got] == [h.tokens for h in expected]
    assert [h.normalized_score for h in got] == pytest.approx(
        [h.normalized_score for h in expected], abs=1e-6)


def test_the_beam_candidates_graph_ranks_as_the_numpy_reference_does():
    """The export's add-and-TopK graph against the search's NumPy fallback, on scores with
    ties, -inf (empty slots, forbidden tokens) and nan: the same values and indices."""
    from seq2seq.export.graphs import beam_candidates_graph

    graph = session(beam_candidates_graph())
    rng = np.random.default_rng(0)
    for sentences, beam, vocab in ((1, 1, 5), (3, 2, 7), (16, 5, 40)):
        scores = rng.choice([0.0, -1.0, -np.inf], (sentences, beam)).astype(np.float32)
        log_probs = np.round(rng.normal(size=(sentences * beam, vocab)), 1).astype(np.float32)
        log_probs[rng.random(log_probs.shape) < 0.2] = -np.inf
        log_probs[0, 0] = np.nan
        k = min(2 * beam, beam * vocab)
        values, indices = graph.run(None, {
            "log_probs": log_probs, "scores": scores.reshape(-1),
            "shape": np.array([sentences, -1]), "k": np.array([k])})
        expected_values, expected_indices = runtime_search.beam_candidates(scores, log_probs, k)
        np.testing.assert_array_equal(values, expected_values)
        finite = np.isfinite(expected_values)  # which of several -inf comes first is moot
        np.testing.assert_array_equal(indices[finite], expected_indices[finite])


def test_the_runtime_search_leaves_a_sentence_with_no_hypothesis_empty():
    """min_len longer than the length limit forbids every output: [] from both."""
    model = random_model(TranslatorConfig(units=8, embedding=6))
    src, lengths = torch.tensor([[5, 6, 0], [7, 8, 9]]), torch.tensor([2, 3])
    for beam in (1, 3):
        search = SearchConfig(beam_size=beam, min_len=50, max_len_ratio=1.0, max_len_offset=1,
                              no_repeat_ngram=1)
        with torch.no_grad():
            expected = decode(model, src, lengths, 1, 2, search)
        got = runtime_search.decode(TorchModelAsArrays(model), src.numpy(), lengths.numpy(),
                                    1, 2, search)
        assert [[h.tokens for h in n] for n in got] == [[h.tokens for h in n] for n in expected]


# --- an exported trained run -----------------------------------------------------------

def sentences(count: int = 300, seed: int = 0) -> list[str]:
    """Source-like strings made of the training sources' characters (plus an unknown one,
    an empty line and a blank one)."""
    rng = random.Random(seed)
    alphabet = sorted({c for src, _ in PAIRS for c in src}) + ["é"]
    lines = [src for src, _ in PAIRS] + ["", "   "]
    while len(lines) < count:
        lines.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))))
    return lines


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "fra"
    export_run(trained_run, out, log=lambda _: None)
    return out


@pytest.mark.parametrize("beam", [1, 5])
def test_an_exported_run_translates_token_for_token_as_the_run_does(trained_run, exported,
                                                                     beam):
    texts = sentences()
    torch_side = Translator.from_pretrained(trained_run)
    onnx_side = OnnxTranslator(exported)
    expected = torch_side.translate(texts, beam=beam, nbest=beam, scores=True)
    got = onnx_side.translate(texts, beam=beam, nbest=beam, scores=True)
    assert [[t.text for t in nbest] for nbest in got] == \
           [[t.text for t in nbest] for nbest in expected]
    difference = max(abs(a.score - b.score) for a, b in
                     zip(itertools.chain(*got), itertools.chain(*expected)))
    assert difference < 1e-4
    assert onnx_side.source.unknown_count == torch_side.source.unknown_count > 0


def test_translate_reads_an_export_and_an_export_outlives_its_run(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    out = tmp_path / "export"
    result = run_cli("export", run, "--out", out)
    assert result.exit_code == 0, result.output
    texts = "\n".join(src for src, _ in PAIRS) + "\n"
    from_run = run_cli("translate", run, "--beam", "5", "--nbest", "2", "--format", "jsonl",
                   input=texts)
    shutil.rmtree(run)
    from_export = run_cli("translate", out, "--beam", "5", "--nbest", "2", "--format", "jsonl",
                      input=texts)
    assert from_export.exit_code == 0, from_export.output
    expected = [json.loads(line) for line in from_run.stdout.splitlines()]
    got = [json.loads(line) for line in from_export.stdout.splitlines()]
    assert len(got) == len(PAIRS)
    for mine, theirs in zip(got, expected):
        assert [h["text"] for h in mine["hypotheses"]] == \
               [h["text"] for h in theirs["hypotheses"]]
        for a, b in zip(mine["hypotheses"], theirs["hypotheses"]):
            assert a["score"] == pytest.approx(b["score"], abs=2e-4)  # both rounded to 1e-4


def test_translate_refuses_what_an_export_cannot_do(exported, trained_run):
    for flag, flags in (("--sample", ["--sample"]),
                        ("--attention", ["--format", "jsonl", "--attention"]),
                        ("--ensemble", ["--ensemble", str(trained_run)])):
        result = run_cli("translate", exported, *flags, input="Go.\n")
        assert_one_line_error(result, f"{flag}: {exported} is an export")
    with pytest.raises(UserError, match="sampling needs the run directory"):
        OnnxTranslator(exported).translate_lines(["Go."], SearchConfig(sample=True))


def test_the_export_keeps_the_runs_settings_and_input_limit(trained_run, exported):
    torch_side, onnx_side = Translator.from_pretrained(trained_run), OnnxTranslator(exported)
    assert onnx_side.search == torch_side.search
    assert onnx_side.max_input_len == torch_side.max_input_len > 0
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["vocabulary"] == {"source": len(torch_side.source),
                                      "target": len(torch_side.target)}
    assert manifest["opset"] == 17 and manifest["quantize"] == "none"
    assert set(manifest["files"]) == {p.name for p in exported.iterdir()} - {"manifest.json"}
    too_long = "a" * (onnx_side.max_input_len + 1)
    with pytest.warns(UserWarning, match="over max_input_len"):
        assert onnx_side.translate(["Go.", too_long])[1] == ""


def test_int8_quantisation_writes_int8_graphs_that_translate(trained_run, tmp_path, exported):
    out = tmp_path / "int8"
    result = run_cli("export", trained_run, "--out", out, "--quantize", "int8")
    assert result.exit_code == 0, result.output
    ops = {node.op_type for name in ("encoder.onnx", "decoder_step.onnx")
           for node in onnx.load(str(out / name)).graph.node}
    assert "DynamicQuantizeLSTM" in ops and ops & {"MatMulInteger", "DynamicQuantizeMatMul"}
    size = sum((out / n).stat().st_size for n in ("encoder.onnx", "decoder_step.onnx"))
    fp32 = sum((exported / n).stat().st_size for n in ("encoder.onnx", "decoder_step.onnx"))
    assert size < 0.6 * fp32
    translator = OnnxTranslator(out)
    assert json.loads((out / "manifest.json").read_text())["quantize"] == "int8"
    outputs = translator.translate([src for src, _ in PAIRS], beam=5)
    assert len(outputs) == len(PAIRS) and all(isinstance(o, str) for o in outputs)


# --- the runtime alone ---------------------------------------------------------------

def test_the_runtime_translates_without_torch_or_the_toolkit(exported):
    """In a fresh interpreter where importing torch fails, the runtime loads the export
    and translates; the only seq2seq modules it imported are the runtime's and the base's."""
    script = textwrap.dedent(f"""
        import sys

        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is not available here")
                return None

        sys.meta_path.insert(0, NoTorch())
        from seq2seq.runtime import OnnxTranslator

        translator = OnnxTranslator({str(exported)!r})
        print(translator.translate(["Go.", "I see."], beam=5))
        loaded = sorted(m for m in sys.modules if m == "seq2seq" or m.startswith("seq2seq."))
        print(",".join(loaded))
        print("torch" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    printed, modules, torch_loaded = result.stdout.strip().splitlines()
    assert printed.startswith("[") and torch_loaded == "False"
    assert all(m == "seq2seq" or m.startswith(("seq2seq.runtime", "seq2seq.base"))
               for m in modules.split(","))


# --- bad input -------------------------------------------------------------------------

@pytest.fixture
def export_copy(exported, tmp_path):
    copy = tmp_path / "export"
    shutil.copytree(exported, copy)
    return copy


def test_a_missing_or_altered_file_is_one_line(export_copy):
    graph = export_copy / "decoder_step.onnx"
    original = graph.read_bytes()
    data = bytearray(original)
    data[-1] ^= 1
    graph.write_bytes(bytes(data))
    result = run_cli("translate", export_copy, input="Go.\n")
    assert_one_line_error(result, "decoder_step.onnx: checksum mismatch")
    graph.write_bytes(original)
    (export_copy / "source.tokenizer.json").unlink()
    with pytest.raises(UserError, match=r"source.tokenizer.json: missing"):
        OnnxTranslator(export_copy)


def test_a_newer_format_or_a_broken_manifest_is_one_line(export_copy):
    path = export_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(manifest | {"format_version": 2}))
    result = run_cli("translate", export_copy, input="Go.\n")
    assert_one_line_error(result, "format_version 2 is newer than this runtime reads (1)")
    path.write_text(json.dumps(manifest | {"files": {"../x": "0"}}))
    with pytest.raises(UserError, match="outside the export directory"):
        OnnxTranslator(export_copy)
    path.write_text("{")
    with pytest.raises(UserError, match="corrupt export manifest"):
        OnnxTranslator(export_copy)


# The manifest has no checksum of its own: each field the runtime reads is checked, and
# the graphs' inputs and outputs against it (every edit below was a traceback from
# onnxruntime or a KeyError, or, for units, layers and cell, went unnoticed)
EDITED_FIELDS = [
    ({"graphs": None}, "graphs: expected an object naming the files of encoder, "
                       "decoder_step, beam_candidates, got None"),
    ({"graphs": {"encoder": "/etc/passwd", "decoder_step": "decoder_step.onnx",
                 "beam_candidates": "beam_candidates.onnx"}},
     "graphs: encoder: expected one of the files the manifest lists, got '/etc/passwd'"),
    ({"graphs": {"encoder": "decoder_step.onnx", "decoder_step": "decoder_step.onnx",
                 "beam_candidates": "beam_candidates.onnx"}},
     "state, attention, input_feeding: the graphs' encoder outputs are ['c0_out', 'c1_out', "
     "'h0_out', 'h1_out', 'log_probs'], these fields say ['c0', 'c1', 'h0', 'h1']"),
    ({"vocabulary": "x"}, "vocabulary: expected an object of the source and target "
                          "vocabulary sizes, got 'x'"),
    ({"state": ["h0"]}, "state: expected ['h0', 'c0', 'h1', 'c1'] (2 layers of lstm), "
                        "got ['h0']"),
    ({"layers": 1}, "state: expected ['h0', 'c0'] (1 layer of lstm), got"),
    ({"cell": ["lstm"]}, "cell: expected one of ['lstm', 'gru', 'rnn'], got ['lstm']"),
    ({"layers": 10**12}, "layers: expected a positive integer up to 1,024, got 1000000000000"),
    ({"cell": "gru"}, "state: expected ['h0', 'h1'] (2 layers of gru), got ['h0', 'c0', 'h1', "
                      "'c1']"),
    ({"units": "x"}, "units: expected a positive integer, got 'x'"),
    ({"units": 32}, "units: expected 16 (the graphs' state size), got 32"),
    ({"attention": 5}, "attention: expected one of ['none', 'dot', 'general', 'bahdanau']"),
    ({"attention": "dot"}, "state, attention, input_feeding: the graphs' encoder outputs are "
                           "['c0', 'c1', 'h0', 'h1'], these fields say ['c0', 'c1', 'h0', "
                           "'h1', 'memory_keys', 'memory_mask', 'memory_values']"),
    ({"input_feeding": True}, "input_feeding: expected true or false (false: it needs "
                              "attention), got True"),
]


@pytest.mark.parametrize("edit, message", EDITED_FIELDS,
                         ids=[",".join(edit) + str(i) for i, (edit, _) in
                              enumerate(EDITED_FIELDS)])
def test_an_edited_manifest_field_is_one_line_naming_it(export_copy, edit, message):
    path = export_copy / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | edit))
    result = run_cli("translate", export_copy, input="Go.\n")
    assert_one_line_error(result)
    assert result.output.startswith(f"Error: {path}: {message}"), result.output
    assert result.output.count("\n") == 1


def test_export_refuses_a_run_without_a_checkpoint_and_a_foreign_out(trained_run, tmp_path):
    empty = tmp_path / "no-run"
    empty.mkdir()
    result = run_cli("export", empty, "--out", tmp_path / "x")
    assert_one_line_error(result)
    assert "checkpoint" in result.output and not (tmp_path / "x").exists()
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    result = run_cli("export", trained_run, "--out", occupied)
    assert_one_line_error(result, "exists and is not an export")
    assert (occupied / "notes.txt").read_text() == "mine"
    # another program's manifest.json does not make a directory an export to replace
    (occupied / "manifest.json").write_text('{"name": "app"}')
    result = run_cli("export", trained_run, "--out", occupied)
    assert_one_line_error(result, "exists and is not an export")
    assert (occupied / "notes.txt").read_text() == "mine"
    for name in (".", ".."):
        result = run_cli("export", trained_run, "--out", name)
        assert_one_line_error(result, "expected the export directory's name")
    broken = tmp_path / "broken"
    broken.symlink_to(tmp_path / "nowhere")
    result = run_cli("export", trained_run, "--out", broken)
    assert_one_line_error(result, f"{broken}: a broken link")
    # under a file: the error named the hidden directory the export is built in
    (tmp_path / "a-file").write_text("")
    result = run_cli("export", trained_run, "--out", tmp_path / "a-file" / "x")
    assert_one_line_error(result)
    assert result.output == (f"Error: {tmp_path / 'a-file' / 'x'}: cannot write the export "
                             "there (Not a directory)\n")


def test_commands_that_need_a_run_directory_name_an_export_and_its_run(trained_run, exported,
                                                                      export_copy):
    """An export only translates: every command that needs the run directory (its
    checkpoint, recipe or data) says the directory is an export and names its run, rather
    than that no checkpoint or recipe was found."""
    said = f"{exported}: an export (seq2seq export), not a run directory"
    for command in (["evaluate", exported, "--split", "valid"],
                    ["align", exported, "Go.", "--out", exported.parent / "go.png"],
                    ["export", exported, "--out", exported.parent / "again"],
                    ["bench", "decode", exported], ["train", "--resume", exported],
                    ["translate", trained_run, "--ensemble", exported]):
        result = run_cli(*command, input="Go.\n")
        assert_one_line_error(result, said, f"exported from (its manifest says {trained_run})")
    assert not (exported.parent / "again").exists() and not (exported.parent / "go.png").exists()
    # a run trained into an export directory would be replaced whole by exporting again
    result = run_cli("train", "fra-eng", "--out", exported)
    assert_one_line_error(result, f"--out {exported}: holds an export")
    assert not (exported / "checkpoints").exists()
    with pytest.raises(UserError, match="an export"):
        Translator.from_pretrained(exported)
    (export_copy / "manifest.json").write_text("{", encoding="utf-8")  # broken: no origin
    result = run_cli("evaluate", export_copy, "--split", "valid")
    said = assert_one_line_error(result, f"{export_copy}: an export")
    assert said.endswith("exported from")


def test_exporting_again_replaces_an_earlier_export_whole(trained_run, exported, tmp_path):
    out = tmp_path / "again"
    shutil.copytree(exported, out)
    (out / "stray.txt").write_text("left from before")
    export_run(trained_run, out, "int8", log=lambda _: None)
    assert not (out / "stray.txt").exists()
    assert json.loads((out / "manifest.json").read_text())["quantize"] == "int8"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # --out a link to an earlier export: the link is replaced, its target kept, nothing left
    target, link = tmp_path / "target", tmp_path / "link"
    shutil.copytree(exported, target)
    link.symlink_to(target)
    export_run(trained_run, link, log=lambda _: None)
    assert link.is_dir() and not link.is_symlink() and (target / "manifest.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
