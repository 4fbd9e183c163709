"""Fill-in-the-blank: blanks, data sources, the two readers, search, the commands (seconds)."""

import itertools
import json
import math
import re

import datasets
import pytest
import torch

from seq2seq.config import find_recipe, from_mapping, load_recipe
from seq2seq.data.fill import (
    BLANK,
    WORD,
    BlankDataConfig,
    blank_sentences,
    embedded_sentences,
    load_blank_splits,
    mark_blank,
    show,
)
from seq2seq.errors import UserError
from seq2seq.models.filler import BlankFiller, BlankFillerConfig
from seq2seq.runs import RECIPES as RECIPES_DIR
from seq2seq.runs import load_run
from seq2seq.search import SearchConfig, decode, greedy_search
from seq2seq.tasks.fill import FillRecipe
from tests.helpers import assert_one_line_error, assert_steps_equal_teacher_forcing, run_cli

SENTENCES = [f"{who} {verb} {what}." for who, verb, what in itertools.product(
    ["The cat", "A dog", "My sister", "The old man", "Our teacher"],
    ["sees", "likes", "finds", "paints", "wants"],
    ["the red ball", "a small house"])]  # 50 sentences
CHINESE = "我们今天去公园散步，天气很好。"

BLANK_ID, VOCAB = 11, 12
CONFIGS = {
    "lstm-both": BlankFillerConfig(units=8, embedding=6),
    "gru-forward-2-layers": BlankFillerConfig(cell="gru", units=8, layers=2, embedding=6,
                                              direction="forward", dropout=0.1),
    "lstm-backward-one-hot-sum": BlankFillerConfig(units=8, direction="backward", bridge="sum",
                                                   embedding=0),
    "lstm-both-2-layers": BlankFillerConfig(units=8, layers=2, embedding=6),
}


# --- blanks ----------------------------------------------------------------------------------
def test_blanks_are_deterministic_and_always_one_whole_word():
    blanks = blank_sentences(SENTENCES, seed=3)
    assert blanks == blank_sentences(SENTENCES, seed=3)
    assert blanks != blank_sentences(SENTENCES, seed=4)
    for sentence, blanked in zip(SENTENCES, blanks):
        assert blanked.text.count(BLANK) == 1 and blanked.sentence == sentence
        assert WORD.fullmatch(blanked.answer)
        before, after = blanked.text.split(BLANK)
        assert not before[-1:].isalnum() and not after[:1].isalnum()
    assert {b.answer for b in blank_sentences(["I don't know."] * 30, 0)} == {"I", "don't", "know"}


def test_text_without_spaces_gets_a_span_of_one_to_four_characters():
    blanks = blank_sentences([CHINESE] * 200, seed=0)
    assert {len(b.answer) for b in blanks} == {1, 2, 3, 4}
    for blanked in blanks:
        assert blanked.sentence == CHINESE and blanked.text.count(BLANK) == 1
        assert "，" not in blanked.answer and "。" not in blanked.answer
    assert {b.answer for b in blank_sentences(["好。"] * 10, 0)} == {"好"}


def test_a_person_writes_exactly_one_blank():
    assert mark_blank(" I ____ you. ", "____", "line 1") == f"I {BLANK} you."
    with pytest.raises(UserError, match=r"^line 3: no blank '____' in 'I see you\.'; expected "
                                        r"exactly one"):
        mark_blank("I see you.", "____", "line 3")
    with pytest.raises(UserError, match=r"^line 1: 2 blanks '____' in"):
        mark_blank("I ____ ____.", "____", "line 1")


