"""``seq2seq import-keras`` end to end with real Keras: the example's model trained one
epoch on the first 2,000 pairs of fra.txt, saved with ``model.save``, imported; our batched
greedy decoding gives exactly the example's ``decode_sequence`` output on 100 sources, and
the two models' next-character probabilities agree to 1e-5."""

import numpy as np
import pytest
import torch

from seq2seq.api import Translator
from tests.helpers import load_script, run_cli, shared_data_dir

keras_example = load_script("keras_example")
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
SAMPLES = 2000


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    shared = shared_data_dir()
    if shared is None or not (shared / "fra-eng" / "fra.txt").exists():
        pytest.skip("../shared/data/fra-eng/fra.txt not found")
    keras = pytest.importorskip("keras")
    fra = shared / "fra-eng" / "fra.txt"
    tables, encoder_input, decoder_input, decoder_target = keras_example.prepare(fra, SAMPLES)
    model = keras_example.build_and_train(tables, encoder_input, decoder_input, decoder_target)
    saved = tmp_path_factory.mktemp("keras") / "s2s_model.keras"
    model.save(saved)
    run = tmp_path_factory.mktemp("runs") / "imported"
    result = run_cli("import-keras", str(saved), "--data", str(fra), "--num-samples", str(SAMPLES),
                     "--out", str(run))
    assert result.exit_code == 0, result.output
    return keras.saving.load_model(saved), tables, encoder_input, run


def test_greedy_decoding_is_exactly_the_examples_decode_sequence(imported):
    model, tables, encoder_input, run = imported
    encoder_model, decoder_model = keras_example.inference_models(model)
    theirs = [keras_example.decode_sequence(encoder_input[i : i + 1], encoder_model,
                                            decoder_model, tables) for i in range(100)]
    # their output ends with the end character when it ended; ours leaves eos out; "\t"
    # (our bos) is never written out
    theirs = [text.removesuffix("\n").replace("\t", "") for text in theirs]
    ours = Translator.from_pretrained(run).translate(tables["input_texts"][:100])
    assert ours == theirs


def test_next_character_probabilities_agree(imported):
    import keras

    model, tables, encoder_input, run = imported
    translator = Translator.from_pretrained(run)
    source, target = translator.source, translator.target
    ti = tables["target_token_index"]
    ours_of_theirs = [target.bos_id if c == "\t" else target.eos_id if c == "\n"
                      else target.symbols.index(c) for c in sorted(ti, key=ti.get)]
    worst = 0.0
    for i in range(0, 40):
        text = tables["target_texts"][i]
        decoder_input = np.zeros((1, len(text) - 1, len(ti)), dtype="float32")
        for t, char in enumerate(text[:-1]):
            decoder_input[0, t, ti[char]] = 1.0
        theirs = keras.ops.convert_to_numpy(model([encoder_input[i : i + 1], decoder_input]))
        src = torch.tensor([source.encode(tables["input_texts"][i])])
        tgt_in = torch.tensor([[target.bos_id, *target.encode(text[1:-1])]])
        with torch.no_grad():
            ours = translator.model(src, torch.tensor([src.shape[1]]), tgt_in).softmax(-1)
        worst = max(worst, float(np.abs(ours[0][:, ours_of_theirs].numpy() - theirs[0]).max()))
    assert worst < 1e-5


def test_the_imported_run_evaluates_and_beam_searches(imported):
    *_, run = imported
    result = run_cli("evaluate", str(run), "--split", "valid", "--beam", "5", "--json")
    assert result.exit_code == 0, result.output
    translator = Translator.from_pretrained(run)
    assert len(translator.translate(["Go.", "I see."], beam=5, nbest=3)[0]) == 3
