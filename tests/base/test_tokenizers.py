"""Tokenizer contracts: round trips (property tests), grapheme clusters, special ids,
unknown symbols, save/load of two tokenizers in one directory, and bad files."""

import codecs
import contextlib
import io
import json
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seq2seq.config import from_mapping
from seq2seq.errors import UserError
from seq2seq.tokenizers import (
    BOS,
    EOS,
    PAD,
    UNK,
    CharTokenizer,
    SentencePieceTokenizer,
    TokenizerConfig,
    WordTokenizer,
    load_tokenizer,
    train_tokenizer,
)
from tests.helpers import assert_one_line_error

# Single-code-point graphemes only, so any string over it splits into the same symbols.
ALPHABET = "abcdefghijklmnopqrstuvwxyz ABCXYZ.,;:!?'-0123456789éèçàßøæ"
SP_MODEL_TYPES = ["unigram", "bpe", "char"]
CONFIGS = {
    "char": TokenizerConfig(kind="char"),
    "words": TokenizerConfig(kind="words"),
    **{f"sp-{t}": TokenizerConfig(kind="sentencepiece", sp_model_type=t, sp_vocab_size=300)
       for t in SP_MODEL_TYPES},
}


@cache
def zen() -> tuple[str, ...]:
    """The Zen of Python (``import this``): real English text, shipped with Python, offline."""
    with contextlib.redirect_stdout(io.StringIO()):
        import this
    return tuple(line for line in codecs.decode(this.s, "rot13").splitlines() if line)


@cache
def zen_words() -> tuple[str, ...]:
    return tuple(sorted({word for line in zen() for word in line.split()}))


@cache
def trained(name: str):
    """A ``CONFIGS[name]`` tokenizer trained on the Zen (shared: compare unknown_count deltas)."""
    return train_tokenizer(CONFIGS[name], list(zen()))


@given(st.text(alphabet=ALPHABET))
def test_char_round_trip_over_training_alphabet(text):
    tokenizer = CharTokenizer.train([ALPHABET])
    ids = tokenizer.encode(text)
    assert len(ids) == len(text)
    assert tokenizer.decode(ids) == text
    assert tokenizer.unknown_count == 0


@given(st.text())
def test_char_round_trip_of_any_text_seen_in_training(text):
    tokenizer = CharTokenizer.train(["other text", text])
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.unknown_count == 0


@pytest.mark.parametrize("text, expected", [
    ("cafe\u0301", ["c", "a", "f", "e\u0301"]),  # e + combining acute
    ("🇫🇷!", ["🇫🇷", "!"]),  # a flag: two regional indicators
    ("👩\u200d👩\u200d👧 ok", ["👩\u200d👩\u200d👧", " ", "o", "k"]),  # a ZWJ sequence
    ("\r\n", ["\r\n"]),
])
def test_char_tokens_are_grapheme_clusters(text, expected):
    tokenizer = CharTokenizer.train([text])
    assert tokenizer.tokens(text) == expected
    assert len(tokenizer.encode(text)) == len(expected)
    assert tokenizer.decode(tokenizer.encode(text)) == text


@given(st.text().filter(lambda text: not set(text.split()) & {PAD, BOS, EOS, UNK}))
def test_word_round_trip_of_space_normalised_text(text):
    tokenizer = WordTokenizer.train([text])
    normalised = " ".join(text.split())
    assert tokenizer.decode(tokenizer.encode(text)) == normalised
    assert tokenizer.decode(tokenizer.encode(normalised)) == normalised
    assert tokenizer.unknown_count == 0


def test_word_tokens_are_whitespace_separated():
    tokenizer = WordTokenizer.train(["HH AH0 L OW1", "W ER1 L D"])
    assert tokenizer.tokens("HH  AH0\tL OW1\n") == ["HH", "AH0", "L", "OW1"]
    assert tokenizer.decode(tokenizer.encode("L OW1  HH")) == "L OW1 HH"


@pytest.mark.parametrize("model_type", SP_MODEL_TYPES)
@given(words=st.lists(st.sampled_from(zen_words()), min_size=1, max_size=12))
def test_sentencepiece_round_trip_of_seen_words(model_type, words):
    tokenizer = trained(f"sp-{model_type}")
    before = tokenizer.unknown_count
    text = " ".join(words)
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.unknown_count == before


@pytest.mark.parametrize("model_type", SP_MODEL_TYPES)
def test_sentencepiece_round_trips_its_training_lines(model_type):
    tokenizer = trained(f"sp-{model_type}")
    assert isinstance(tokenizer, SentencePieceTokenizer)
    assert all(tokenizer.decode(tokenizer.encode(line)) == line for line in zen())
    assert "".join(tokenizer.tokens("Simple is better")).replace("\u2581", " ").strip() \
        == "Simple is better"


