import json
from pathlib import Path

import datasets
import pytest

from seq2seq.config import from_mapping
from seq2seq.data.pairs import (
    Pair,
    PairDataConfig,
    load_pair_splits,
    normalize_text,
    read_pairs,
)
from seq2seq.errors import UserError
from tests.helpers import shared_data_dir

TOY = [(f"src {i}", f"tgt {i}") for i in range(1, 11)]  # line i holds "src i<TAB>tgt i"


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def write_tsv(path: Path, pairs: list[tuple[str, str]]) -> Path:
    return write(path, "".join(f"{src}\t{tgt}\n" for src, tgt in pairs))


def write_hub(directory: Path, columns: dict, split: str = "train") -> Path:
    """A local directory in hub layout: data/<split>-00000-of-00001.parquet."""
    (directory / "data").mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(columns).to_parquet(
        str(directory / "data" / f"{split}-00000-of-00001.parquet"))
    return directory


def as_tuples(pairs: list[Pair]) -> list[tuple[str, str]]:
    return [(pair.src, pair.tgt) for pair in pairs]


def test_tsv_two_and_three_columns(tmp_path):
    text = ("Go.\tVa !\n"
            "I'm \"OK\".\tJe vais « bien ».\tCC-BY 2.0 (France) Attribution: tatoeba.org #1\r\n"
            "  Wait\u2028here.  \t Attends ici. \n"
            "\n\n")
    pairs, skipped = read_pairs(write(tmp_path / "fra.txt", text), PairDataConfig(path="x"))
    assert as_tuples(pairs) == [("Go.", "Va !"), ("I'm \"OK\".", "Je vais « bien »."),
                                ("Wait\u2028here.", "Attends ici.")]
    assert skipped == 0


