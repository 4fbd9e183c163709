"""Attention in the translator: weights over real source positions only, stepping equal to
teacher forcing for every score with and without input feeding, the encoder memory's
row bookkeeping equal to copying, batch invariance, and the settings' errors. Search on
attention models is covered with the other models in tests/test_search.py."""

import itertools

import pytest
import torch

from seq2seq.errors import UserError
from seq2seq.models import attention as attention_module
from seq2seq.models.attention import Attention, EncoderMemory, additive_scores
from seq2seq.models.encoder_decoder import EncoderDecoder, TranslatorConfig
from seq2seq.search import repeat_state, select_state
from tests.helpers import assert_one_line_error, assert_steps_equal_teacher_forcing, run_cli

KINDS = ["dot", "general", "bahdanau"]
SRC = torch.tensor([[5, 6, 7, 8, 9], [9, 5, 0, 0, 0], [6, 7, 8, 0, 0]])
SRC_LENGTHS = torch.tensor([5, 2, 3])
TGT_IN = torch.tensor([[1, 3, 4, 5, 6, 3], [1, 6, 7, 0, 0, 0], [1, 4, 4, 4, 0, 0]])


def model_for(kind: str, input_feeding: bool, bidirectional: bool, cell: str = "lstm",
              seed: int = 0) -> EncoderDecoder:
    config = TranslatorConfig(cell=cell, units=8, layers=2, embedding=6, attention=kind,
                              input_feeding=input_feeding, bidirectional_encoder=bidirectional,
                              bridge="sum" if bidirectional and kind == "dot" else "concat")
    config.check()
    torch.manual_seed(seed)
    model = EncoderDecoder(config, src_vocab=12, tgt_vocab=10).eval()
    with torch.no_grad():  # peaked weights: a wrong position or row shows in the numbers
        for part in (model.src_input, model.tgt_input, model.encoder, model.decoder,
                     model.attention):
            for parameter in part.parameters():
                parameter.mul_(3.0)
    return model


VARIANTS = list(itertools.product(KINDS, [False, True], [False, True]))


@pytest.mark.parametrize("kind,input_feeding,bidirectional", VARIANTS)
def test_weights_sum_to_one_over_real_positions_and_are_zero_on_padding(
        kind, input_feeding, bidirectional):
    model = model_for(kind, input_feeding, bidirectional)
    weights = model.attention_weights(SRC, SRC_LENGTHS, TGT_IN)
    assert weights.shape == (3, 6, 5)
    for row, length in enumerate(SRC_LENGTHS.tolist()):
        assert torch.all(weights[row, :, length:] == 0)  # exactly, not nearly
        assert torch.all(weights[row, :, :length] > 0)
        torch.testing.assert_close(weights[row].sum(-1), torch.ones(6))
    # not uniform: the scores depend on the decoder's output and the source
    assert weights[0].std(-1).max() > 1e-2


@pytest.mark.parametrize("kind,input_feeding,bidirectional", VARIANTS)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_stepping_equals_teacher_forced_decoding(kind, input_feeding, bidirectional, cell):
    model = model_for(kind, input_feeding, bidirectional, cell)
    assert_steps_equal_teacher_forcing(model, SRC, SRC_LENGTHS, TGT_IN,
                                       model(SRC, SRC_LENGTHS, TGT_IN), atol=1e-6)


