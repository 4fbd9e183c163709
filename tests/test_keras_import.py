"""``seq2seq import-keras`` refuses what is not the example's model, by name, in one line:
other graphs (GRU, two layers, embeddings), truncated or non-Keras files, mismatched data.
(The end-to-end import against the example trained with real Keras is in
tests/test_keras_import_slow.py.)"""

import zipfile

import pytest

from tests.helpers import assert_one_line_error, run_cli

keras = pytest.importorskip("keras")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras, numpy 2

PAIRS = ["Go.\tVa !\tCC", "Hi.\tSalut !\tCC", "Run!\tCours !\tCC", "I see.\tJe comprends.\tCC"]


def example_model(encoder="lstm", decoder_layers=1, embedding=False, source=8, target=12):
    layers = keras.layers
    rnn = {"lstm": layers.LSTM, "gru": layers.GRU}[encoder]
    if embedding:
        encoder_inputs = keras.Input(shape=(None,))
        x = layers.Embedding(source, 4)(encoder_inputs)
    else:
        encoder_inputs = x = keras.Input(shape=(None, source))
    _, *states = rnn(8, return_state=True)(x)
    decoder_inputs = y = keras.Input(shape=(None, target))
    for _ in range(decoder_layers):
        y, *_ = layers.LSTM(8, return_sequences=True, return_state=True)(
            y, initial_state=states if encoder == "lstm" else [states[0], states[0]])
    outputs = layers.Dense(target, activation="softmax")(y)
    return keras.Model([encoder_inputs, decoder_inputs], outputs)


def run_import(tmp_path, model_file, samples=4):
    data = tmp_path / "fra.txt"
    data.write_text("\n".join(PAIRS) + "\n", encoding="utf-8")
    return run_cli("import-keras", str(model_file), "--data", str(data), "--num-samples",
                   str(samples), "--out", str(tmp_path / "run"))


def saved(tmp_path, model):
    path = tmp_path / "model.keras"
    model.save(path)
    return path


def characters():
    sources = sorted(set("".join(p.split("\t")[0] for p in PAIRS)))
    targets = sorted(set("".join("\t" + p.split("\t")[1] + "\n" for p in PAIRS)))
    return len(sources), len(targets)


def test_the_examples_graph_imports_and_translates(tmp_path):
    source, target = characters()
    result = run_import(tmp_path, saved(tmp_path, example_model(source=source, target=target)))
    assert result.exit_code == 0, result.output
    translated = run_cli("translate", str(tmp_path / "run"), input="Go.\n")
    assert translated.exit_code == 0, translated.output


@pytest.mark.parametrize("variant, expected", [
    ({"encoder": "gru"}, "holds a GRU layer"),
    ({"decoder_layers": 2}, "layers ['InputLayer', 'InputLayer', 'LSTM', 'LSTM', 'LSTM', "
                            "'Dense']"),
    ({"embedding": True}, "holds a Embedding layer"),
])
def test_other_shapes_are_refused_by_name(tmp_path, variant, expected):
    source, target = characters()
    assert_one_line_error(run_import(tmp_path, saved(tmp_path, example_model(
        source=source, target=target, **variant))), expected)


def test_data_that_does_not_fit_the_model_is_refused(tmp_path):
    source, target = characters()
    model = saved(tmp_path, example_model(source=source + 1, target=target))
    assert_one_line_error(run_import(tmp_path, model),
                          f"the model has {source + 1} source characters, the first 4 lines")


def test_truncated_and_foreign_files_are_one_line_errors(tmp_path):
    source, target = characters()
    good = saved(tmp_path, example_model(source=source, target=target)).read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good[: len(good) // 2])
    assert_one_line_error(run_import(tmp_path, truncated), "not a Keras 3 .keras file")
    foreign = tmp_path / "foreign.keras"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("hello.txt", "not a model")
    assert_one_line_error(run_import(tmp_path, foreign), "not a Keras 3 .keras file")
    assert_one_line_error(run_import(tmp_path, tmp_path / "none.keras"), "no such file")


def test_the_out_directory_is_checked_as_trains_is(tmp_path):
    """import-keras overwrote another program's config.json, and wrote into an export."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text('{"mine": 1}')
    model = tmp_path / "model.keras"  # not read: --out is checked first
    assert_one_line_error(run_import(tmp_path, model), "holds a config.json that this version "
                                                       "does not read as a run's saved recipe")
    assert (tmp_path / "run" / "config.json").read_text() == '{"mine": 1}'