def test_csv_and_jsonl_with_named_fields(tmp_path):
    config = PairDataConfig(path="x", src_field="english", tgt_field="french")
    csv = write(tmp_path / "pairs.csv", 'id,english,french\n1,"Hi, you.",Salut.\n2,NA,null\n')
    assert as_tuples(read_pairs(csv, config)[0]) == [("Hi, you.", "Salut."), ("NA", "null")]
    rows = [{"english": "Go.", "french": "Va !", "n": 1}, {"english": "Hi.", "french": "Salut."}]
    jsonl = write(tmp_path / "pairs.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    assert as_tuples(read_pairs(jsonl, config)[0]) == [("Go.", "Va !"), ("Hi.", "Salut.")]
    array = write(tmp_path / "pairs.json", json.dumps(rows))
    assert as_tuples(read_pairs(array, config)[0]) == [("Go.", "Va !"), ("Hi.", "Salut.")]


def test_hub_layout_directory_with_plain_and_dotted_fields(tmp_path):
    plain = write_hub(tmp_path / "plain", {"src": ["Go.", "Hi."], "tgt": ["Va !", "Salut."]})
    splits = load_pair_splits(PairDataConfig(hf=str(plain), shuffle=False))
    assert as_tuples(splits.train) == [("Go.", "Va !"), ("Hi.", "Salut.")]
    assert "hub dataset" in splits.source
    nested = write_hub(tmp_path / "wmt", {
        "id": [0, 1, 2],
        "translation": [{"en": "Go.", "fr": "Va !"}, {"en": "Hi.", "fr": "Salut."},
                        {"en": "Run!", "fr": "Cours !"}]})
    config = PairDataConfig(hf=str(nested), src_field="translation.fr",
                            tgt_field="translation.en", shuffle=False)
    splits = load_pair_splits(config)
    assert as_tuples(splits.train) == [("Va !", "Go."), ("Salut.", "Hi."), ("Cours !", "Run!")]


def test_hub_errors_name_the_dataset_and_the_field(tmp_path):
    nested = write_hub(tmp_path / "wmt", {"translation": [{"en": "Go.", "fr": "Va !"}]})
    with pytest.raises(UserError, match=r"no field 'translation\.de' \(data\.tgt_field\); "
                                        r"fields: \['translation\.en', 'translation\.fr'\]"):
        load_pair_splits(PairDataConfig(hf=str(nested), src_field="translation.en",
                                        tgt_field="translation.de"))
    both = write_hub(tmp_path / "both", {"translation": [{"en": "Go."}], "fr": ["Va !"]})
    with pytest.raises(UserError, match=r"field 'translation' \(data\.src_field\) holds"):
        load_pair_splits(PairDataConfig(hf=str(both), src_field="translation", tgt_field="fr"))
    with pytest.raises(UserError, match=r"wmt.*split 'validation': cannot load"):
        load_pair_splits(PairDataConfig(hf=str(nested), hf_split="validation"))
    gaps = write_hub(tmp_path / "gaps", {"src": ["Go.", "Hi."], "tgt": ["Va !", " "]})
    with pytest.raises(UserError, match=r"gaps.*row 2: expected text in field 'tgt', got ' '"):
        load_pair_splits(PairDataConfig(hf=str(gaps)))


def test_first_n_then_last_fraction_is_held_out_before_shuffling(tmp_path):
    path = write_tsv(tmp_path / "toy.tsv", TOY)
    config = PairDataConfig(path=str(path), first=8, valid_fraction=0.25, shuffle=False)
    splits = load_pair_splits(config)
    assert as_tuples(splits.train) == TOY[:6]
    assert as_tuples(splits.valid) == TOY[6:8]  # lines 7 and 8: the last 25% of the first 8
    assert splits.test == [] and splits.skipped == 0 and splits.filtered == 0
    assert splits.source == f"{path}; first 8 pairs; valid: the last 2 pairs"
    shuffled = load_pair_splits(PairDataConfig(path=str(path), first=8, valid_fraction=0.25))
    assert sorted(as_tuples(shuffled.train)) == sorted(TOY[:6])
    assert as_tuples(shuffled.valid) == TOY[6:8]


def test_held_out_fraction_follows_keras_floor(tmp_path):
    path = write_tsv(tmp_path / "toy.tsv", TOY)
    splits = load_pair_splits(PairDataConfig(path=str(path), valid_fraction=0.15, shuffle=False))
    assert len(splits.train) == 8 and as_tuples(splits.valid) == TOY[8:]  # floor(10 * 0.85)
    with pytest.raises(UserError, match=r"toy\.tsv: data\.valid_fraction=0\.95 of 10 pairs "
                                        r"leaves 0 for train and 10 for valid"):
        load_pair_splits(PairDataConfig(path=str(path), valid_fraction=0.95))


def test_hold_out_by_source_keeps_every_source_on_one_side(tmp_path):
    # 60 sources, source i with 1 + i % 3 translations, their lines interleaved as in
    # Tatoeba (a source's translations are not always adjacent)
    rows = [(f"source {i}", f"translation {i}.{k}") for k in range(3) for i in range(60)
            if k <= i % 3]
    path = write_tsv(tmp_path / "repeats.tsv", rows)
    config = PairDataConfig(path=str(path), hold_out="sources", valid_fraction=0.2,
                            test_fraction=0.25, shuffle=False)
    splits = load_pair_splits(config)
    sides = [{p.src for p in side} for side in (splits.train, splits.valid, splits.test)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert len(sides[0] | sides[1] | sides[2]) == 60
    for side, pairs in zip(sides, (splits.train, splits.valid, splits.test)):
        # every translation of a held-out source is on its side, in file order
        assert as_tuples(pairs) == [row for row in rows if row[0] in side]
    assert 4 <= len(sides[1]) <= 20 and 6 <= len(sides[2]) <= 24  # ~12 and ~15 of 60
    assert "held out by source: valid" in splits.source
    grown = write_tsv(tmp_path / "grown.tsv", rows + [(f"source {i}", "x") for i in range(60, 90)])
    regrown = load_pair_splits(PairDataConfig(path=str(grown), hold_out="sources",
                                              valid_fraction=0.2, test_fraction=0.25))
    assert {p.src for p in regrown.test} >= sides[2]  # a source's side does not move
    other_seed = load_pair_splits(PairDataConfig(path=str(path), hold_out="sources",
                                                 valid_fraction=0.2, test_fraction=0.25,
                                                 seed=1))
    assert {p.src for p in other_seed.test} != sides[2]


def test_hold_out_by_source_keeps_a_validation_file(tmp_path):
    """With data.valid_path, holding out by source holds out the test side only: the
    validation pairs are the file's (they used to be replaced by an empty held-out side)."""
    rows = [(f"source {i}", f"translation {i}") for i in range(40)]
    path = write_tsv(tmp_path / "pairs.tsv", rows)
    valid = write_tsv(tmp_path / "valid.tsv", [("a", "b"), ("c", "d")])
    splits = load_pair_splits(PairDataConfig(path=str(path), valid_path=str(valid),
                                             hold_out="sources", test_fraction=0.25))
    assert as_tuples(splits.valid) == [("a", "b"), ("c", "d")]
    assert splits.test and len(splits.train) + len(splits.test) == 40


def test_valid_and_test_from_separate_files(tmp_path):
    train = write_tsv(tmp_path / "train.tsv", TOY[:5])
    valid = write_tsv(tmp_path / "valid.tsv", [("Long source sentence", "x"), ("a", "b")])
    test = write(tmp_path / "test.csv", "src,tgt\nc,d\n")
    config = PairDataConfig(path=str(train), valid_path=str(valid), test_path=str(test),
                            max_src_len=6, shuffle=False)
    splits = load_pair_splits(config)
    assert as_tuples(splits.train) == TOY[:5]
    assert as_tuples(splits.valid) == [("Long source sentence", "x"), ("a", "b")]  # not dropped
    assert as_tuples(splits.test) == [("c", "d")]
    assert "valid: " + str(valid) in splits.source and "test: " + str(test) in splits.source


def test_shuffle_is_deterministic_and_depends_on_the_seed(tmp_path):
    path = write_tsv(tmp_path / "many.tsv", [(f"s{i}", f"t{i}") for i in range(50)])

    def train(**settings) -> list[tuple[str, str]]:
        return as_tuples(load_pair_splits(PairDataConfig(path=str(path), **settings)).train)

    assert train(seed=1) == train(seed=1)
    assert train(seed=1) != train(seed=2)
    assert sorted(train(seed=1)) == sorted(train(shuffle=False))
    assert train(shuffle=False) == [(f"s{i}", f"t{i}") for i in range(50)]


def test_length_limits_drop_training_pairs_only_and_count_them(tmp_path):
    pairs = [("a", "b"), ("abcd", "b"), ("a", "bcdef"), ("abc", "bcd"), ("abcdef", "b")]
    path = write_tsv(tmp_path / "lengths.tsv", pairs)
    config = PairDataConfig(path=str(path), max_src_len=3, max_tgt_len=4, shuffle=False)
    splits = load_pair_splits(config)
    assert as_tuples(splits.train) == [("a", "b"), ("abc", "bcd")]
    assert splits.filtered == 3
    held_out = load_pair_splits(PairDataConfig(path=str(path), max_src_len=3,
                                               valid_fraction=0.2, shuffle=False))
    assert as_tuples(held_out.valid) == [("abcdef", "b")] and held_out.filtered == 1
    long = write_tsv(tmp_path / "long.tsv", [("abcd", "efgh"), ("ijkl", "mnop")])
    with pytest.raises(UserError, match=r"long\.tsv: data\.max_src_len=0, "
                                        r"data\.max_tgt_len=3 drop all 2 training pairs"):
        load_pair_splits(PairDataConfig(path=str(long), max_tgt_len=3))


def test_normalisation_nfc_nfkc_lowercase_strip(tmp_path):
    assert normalize_text(" Cafe\u0301 ", PairDataConfig()) == "Caf\u00e9"
    assert normalize_text("Cafe\u0301", PairDataConfig(normalize="none")) == "Cafe\u0301"
    assert normalize_text("\ufb01n\u00b2", PairDataConfig(normalize="NFKC")) == "fin2"
    assert normalize_text("\u00c9T\u00c9", PairDataConfig(lowercase=True)) == "\u00e9t\u00e9"
    path = write(tmp_path / "accents.tsv", "E\u0301TE\u0301\t\u00c9t\u00e9 \n")
    pairs, _ = read_pairs(path, PairDataConfig(path="x", lowercase=True))
    assert as_tuples(pairs) == [("\u00e9t\u00e9", "\u00e9t\u00e9")]


@pytest.mark.parametrize(("text", "line", "shown"), [
    ("Go.\tVa !\nno tab here\n", 2, "'no tab here'"),
    ("Go.\tVa !\nHi.\t  \n", 2, r"'Hi.\\t  '"),
    ("\t Va !\n", 1, r"'\\t Va !'"),
    ("Go.\tVa !\n\nHi.\tSalut.\n", 2, "''"),
    ("Go.\tVa !\tattribution\textra\n", 1, r"'Go.\\tVa !\\tattribution\\textra'"),
])
def test_bad_tsv_lines_name_the_file_and_line(tmp_path, text, line, shown):
    path = write(tmp_path / "bad.tsv", text)
    expected = f"bad.tsv:{line}: expected source<TAB>target, got {shown}$"
    with pytest.raises(UserError, match=expected):
        read_pairs(path, PairDataConfig(path="x"))


def test_skip_mode_counts_bad_lines(tmp_path):
    path = write(tmp_path / "bad.tsv", "Go.\tVa !\nno tab\nHi.\t\n\nRun!\tCours !\n\n")
    config = PairDataConfig(path=str(path), on_bad_line="skip", shuffle=False)
    splits = load_pair_splits(config)
    assert as_tuples(splits.train) == [("Go.", "Va !"), ("Run!", "Cours !")]
    assert splits.skipped == 3
    csv = write(tmp_path / "bad.csv", "src,tgt\na,b\n,c\nd,\ne,f\n")
    pairs, skipped = read_pairs(csv, config)
    assert as_tuples(pairs) == [("a", "b"), ("e", "f")] and skipped == 2
    with pytest.raises(UserError, match=r"only\.tsv: no sentence pairs found \(1 bad lines"):
        read_pairs(write(tmp_path / "only.tsv", "no tab\n"), config)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.tsv", None, r"missing\.tsv: no such file"),
    ("empty.tsv", "", r"empty\.tsv: empty file"),
    ("blank.txt", " \n\n", r"blank\.txt: empty file"),
    ("latin1.tsv", "Go.\tVa !\n\u00c9t\u00e9\t\u00e9t\u00e9\n".encode("latin-1"),
     r"latin1\.tsv:2: expected UTF-8 text, got byte 0xc9"),
    ("truncated.txt", "Go.\tVa !\nSummer.\t\u00c9".encode()[:-1],
     r"truncated\.txt:2: expected UTF-8 text.*unexpected end of data"),
    ("pairs.xlsx", "a\tb\n", r"pairs\.xlsx: expected a .tsv, .txt, .csv, .jsonl, .json file"),
    ("no_column.csv", "src,target\na,b\n",
     r"no_column\.csv: no field 'tgt' \(data\.tgt_field\); fields: \['src', 'target'\]"),
    ("empty_value.csv", "src,tgt\na,b\nc,\n",
     r"empty_value\.csv: row 2: expected text in field 'tgt', got ''"),
    ("header_only.csv", "src,tgt\n", r"header_only\.csv: no sentence pairs found"),
    ("ragged.csv", "src,tgt\na,b\nc,d,e\n", r"ragged\.csv: cannot read as csv: .*line 3"),
    ("missing_key.jsonl", '{"src": "a", "tgt": "b"}\n{"src": "c"}\n',
     r"missing_key\.jsonl: row 2: expected text in field 'tgt', got no value"),
    ("number.jsonl", '{"src": "a", "tgt": "b"}\n{"src": 3, "tgt": "d"}\n',
     r"number\.jsonl: row 2: expected text in field 'src', got 3"),
    ("broken.jsonl", '{"src": "a", "tgt": "b"}\n{"src": "c", \n',
     r"broken\.jsonl:2: not JSON \(Expecting property name enclosed in double quotes"),
    ("fourth.jsonl", '{"src": "a", "tgt": "b"}\n\n{"src": "c", "tgt": "d"}\nnot json\n',
     r"fourth\.jsonl:4: not JSON \(Expecting value, column 1\): 'not json'"),
    ("array.jsonl", '{"src": "a", "tgt": "b"}\n[1]\n',  # was "row 0", and a stray log line
     r"array\.jsonl:2: expected a JSON object of fields, got '\[1\]'"),
])
def test_bad_files_raise_user_errors_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        write(path, content)
    with pytest.raises(UserError, match=message):
        read_pairs(path, PairDataConfig(path="x"))
    with pytest.raises(UserError, match=message):
        load_pair_splits(PairDataConfig(path=str(path)))