@pytest.mark.parametrize("kind,input_feeding,bidirectional", VARIANTS)
def test_a_sentence_attends_the_same_alone_or_in_a_padded_batch(kind, input_feeding,
                                                                bidirectional):
    model = model_for(kind, input_feeding, bidirectional)
    batched = model.attention_weights(SRC, SRC_LENGTHS, TGT_IN)
    logits = model(SRC, SRC_LENGTHS, TGT_IN)
    for row, length in enumerate(SRC_LENGTHS.tolist()):
        src = SRC[row : row + 1, :length]
        alone = model.attention_weights(src, SRC_LENGTHS[row : row + 1], TGT_IN[row : row + 1])
        torch.testing.assert_close(alone[0], batched[row, :, :length], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(model(src, SRC_LENGTHS[row : row + 1], TGT_IN[row : row + 1]),
                                   logits[row : row + 1], atol=1e-6, rtol=1e-5)


def plain_additive_scores(queries, keys, vector):
    """The textbook formula the fast function stands for."""
    return torch.tanh(queries[:, :, None] + keys[:, None]) @ vector


@pytest.mark.parametrize("rows", [100, 2, 1])  # sentences per chunk: all 5; 2, 2 and 1; 1
@pytest.mark.parametrize("time", [7, 1])  # teacher forcing; one step
def test_additive_scores_equal_the_plain_formula_forward_and_backward(rows, time,
                                                                     monkeypatch):
    # float64, so that the identity tanh(a) = 2 sigmoid(2a) - 1 and the chunked sums show
    # as what they are (equal to 1e-12), not as rounding; values large enough to saturate
    monkeypatch.setattr(attention_module, "ADDITIVE_CHUNK", rows * time * 6 * 4)
    generator = torch.Generator().manual_seed(0)
    queries = (3 * torch.randn(5, time, 4, generator=generator, dtype=torch.float64))
    keys = 3 * torch.randn(5, 6, 4, generator=generator, dtype=torch.float64)
    vector = torch.randn(4, generator=generator, dtype=torch.float64)
    grad = torch.randn(5, time, 6, generator=generator, dtype=torch.float64)
    results = []
    for function in (plain_additive_scores, additive_scores):
        inputs = [t.clone().requires_grad_() for t in (queries, keys, vector)]
        scores = function(*inputs)
        results.append((scores, *torch.autograd.grad(scores, inputs, grad)))
    for fast, plain in zip(results[1], results[0]):
        torch.testing.assert_close(fast, plain, rtol=1e-12, atol=1e-12)
    torch.autograd.gradcheck(additive_scores, [t.clone().requires_grad_() for t in
                                               (queries[:2, :3], keys[:2], vector)])


def test_additive_scores_in_float32_and_with_some_inputs_frozen():
    generator = torch.Generator().manual_seed(1)
    queries = torch.randn(3, 9, 16, generator=generator, requires_grad=True)
    keys = torch.randn(3, 5, 16, generator=generator)  # no gradient wanted
    vector = torch.randn(16, generator=generator, requires_grad=True)
    fast = additive_scores(queries, keys, vector)
    plain = plain_additive_scores(queries, keys, vector)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
    fast_grads = torch.autograd.grad(fast.square().sum(), [queries, vector])
    plain_grads = torch.autograd.grad(plain.square().sum(), [queries, vector])
    for a, b in zip(fast_grads, plain_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_bahdanau_attention_scores_through_its_own_parameters():
    attention = Attention("bahdanau", 8, 6)
    torch.manual_seed(2)
    outputs, queries = torch.randn(2, 4, 6), torch.randn(2, 3, 8)
    memory = attention.memory(outputs, torch.tensor([4, 2]))
    context, weights = attention(queries, memory)
    hidden = torch.tanh(attention.query_projection(queries)[:, :, None]
                        + attention.key_projection(outputs)[:, None])
    scores = attention.score_vector(hidden)[..., 0].masked_fill(~memory.mask[:, None], -1e30)
    torch.testing.assert_close(weights, scores.softmax(-1))
    torch.testing.assert_close(context, scores.softmax(-1) @ outputs)


def test_the_memory_selects_and_repeats_rows_like_the_tensors_it_stands_for():
    torch.manual_seed(0)
    attention = Attention("general", 4, 6)
    outputs = torch.randn(3, 5, 6)
    memory = attention.memory(outputs, torch.tensor([5, 2, 3]))
    assert memory.rows is None  # no copy and no index until search asks for one
    repeated = memory.repeat_interleave(2, 0)
    index = torch.tensor([5, 4, 0, 0, 3])
    selected = repeated.index_select(0, index)
    values, keys, mask = selected.per_row()
    expected_rows = torch.arange(3).repeat_interleave(2)[index]
    torch.testing.assert_close(values, outputs[expected_rows])
    torch.testing.assert_close(keys, attention.key_projection(outputs)[expected_rows])
    assert mask.tolist() == memory.mask[expected_rows].tolist()
    assert selected.values is memory.values  # the per-sentence tensors are never copied
    queries = torch.randn(5, 1, 4)
    context, weights = attention(queries, selected)
    copied = EncoderMemory(values, keys, mask)
    torch.testing.assert_close(attention(queries, copied), (context, weights))
    with pytest.raises(ValueError, match="dim"):
        memory.index_select(1, index)


def test_search_state_helpers_carry_the_memory_and_the_input_feed():
    model = model_for("bahdanau", True, True)
    state = model.encode(SRC, SRC_LENGTHS)
    memory, feed = state[-1]
    assert isinstance(memory, EncoderMemory) and feed.shape == (3, 8)
    index = torch.tensor([2, 2, 0])
    (moved_memory, moved_feed) = select_state(repeat_state(state, 2), index)[-1]
    assert moved_memory.rows.tolist() == [1, 1, 0] and moved_feed.shape == (3, 8)


def test_the_default_model_is_the_keras_design_unchanged():
    config = TranslatorConfig(units=8, embedding=6)
    torch.manual_seed(0)
    model = EncoderDecoder(config, 12, 10)
    assert model.attention is None and model.combine is None
    # the parameters of the model before attention existed, in the same creation order
    # (so the same seed initialises them the same way)
    assert [name for name, _ in model.named_parameters()] == [
        "src_input.embedding.weight", "tgt_input.embedding.weight",
        "encoder.layers.0.cell.weight_ih", "encoder.layers.0.cell.weight_hh",
        "encoder.layers.0.cell.bias", "decoder.layers.0.cell.weight_ih",
        "decoder.layers.0.cell.weight_hh", "decoder.layers.0.cell.bias",
        "output.weight", "output.bias"]
    assert model.decoder.input_size == 6
    assert len(model.encode(SRC, SRC_LENGTHS)) == 1  # one layer's (h, c), nothing more


def test_attention_parameters_are_added_after_the_baselines():
    torch.manual_seed(0)
    plain = EncoderDecoder(TranslatorConfig(units=8, embedding=6), 12, 10)
    torch.manual_seed(0)
    attending = EncoderDecoder(TranslatorConfig(units=8, embedding=6, attention="general"),
                               12, 10)
    for name, tensor in plain.state_dict().items():
        assert torch.equal(attending.state_dict()[name], tensor), name
    assert {"attention.key_projection.weight", "combine.weight"} <= set(attending.state_dict())
    feeding = EncoderDecoder(TranslatorConfig(units=8, embedding=6, attention="dot",
                                              input_feeding=True), 12, 10)
    assert feeding.decoder.input_size == 6 + 8


@pytest.mark.parametrize("changes,message", [
    ({"input_feeding": True}, "model.input_feeding: applies only with model.attention"),
    ({"attention": "luong"}, "model.attention: expected one of"),
    ({"attention": "dot", "bidirectional_encoder": True},
     'model.attention: "dot" needs encoder outputs of model.units'),
])
def test_bad_attention_settings_name_the_key(changes, message):
    with pytest.raises(UserError, match=message):
        TranslatorConfig(**changes).check()
    TranslatorConfig(attention="dot", bidirectional_encoder=True, bridge="sum").check()


def test_a_model_without_attention_has_no_weights_to_show():
    model = EncoderDecoder(TranslatorConfig(units=8), 12, 10)
    with pytest.raises(UserError, match="no attention"):
        model.attention_weights(SRC, SRC_LENGTHS, TGT_IN)


def test_attention_trains_under_bf16_autocast_wherever_the_core_does():
    model = model_for("bahdanau", True, True).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(SRC, SRC_LENGTHS, TGT_IN)
    logits.float().sum().backward()
    assert all(p.grad is not None for p in model.parameters())


# --- alignments from the command line and the API -----------------------------------------

@pytest.fixture(scope="module")
def attention_run(tmp_path_factory):

    from tests.helpers import FAST, PAIRS

    data = tmp_path_factory.mktemp("data") / "pairs.txt"
    data.write_text("".join(f"{src}\t{tgt}\n" for src, tgt in PAIRS), encoding="utf-8")
    run = tmp_path_factory.mktemp("runs") / "attention"
    result = run_cli("train", "fra-eng", *FAST, "--set", f"data.path={data}", "--set",
                     "model.attention=bahdanau", "--set", "model.input_feeding=true", "--out",
                     str(run))
    assert result.exit_code == 0, result.output
    return run


def test_translate_jsonl_attention_is_what_the_search_saw(attention_run):
    import json

    from seq2seq.api import Translator

    result = run_cli("translate", str(attention_run), "--format", "jsonl", "--attention",
                 "--beam", "1", input="Go.\nI see.\n")
    assert result.exit_code == 0, result.output
    translator = Translator.from_pretrained(attention_run)
    model, source, target = translator.model, translator.source, translator.target
    for record in map(json.loads, result.stdout.splitlines()):
        (hypothesis,) = record["hypotheses"]
        alignment = hypothesis["attention"]
        assert alignment["source"] == list(record["source"])  # character tokens
        ids = source.encode(record["source"])
        # greedy, step by step, keeping the weights each step used
        state = model.encode(torch.tensor([ids]), torch.tensor([len(ids)]))
        token, seen, written = torch.tensor([target.bos_id]), [], []
        limit = int(len(ids) * translator.search.max_len_ratio) + translator.search.max_len_offset
        with torch.no_grad():
            for _ in range(limit):
                logits, state, weights = model.decode_with_weights(token[:, None], state)
                seen.append(weights[0, 0].tolist())
                token = logits[:, 0].argmax(-1)
                if token.item() == target.eos_id:
                    break
                written.append(token.item())
        assert hypothesis["text"] == target.decode(written)
        ended = len(written) < limit
        assert alignment["output"] == [target.decode([t]) for t in written] + (
            ["</s>"] if ended else [])
        assert len(alignment["weights"]) == len(seen[: len(alignment["output"])])
        for row, expected in zip(alignment["weights"], seen):
            assert row == pytest.approx(expected, abs=1e-4)
            assert sum(row) == pytest.approx(1.0, abs=1e-3)


def test_nbest_hypotheses_each_carry_their_own_alignment(attention_run):
    import json

    result = run_cli("translate", str(attention_run), "--format", "jsonl", "--attention",
                 "--beam", "3", "--nbest", "3", input="Help!\n")
    assert result.exit_code == 0, result.output
    (record,) = map(json.loads, result.stdout.splitlines())
    assert len(record["hypotheses"]) == 3
    for hypothesis in record["hypotheses"]:
        rows = hypothesis["attention"]["output"]
        assert "".join(rows).removesuffix("</s>") == hypothesis["text"]


def test_align_draws_a_png_and_bad_requests_are_one_line(attention_run, tmp_path,
                                                         trained_run_without_attention):
    from seq2seq.api import Translator

    out = tmp_path / "plots" / "align.png"
    result = run_cli("align", str(attention_run), "I see.", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["align.png"]  # no temporary left
    best = Translator.from_pretrained(attention_run).align("I see.")
    assert result.stdout.splitlines()[0] == best.text
    assert len(best.attention.weights[0]) == len("I see.")
    for arguments, message in [
        (["align", str(attention_run), "  "], "align: expected a sentence, got an empty one"),
        (["align", str(trained_run_without_attention), "Go."], "model has no attention"),
        (["translate", str(attention_run), "--attention"], "--attention: needs --format jsonl"),
        (["translate", str(trained_run_without_attention), "--format", "jsonl",
          "--attention"], "--attention: "),
        # bytes that are not UTF-8 in the argument, as a shell passes them (surrogate
        # escapes); in an input file they are an error naming the line
        (["align", str(attention_run), "I \udcff see."], "TEXT: expected UTF-8 text, got "
                                                          "byte 0xff"),
        (["align", str(attention_run), "I see.", "--out", str(tmp_path)],
         f"{tmp_path}: exists and is not a regular file"),
        (["align", str(attention_run), "I see.", "--out", ""], "expected a file name"),
    ]:
        bad = run_cli(*arguments, input="Go.\n")
        assert_one_line_error(bad, message)


def test_align_searches_for_the_best_hypothesis_whatever_the_run_decodes_with(attention_run):
    """A run decoding n-best lists (decode.nbest 3) or sampling (decode.sample) made
    align --beam 1 an error (nbest over the beam) or a random draw; align draws the best
    hypothesis, searched for."""
    import dataclasses

    from seq2seq.api import Translator

    translator = Translator.from_pretrained(attention_run)
    greedy = translator.translate(["I see."], beam=1)[0]
    beam = translator.translate(["I see."], beam=3)[0]
    run_settings = translator.search
    for decode in (dict(beam_size=5, nbest=3), dict(sample=True, temperature=0.7, top_k=3)):
        translator.search = dataclasses.replace(run_settings, **decode)
        assert translator.align("I see.", beam=1).text == greedy
        assert translator.align("I see.", beam=3).text == beam
    assert translator.align("I see.").text == greedy  # the sampling run's own beam: 1


@pytest.fixture
def trained_run_without_attention(trained_run):
    return trained_run