def test_sentencepiece_vocab_size_is_a_ceiling():
    sizes = {t: len(trained(f"sp-{t}")) for t in SP_MODEL_TYPES}
    assert sizes["char"] < sizes["unigram"] <= 300 and sizes["bpe"] <= 300
    small = {t: len(SentencePieceTokenizer.train(zen(), t, 60)) for t in SP_MODEL_TYPES}
    assert small == {"unigram": 60, "bpe": 60, "char": sizes["char"]}  # char: one per character


def test_sentencepiece_training_leaves_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    SentencePieceTokenizer.train(zen(), "unigram", 100)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", CONFIGS)
def test_special_ids_are_the_same_in_every_kind(name):
    tokenizer = trained(name)
    ids = (tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id, tokenizer.unk_id)
    assert ids == (0, 1, 2, 3)
    assert tokenizer.symbols[:4] == [PAD, BOS, EOS, UNK] == ["<pad>", "<s>", "</s>", "<unk>"]


@pytest.mark.parametrize("name", CONFIGS)
def test_decode_stops_at_eos_and_drops_pad_and_bos(name):
    tokenizer = trained(name)
    first, second = tokenizer.encode("Beautiful is"), tokenizer.encode("ugly")
    ids = [1, *first, 0, 0, 2, *second, 2, 0]
    expected = tokenizer.decode(first)
    assert expected.strip() == "Beautiful is"
    assert tokenizer.decode(ids) == expected
    assert tokenizer.decode([1, 2, *first]) == ""
    assert tokenizer.decode([]) == ""


@pytest.mark.parametrize("name, text, unknown", [
    ("char", "Beautiful ÿÿ@ é", 4),
    ("words", "Beautiful is zzz better qqq", 2),
    ("sp-unigram", "Beautiful ÿÿ@ is", 3),
    ("sp-bpe", "Beautiful ÿÿ@ is", 3),
    ("sp-char", "Beautiful ÿÿ@ is", 3),
])
def test_unknown_symbols_become_unk_and_are_counted(name, text, unknown):
    tokenizer = trained(name)
    before = tokenizer.unknown_count
    ids = tokenizer.encode(text)
    assert 3 in ids and max(ids) < len(tokenizer)
    assert tokenizer.unknown_count == before + unknown
    tokenizer.encode(text)
    assert tokenizer.unknown_count == before + 2 * unknown


def test_special_strings_in_text_are_not_special():
    tokenizer = WordTokenizer.train(["<s> a </s> <pad> <unk> b"])
    assert tokenizer.symbols == [PAD, BOS, EOS, UNK, "a", "b"]
    assert tokenizer.encode("<s> a </s> <pad>") == [3, 4, 3, 3]


def test_vocabulary_is_sorted_by_frequency_then_symbol_and_min_count_drops_rare():
    texts = ["banana", "cab", "xy"]
    tokenizer = CharTokenizer.train(texts)
    assert tokenizer.symbols[4:] == ["a", "b", "n", "c", "x", "y"]
    assert CharTokenizer.train(reversed(texts)).symbols == tokenizer.symbols
    rare_dropped = CharTokenizer.train(texts, min_count=2)
    assert rare_dropped.symbols[4:] == ["a", "b", "n"]
    assert rare_dropped.encode("cab") == [3, 4, 5]


@pytest.mark.parametrize("source, target", [
    ("char", "words"), ("words", "char"), ("sp-unigram", "char"), ("char", "sp-bpe"),
    ("sp-char", "sp-unigram"),
])
def test_two_tokenizers_save_and_load_in_one_directory(tmp_path, source, target):
    originals = {"source": trained(source), "target": trained(target)}
    for name, tokenizer in originals.items():
        tokenizer.save(tmp_path, name)
    for name, original in originals.items():
        loaded = load_tokenizer(tmp_path, name)
        assert type(loaded) is type(original)
        assert loaded.symbols == original.symbols and len(loaded) == len(original)
        for line in zen():
            assert loaded.encode(line) == original.encode(line)
            assert loaded.tokens(line) == original.tokens(line)
    names = {path.name for path in tmp_path.iterdir()}
    assert {"source.tokenizer.json", "target.tokenizer.json"} <= names
    assert not any(n.endswith(".tmp") for n in names)
    spm_files = {f"{n}.spm.model" for n in originals if originals[n].kind == "sentencepiece"}
    assert names == {"source.tokenizer.json", "target.tokenizer.json"} | spm_files