# --- data ------------------------------------------------------------------------------------
def test_sentences_from_a_text_file_a_tsv_column_and_a_hub_directory(tmp_path):
    text = tmp_path / "sentences.txt"
    text.write_text("\n".join(SENTENCES[:10] + ["", SENTENCES[0], "Has ____ in it."]) + "\n",
                    encoding="utf-8")
    splits = load_blank_splits(BlankDataConfig(path=str(text), valid_fraction=0.2))
    assert sorted(splits.train + [b.sentence for b in splits.valid]) == sorted(SENTENCES[:10])
    assert len(splits.valid) == 2 and splits.dropped == 2  # the repeat and the marker

    pairs = tmp_path / "fra.txt"
    pairs.write_text("Go.\tVa !\tCC-BY\nGo.\tMarche.\nI see it.\tJe le vois.\n"
                     "We ran home.\tNous avons couru.\n", encoding="utf-8")
    english = load_blank_splits(BlankDataConfig(path=str(pairs), valid_fraction=0.3))
    assert sorted(english.train + [b.sentence for b in english.valid]) == [
        "Go.", "I see it.", "We ran home."]
    french = load_blank_splits(BlankDataConfig(path=str(pairs), column=1, valid_fraction=0.3))
    assert "Je le vois." in french.train + [b.sentence for b in french.valid]
    with pytest.raises(UserError, match=r"fra\.txt:2: data\.column=2 needs 3 tab-separated "
                                        r"columns, got 2"):
        load_blank_splits(BlankDataConfig(path=str(pairs), column=2))

    hub = tmp_path / "hub"
    (hub / "data").mkdir(parents=True)
    datasets.Dataset.from_dict({"sentence": SENTENCES[:10], "id": list(range(10))}).to_parquet(
        str(hub / "data" / "train-00000-of-00001.parquet"))
    splits = load_blank_splits(BlankDataConfig(hf=str(hub), text_field="sentence"))
    assert len(splits.train) == 9 and len(splits.valid) == 1 and "hub dataset" in splits.source
    with pytest.raises(UserError, match=r"no field 'text' \(data\.text_field\); fields: "
                                        r"\['id', 'sentence'\]"):
        load_blank_splits(BlankDataConfig(hf=str(hub)))


def test_the_held_out_set_is_fixed_by_the_seed(tmp_path):
    path = tmp_path / "sentences.txt"
    path.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    config = BlankDataConfig(path=str(path), valid_fraction=0.2, seed=5)
    first, again = load_blank_splits(config), load_blank_splits(config)
    assert first.valid == again.valid and first.train == again.train
    assert len(first.valid) == 10 and not {b.sentence for b in first.valid} & set(first.train)
    other = load_blank_splits(BlankDataConfig(path=str(path), valid_fraction=0.2, seed=6))
    assert other.valid != first.valid


def test_the_embedded_corpus_is_prose_that_python_ships():
    sentences = embedded_sentences()
    assert len(set(sentences)) > 500
    for sentence in sentences:
        assert re.fullmatch(r"[A-Z\"“].*[.?!]", sentence) and len(sentence.split()) >= 4
    assert any("interpreter" in sentence for sentence in sentences)


@pytest.mark.parametrize("name", ["fill-demo", "fill-eng"])
def test_shipped_recipes_load(name):
    recipe = load_recipe(FillRecipe, find_recipe(name, RECIPES_DIR))
    assert recipe.decode.max_len_ratio == 0.0 and recipe.data.valid_fraction > 0


def test_recipes_are_strict():
    with pytest.raises(UserError, match=r"data\.path, data\.hf, data\.embedded: set one of them, "
                                        r"got path and embedded"):
        load_blank_splits(BlankDataConfig(path="x.txt", embedded=True))
    with pytest.raises(UserError, match=r"model\.direction: expected one of \['both', "
                                        r"'forward', 'backward'\], got 'left'"):
        from_mapping(FillRecipe, {"model": {"direction": "left"}})
    with pytest.raises(UserError, match=r"tokenizer\.kind: .* expected 'char'"):
        from_mapping(FillRecipe, {"tokenizer": {"kind": "words"}})
    with pytest.raises(UserError, match=r"data\.colum: unknown key"):
        from_mapping(FillRecipe, {"data": {"colum": 0}})


# --- the model -------------------------------------------------------------------------------
def toy_batch():
    src = torch.tensor([[5, 6, BLANK_ID, 7, 8], [BLANK_ID, 9, 5, 0, 0], [6, 7, 8, BLANK_ID, 0]])
    lengths = torch.tensor([5, 3, 4])
    tgt_in = torch.tensor([[1, 4, 5, 6], [1, 7, 0, 0], [1, 8, 9, 0]])
    return src, lengths, tgt_in


def model_for(name: str) -> BlankFiller:
    return BlankFiller(CONFIGS[name], VOCAB, BLANK_ID).eval()


@pytest.mark.parametrize("name", CONFIGS)
def test_encode_and_step_equal_teacher_forced_decoding(name):
    model = model_for(name)
    src, lengths, tgt_in = toy_batch()
    logits = model(src, lengths, tgt_in)
    assert logits.shape == (3, 4, VOCAB)
    assert_steps_equal_teacher_forcing(model, src, lengths, tgt_in, logits)