def test_a_directory_or_a_pipe_is_named_for_what_it_is(tmp_path):
    """Both were "no such file" (and a directory without a suffix "expected a .tsv ... file,
    got ''")."""
    import os

    for name in ("pairs.tsv", "pairs"):
        (tmp_path / name).mkdir()
        with pytest.raises(UserError, match=f"^{tmp_path / name}: is a directory, not a file$"):
            load_pair_splits(PairDataConfig(path=str(tmp_path / name)))
    os.mkfifo(tmp_path / "fifo.txt")
    with pytest.raises(UserError, match=r"fifo\.txt: not a regular file \(a pipe, a device or "
                                        r"a socket\)$"):
        read_pairs(tmp_path / "fifo.txt", PairDataConfig(path="x"))


def test_a_malformed_csv_is_one_message_and_no_log_line(tmp_path, caplog):
    path = write(tmp_path / "ragged.csv", "src,tgt\na,b\nc,d,e\n")
    with caplog.at_level("DEBUG"), pytest.raises(UserError, match=r"ragged\.csv: cannot read "
                                                                  r"as csv: .*line 3"):
        read_pairs(path, PairDataConfig(path="x"))
    # datasets' own "Failed to read file" line came before the error, on stderr
    assert not [r for r in caplog.records if "Failed to read file" in r.getMessage()]