def test_symbol_vocabulary_file_format(tmp_path):
    CharTokenizer.train(["ba"]).save(tmp_path, "source")
    data = json.loads((tmp_path / "source.tokenizer.json").read_text(encoding="utf-8"))
    assert data == {"kind": "char", "symbols": [PAD, BOS, EOS, UNK, "a", "b"], "version": 1}


def refused_load(directory, name, mentions):
    """Loading the ``name`` tokenizer fails in one line mentioning ``mentions``."""
    with pytest.raises(UserError) as caught:
        load_tokenizer(directory, name)
    return assert_one_line_error(caught, mentions)


def test_missing_tokenizer_file_names_the_file(tmp_path):
    refused_load(tmp_path, "source", tmp_path / "source.tokenizer.json")


@pytest.mark.parametrize("content, words", [
    ("{not json", "corrupt"),
    ("[1, 2]", "corrupt"),
    ('{"kind": "char", "symbols": ["<pad>"], "version": 2}', "version"),
    ('{"kind": "bytes", "symbols": [], "version": 1}', "kind"),
    ('{"kind": "char", "symbols": ["a", "b"], "version": 1}', "symbols"),
    ('{"kind": "words", "symbols": "abc", "version": 1}', "symbols"),
    ('{"kind": "char", "symbols": ["<pad>", "<s>", "</s>", "<unk>", "a", "a"], "version": 1}',
     "repeats"),
    ('{"kind": "sentencepiece", "version": 1}', "model"),
])
def test_corrupt_tokenizer_file_names_the_file(tmp_path, content, words):
    path = tmp_path / "target.tokenizer.json"
    path.write_text(content, encoding="utf-8")
    assert words in refused_load(tmp_path, "target", path)


def test_missing_or_corrupt_sentencepiece_model_names_the_model_file(tmp_path):
    trained("sp-unigram").save(tmp_path, "source")
    model = tmp_path / "source.spm.model"
    model.write_bytes(b"not a model")
    assert "corrupt" in refused_load(tmp_path, "source", model)
    model.write_bytes(b"")
    refused_load(tmp_path, "source", model)
    model.unlink()
    assert "not found" in refused_load(tmp_path, "source", model)


@pytest.mark.parametrize("mapping, key", [
    ({"kind": "bpe"}, "kind"),
    ({"sp_model_type": "wordpiece"}, "sp_model_type"),
    ({"sp_vocab_size": 4}, "tokenizer.sp_vocab_size"),
    ({"min_count": 0}, "tokenizer.min_count"),
])
def test_config_rejects_bad_values(mapping, key):
    with pytest.raises(UserError, match=key):
        from_mapping(TokenizerConfig, mapping)


def test_sentencepiece_vocab_too_small_for_the_characters_is_a_user_error():
    config = TokenizerConfig(kind="sentencepiece", sp_model_type="bpe", sp_vocab_size=10)
    with pytest.raises(UserError, match="sp_vocab_size=10") as caught:
        train_tokenizer(config, list(zen()))
    assert_one_line_error(caught)
    with pytest.raises(UserError, match="sentencepiece"):
        train_tokenizer(TokenizerConfig(kind="sentencepiece"), ["", "  "])


def test_pad_to_appends_the_pad_symbol_and_travels_in_the_file(tmp_path):
    """The Keras example's convention (sources padded with spaces to the longest length)
    for models imported from it; an empty text stays empty, a long one is left as it is."""
    from seq2seq.tokenizers import SPECIALS, CharTokenizer, load_tokenizer

    tokenizer = CharTokenizer([*SPECIALS, " ", "a", "b"], pad_to=5, pad_symbol=" ")
    space = tokenizer.symbols.index(" ")
    assert tokenizer.encode("ab") == [5, 6, space, space, space]
    assert tokenizer.encode("abababa") == [5, 6, 5, 6, 5, 6, 5]
    assert tokenizer.encode("") == []
    assert tokenizer.decode(tokenizer.encode("ab")) == "ab   "
    tokenizer.save(tmp_path, "source")
    loaded = load_tokenizer(tmp_path, "source")
    assert loaded.encode("b") == [6, space, space, space, space]
    assert "pad_to" not in (CharTokenizer([*SPECIALS, "a"]).save(tmp_path, "plain")
                            or (tmp_path / "plain.tokenizer.json").read_text())
    path = tmp_path / "source.tokenizer.json"
    path.write_text(path.read_text().replace('"pad_symbol": " "', '"pad_symbol": "z"'))
    with pytest.raises(UserError, match=r"source.tokenizer.json: pad_to/pad_symbol: expected"):
        load_tokenizer(tmp_path, "source")