@pytest.mark.parametrize("name", CONFIGS)
def test_a_padded_batch_gives_each_sentence_what_it_gets_alone(name):
    model = model_for(name)
    src, lengths, tgt_in = toy_batch()
    batch_logits = model(src, lengths, tgt_in)
    for row in range(3):
        n = int(lengths[row])
        alone = model(src[row:row + 1, :n], lengths[row:row + 1], tgt_in[row:row + 1])
        torch.testing.assert_close(alone[0], batch_logits[row], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_one_sided_model_does_not_see_the_other_side(cell):
    left = [5, 6, 7]
    right_a, right_b = [8, 9], [9, 9, 5, 6]
    left_b = [10, 4]
    tgt_in = torch.tensor([[1, 4, 5]])

    def logits(model, before, after):
        ids = torch.tensor([[*before, BLANK_ID, *after]])
        return model(ids, torch.tensor([ids.shape[1]]), tgt_in)

    models = {direction: BlankFiller(BlankFillerConfig(cell=cell, units=8, embedding=6,
                                                       direction=direction), VOCAB, BLANK_ID)
              .eval() for direction in ("both", "forward", "backward")}
    forward, backward, both = models["forward"], models["backward"], models["both"]
    torch.testing.assert_close(logits(forward, left, right_a), logits(forward, left, right_b))
    torch.testing.assert_close(logits(backward, left, right_a), logits(backward, left_b, right_a))
    assert not torch.allclose(logits(forward, left, right_a), logits(forward, left_b, right_a))
    assert not torch.allclose(logits(backward, left, right_a), logits(backward, left, right_b))
    assert not torch.allclose(logits(both, left, right_a), logits(both, left, right_b))
    assert not torch.allclose(logits(both, left, right_a), logits(both, left_b, right_a))


def test_every_sentence_needs_exactly_one_blank():
    model = model_for("lstm-both")
    with pytest.raises(ValueError, match=r"exactly one blank \(id 11\) per row, got 0 in row 1"):
        model.encode(torch.tensor([[5, BLANK_ID], [5, 6]]), torch.tensor([2, 2]))


def test_search_decodes_it_through_the_protocol():
    model = model_for("lstm-both-2-layers")
    src, lengths, _ = toy_batch()
    config = SearchConfig(max_len_ratio=0.0, max_len_offset=4)
    greedy = greedy_search(model, src, lengths, 1, 2, config)
    nbest = decode(model, src, lengths, 1, 2, SearchConfig(max_len_ratio=0.0, max_len_offset=4,
                                                           beam_size=3, nbest=3))
    for row, hypothesis in enumerate(greedy):
        assert len(nbest[row]) == 3 and len(hypothesis.tokens) <= 4
        for found in [hypothesis, *nbest[row]]:  # scores: teacher-forced log-probabilities
            target = found.tokens + ([2] if len(found.tokens) < 4 else [])
            tgt_in = torch.tensor([[1, *target[:-1]]])
            log_probs = model(src[row:row + 1], lengths[row:row + 1],
                              tgt_in).log_softmax(-1)[0]
            expected = sum(log_probs[t, token].item() for t, token in enumerate(target))
            assert math.isclose(found.score, expected, abs_tol=1e-4)


# --- the commands ----------------------------------------------------------------------------
FAST = ["--set", "data.embedded=false", "--set", "data.valid_fraction=0.2",
        "--set", "model.units=16", "--set", "model.embedding=8", "--set", "train.epochs=2",
        "--set", "train.batch_size=8", "--threads", "1"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    data = tmp_path_factory.mktemp("data") / "sentences.txt"
    data.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    run_dir = tmp_path_factory.mktemp("runs") / "fill"
    result = run_cli("fill-train", "fill-demo", *FAST, "--set", f"data.path={data}", "--out",
                     str(run_dir))
    assert result.exit_code == 0, result.output
    assert "40 training sentences, 10 held out" in result.output
    assert "best checkpoint:" in result.output
    return run_dir


def candidates(output: str) -> list[tuple[float, str]]:
    return [(float(m.group(1)), m.group(2))
            for m in re.finditer(r"^ +(\d[\d.e+-]*)  (.*)$", output, re.MULTILINE)]


def test_fill_train_writes_a_run_that_describes_itself(trained_run):
    for name in ("config.json", "metrics.jsonl", "text.tokenizer.json",
                 "checkpoints/best/model.safetensors", "checkpoints/best/text.tokenizer.json"):
        assert (trained_run / name).exists(), name
    assert '"valid_exact"' in (trained_run / "metrics.jsonl").read_text()


def test_fill_prints_candidates_with_probabilities(trained_run):
    result = run_cli("fill", str(trained_run), "The cat ____ the red ball.", "--nbest", "3")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("The cat ____ the red ball.\n")
    found = candidates(result.output)
    assert len(found) == 3
    probabilities = [p for p, _ in found]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(0 < p <= 1 for p in probabilities) and sum(probabilities) <= 1 + 1e-3

    lines = "A dog ____ a small house.\n\nMy ____ sees the red ball.\n"
    from_stdin = run_cli("fill", str(trained_run), input=lines)
    assert from_stdin.exit_code == 0, from_stdin.output
    assert len(candidates(from_stdin.output)) == 2
    assert "My ____ sees the red ball." in from_stdin.output


@pytest.mark.parametrize("text, message", [
    ("The cat sees the red ball.", "Error: line 1: no blank '____' in 'The cat sees the red "
                                   "ball.'"),
    ("The ____ sees ____ red ball.", "Error: line 1: 2 blanks '____' in"),
])
def test_fill_rejects_a_line_without_exactly_one_blank(trained_run, text, message):
    result = run_cli("fill", str(trained_run), text)
    assert_one_line_error(result, message)
    assert len(result.output.strip().splitlines()) == 1
    from_stdin = run_cli("fill", str(trained_run), input=f"The ____ sees it.\n{text}\n")
    assert_one_line_error(from_stdin, message.replace("line 1", "line 2"))


def test_evaluate_options_of_another_task_are_refused_by_name(trained_run):
    for option in (["--beam", "3"], ["--ensemble", str(trained_run)]):
        result = run_cli("evaluate", str(trained_run), *option)
        assert_one_line_error(result)
        assert result.output == f"Error: {option[0]}: applies to translation runs, not to " \
                                "this fill run\n"


def test_evaluate_scores_the_runs_own_held_out_blanks(trained_run):
    """--set may say where the sentences lie now, nothing that changes which are held out
    (data.valid_fraction=0.9 used to score training sentences as held-out ones)."""
    data = load_run(trained_run).recipe.data.path
    moved = run_cli("evaluate", str(trained_run), "--json", "--set", f"data.path={data}")
    assert moved.exit_code == 0 and json.loads(moved.output)["sentences"] == 10
    for key in ("data.valid_fraction=0.9", "data.seed=5", "data.first=20", "data.blank=XX"):
        result = run_cli("evaluate", str(trained_run), "--set", key)
        assert result.exit_code == 1 and result.output == (
            f"Error: --set {key!r}: the held-out data is the run's own; only where the data "
            "lies may change: data.path, data.hf\n")


def test_a_beam_too_wide_names_the_flag_that_asked_for_it(trained_run):
    for command, flag in ((["fill", str(trained_run), "The ____ sat.", "--beam", "20000"],
                           "--beam"),
                          (["fill", str(trained_run), "The ____ sat.", "--nbest", "20000"],
                           "--nbest"),
                          (["evaluate", str(trained_run), "--nbest", "20000"], "--nbest")):
        result = run_cli(*command)
        assert_one_line_error(result)
        assert result.output == f"Error: {flag}: expected at most 10,000, got 20,000\n"


def test_fill_eval_reports_top1_and_topk(trained_run):
    result = run_cli("fill-eval", str(trained_run), "--nbest", "3", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["sentences"] > 0 and report["direction"] == "both"
    # the same counts from the candidates that `fill` prints for each held-out sentence
    run = load_run(trained_run)
    held_out = load_blank_splits(run.recipe.data).valid
    lines = "".join(show(b.text, run.recipe.data.blank) + "\n" for b in held_out)
    printed = run_cli("fill", str(trained_run), "--nbest", "3", "--beam",
                      str(max(3, run.recipe.decode.beam_size)), input=lines)
    answers = [[text for _, text in candidates(block)]
               for block in re.split(r"\n(?! )", printed.stdout.strip())]
    assert len(answers) == len(held_out)
    answers = [[a.replace("(nothing)", "") for a in found] for found in answers]
    top1 = sum(found[0] == b.answer for found, b in zip(answers, held_out)) / len(held_out)
    top3 = sum(b.answer in found for found, b in zip(answers, held_out)) / len(held_out)
    assert (report["top1"], report["top3"]) == pytest.approx((top1, top3))
    bad = run_cli("fill-eval", str(trained_run), "--nbest", "0")
    assert_one_line_error(bad, "--nbest: expected a positive integer")
