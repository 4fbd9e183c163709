"""The README's main job: G2P on the CMU Pronouncing Dictionary (`demo`, `g2p-cmudict`)."""

import json

import pytest

from seq2seq.data.cmudict import load_cmudict_splits, pronunciations
from seq2seq.data.pairs import PairDataConfig
from seq2seq.runs import load_task_recipe
from tests.helpers import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def entries():
    return pronunciations(keep_stress=False)


def test_stress_is_removed_and_every_pronunciation_kept(entries):
    assert entries["read"] == ["R EH D", "R IY D"]
    assert entries["hello"] == ["HH AH L OW", "HH EH L OW"]
    assert entries["don't"] == ["D OW N T", "D OW N"]
    assert pronunciations(keep_stress=True)["hello"] == ["HH AH0 L OW1", "HH EH0 L OW1"]
    assert not any(ch.isdigit() for prons in entries.values() for p in prons for ch in p)
    assert all(word == word.lower() and not word[0].isdigit() for word in entries)


def test_the_split_is_by_word_and_keeps_all_pronunciations_on_one_side(entries):
    config = PairDataConfig(corpus="cmudict", valid_fraction=0.1, test_fraction=0.1,
                            first=6000, seed=0)
    splits = load_cmudict_splits(config)
    words = {name: {p.src for p in getattr(splits, name)} for name in ("train", "valid", "test")}
    assert not (words["train"] & words["valid"] or words["train"] & words["test"]
                or words["valid"] & words["test"])
    assert sum(len(w) for w in words.values()) == 6000
    assert 0.07 < len(words["test"]) / 6000 < 0.13 and 0.07 < len(words["valid"]) / 6000 < 0.13
    for name, chosen in words.items():
        pairs = getattr(splits, name)
        for word in list(chosen)[:300]:
            assert sorted(p.tgt for p in pairs if p.src == word) == sorted(entries[word])
    again = load_cmudict_splits(config)
    assert [p.src for p in again.test] == [p.src for p in splits.test]  # deterministic
    other = load_cmudict_splits(PairDataConfig(corpus="cmudict", valid_fraction=0.1,
                                               test_fraction=0.1, first=6000, seed=1))
    assert {p.src for p in other.test} != words["test"]  # the seed moves the split


def test_a_split_that_leaves_nothing_to_train_on_is_refused_before_training(tmp_path):
    """Both used to train with exit 0 on no pairs at all: length limits that drop every
    training pair (as file data refuses), and data.first too small to leave a training
    word."""
    from seq2seq.errors import UserError

    with pytest.raises(UserError, match=r"CMU Pronouncing Dictionary: data\.max_src_len=1, "
                                        r"data\.max_tgt_len=0 drop all \d+ training pairs"):
        load_cmudict_splits(PairDataConfig(corpus="cmudict", valid_fraction=0.1,
                                           first=300, max_src_len=1))
    with pytest.raises(UserError, match=r"of 1 words \(data\.first=1\), data\.valid_fraction"
                                        r"=0\.1 and data\.test_fraction=0\.0 leave none"):
        load_cmudict_splits(PairDataConfig(corpus="cmudict", valid_fraction=0.1, first=1))
    result = run_cli("train", "demo", "--set", "data.first=300", "--set", "data.max_tgt_len=1",
                     "--out", str(tmp_path / "run"))
    assert_one_line_error(result, "drop all", after_progress=True)
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


def test_g2p_cmudict_builds_to_its_summary():
    result = run_cli("summary", "g2p-cmudict")
    assert result.exit_code == 0, result.output
    recipe = load_task_recipe("g2p-cmudict")
    assert recipe.data.corpus == "cmudict" and recipe.data.test_fraction > 0
    assert "Total params:" in result.output
    assert "(Bidirectional)" in result.output or "bidirectional" in result.output.lower()


def test_the_demo_trains_through_seq2seq_train(tmp_path):
    run_dir = tmp_path / "demo"
    result = run_cli("train", "demo", "--set", "data.first=600", "--set", "train.epochs=1", "--set",
                     "model.units=16", "--set", "model.embedding=8", "--set",
                     "eval.max_sentences=20", "--out", str(run_dir))
    assert result.exit_code == 0, result.output
    assert "CMU Pronouncing Dictionary" in result.output
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and {"valid_ser", "valid_per"} <= set(rows[0])
    spelled = run_cli("translate", str(run_dir), input="hello\n")
    assert spelled.exit_code == 0 and spelled.stdout.count("\n") == 1
    symbols = json.loads((run_dir / "target.tokenizer.json").read_text())["symbols"]
    assert all(phoneme in symbols for phoneme in spelled.stdout.split())