@pytest.mark.parametrize(("settings", "message"), [
    ({}, r"^data\.path, data\.hf, data\.corpus: set one of them, got none$"),
    ({"path": "a.tsv", "hf": "wmt14"},
     r"^data\.path, data\.hf, data\.corpus: set one of them, got path and hf$"),
    ({"path": "a.tsv", "test_fraction": 0.5, "valid_fraction": 0.6},
     r"data\.test_fraction: expected \[0, 1 - valid_fraction\)"),
    ({"path": "a.tsv", "valid_fraction": 1.0}, r"data\.valid_fraction: expected .* got 1\.0"),
    ({"path": "a.tsv", "valid_fraction": 0.1, "valid_path": "v.tsv"}, r"set at most one"),
    ({"path": "a.tsv", "first": -1}, r"data\.first: expected 0 or more, got -1"),
    ({"path": "a.tsv", "normalize": "NFD"}, r"normalize: expected one of .*got 'NFD'"),
    ({"path": "a.tsv", "on_bad_line": "warn"}, r"on_bad_line: expected one of .*got 'warn'"),
    ({"hf": "x", "src_field": "text", "tgt_field": "text"}, r"two different field names"),
    ({"path": "a.tsv", "hold_out": "sources"},
     r"data\.hold_out = 'sources': set data\.valid_fraction or data\.test_fraction"),
    ({"path": "a.tsv", "hold_out": "random"}, r"data\.hold_out: expected one of"),
    ({"path": "a.tsv", "test_fraction": 0.1},
     r"data\.test_fraction: applies only with data\.corpus = 'cmudict' or data\.hold_out"),
    ({"corpus": "cmudict", "hold_out": "sources", "valid_fraction": 0.1},
     r"data\.hold_out: applies only to files and hub datasets"),
    ({"path": "a.tsv", "hold_out": "sources", "test_fraction": 0.1, "test_path": "t.tsv"},
     r"data\.test_fraction, data\.test_path: set at most one"),
])
def test_config_check_names_the_setting(settings, message):
    with pytest.raises(UserError, match=message):
        PairDataConfig(**settings).check()
    with pytest.raises(UserError, match=message.replace("data\\.", "(data\\.)?")):
        from_mapping(PairDataConfig, settings)


def test_keras_split_of_the_real_fra_eng_file():
    data = shared_data_dir()
    path = data / "fra-eng" / "fra.txt" if data else None
    if path is None or not path.is_file():
        pytest.skip("shared fra-eng/fra.txt not present")
    splits = load_pair_splits(PairDataConfig(path=str(path), first=10000, valid_fraction=0.2))
    assert (len(splits.train), len(splits.valid)) == (8000, 2000)
    with path.open(encoding="utf-8") as lines:
        line_8001 = next(line for number, line in enumerate(lines, 1) if number == 8001)
    src, tgt = line_8001.rstrip("\n").split("\t")[:2]
    assert splits.valid[0] == Pair(src.strip(), tgt.strip())
    # the whole file repeats sources (several translations each): held out by source, none
    # is on two sides
    whole = load_pair_splits(PairDataConfig(path=str(path), hold_out="sources",
                                            valid_fraction=0.05, test_fraction=0.05))
    sides = [{p.src for p in side} for side in (whole.train, whole.valid, whole.test)]
    assert len(whole.test) > len(sides[2]) > 0  # sources with several references
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert splits.skipped == 0 and splits.filtered == 0
