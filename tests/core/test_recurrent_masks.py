"""Any mask Keras accepts: right- and left-padded, gapped, empty rows; Keras's output rule
(``zero_output_for_mask``), ``go_backwards`` over the reversed time axis, ``Bidirectional``
and stateful layers. Against real Keras 3 layers with copied weights where Keras is
installed, and against the lengths path and the reference loop everywhere."""

import os

import numpy as np
import pytest
import torch

from seq2seq.core import GRU, LSTM, Bidirectional, SimpleRNN

TIME = 6
MASKS = {
    "right-padded": [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]],
    "left-padded": [[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1], [1, 1, 1, 1, 1, 1]],
    "padded both sides": [[0, 1, 1, 1, 0, 0], [0, 0, 0, 1, 1, 0], [1, 1, 0, 0, 0, 0]],
    "gaps": [[1, 0, 1, 1, 0, 1], [0, 1, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1]],
    "an empty row": [[1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 1, 1, 1, 1, 1]],
}
OURS = {
    "lstm": lambda **o: LSTM(3, 4, **o),
    "gru": lambda **o: GRU(3, 4, **o),
    "gru-reset-before": lambda **o: GRU(3, 4, reset_after=False, **o),
    "rnn": lambda **o: SimpleRNN(3, 4, **o),
}


def mask(name):
    return torch.tensor(MASKS[name], dtype=torch.bool)


def inputs(seed=0):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=(3, TIME, 3))
                            .astype("float32"))


@pytest.mark.parametrize("name", MASKS)
@pytest.mark.parametrize("kind", OURS)
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("zero_output", [False, True], ids=["repeat", "zeros"])
def test_the_fused_shift_and_the_reference_loop_agree(name, kind, go_backwards, zero_output):
    options = dict(return_sequences=True, return_state=True, go_backwards=go_backwards,
                   zero_output_for_mask=zero_output)
    fused, loop = OURS[kind](**options), OURS[kind](fused=False, **options)
    loop.load_state_dict(fused.state_dict())
    for a, b in zip(fused(inputs(), mask=mask(name)), loop(inputs(), mask=mask(name))):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_a_left_padded_row_gets_what_its_real_steps_get_alone():
    layer = LSTM(3, 4, return_sequences=True, return_state=True)
    x, m = inputs(), mask("left-padded")
    output, h, c = layer(x, mask=m)
    for row in range(3):
        real = m[row].nonzero()[:, 0]
        alone, h_alone, c_alone = layer(x[row : row + 1, real])
        torch.testing.assert_close(output[row, real], alone[0])
        assert torch.equal(output[row, : int(real[0])], torch.zeros(int(real[0]), 4))
        torch.testing.assert_close(h[row], h_alone[0])
        torch.testing.assert_close(c[row], c_alone[0])


def test_lengths_stay_as_they_were():
    """The translator and the other models pass lengths: zeros on padding and each
    sequence reversed within its own length, whatever zero_output_for_mask says."""
    layer = GRU(3, 4, return_sequences=True, go_backwards=True, zero_output_for_mask=False)
    reference = GRU(3, 4, return_sequences=True, go_backwards=True, fused=False)
    reference.load_state_dict(layer.state_dict())
    x, lengths = inputs(), torch.tensor([6, 3, 1])
    output = layer(x, lengths=lengths)
    torch.testing.assert_close(output, reference(x, lengths=lengths))
    assert torch.equal(output[1, 3:], torch.zeros(3, 4))
    alone = layer(x[1:2, :3])
    torch.testing.assert_close(output[1, :3], alone[0])


# --- against real Keras 3 --------------------------------------------------------------

def keras_or_skip():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras", reason="Keras 3 not installed")


def keras_layer(keras, kind, **options):
    if kind == "lstm":
        return keras.layers.LSTM(4, **options)
    if kind == "rnn":
        return keras.layers.SimpleRNN(4, **options)
    return keras.layers.GRU(4, reset_after=kind == "gru", **options)


def numpy(keras, values):
    return [keras.ops.convert_to_numpy(v) for v in (values if isinstance(values, (list, tuple))
                                                     else [values])]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras's numpy conversion
@pytest.mark.parametrize("name", MASKS)
@pytest.mark.parametrize("kind", OURS)
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("zero_output", [False, True], ids=["repeat", "zeros"])
def test_masked_layers_match_keras(name, kind, go_backwards, zero_output):
    keras = keras_or_skip()
    options = dict(return_sequences=True, return_state=True, go_backwards=go_backwards,
                   zero_output_for_mask=zero_output)
    ours = OURS[kind](**options)
    theirs = keras_layer(keras, kind, **options)
    theirs.build((3, TIME, 3))
    theirs.set_weights(ours.get_keras_weights())
    x, m = inputs(), mask(name)
    expected = numpy(keras, theirs(x.numpy(), mask=m.numpy()))
    got = [t.detach().numpy() for t in ours(x, mask=m)]
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", MASKS)
@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last"])
def test_masked_bidirectional_matches_keras(name, return_sequences):
    keras = keras_or_skip()
    ours = Bidirectional(LSTM(3, 4, return_sequences=return_sequences))
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=return_sequences))
    theirs.build((3, TIME, 3))
    theirs.set_weights(ours.get_keras_weights())
    x, m = inputs(), mask(name)
    np.testing.assert_allclose(ours(x, mask=m).detach().numpy(),
                               numpy(keras, theirs(x.numpy(), mask=m.numpy()))[0], atol=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", ["left-padded", "gaps"])
def test_masked_stateful_calls_match_keras(name):
    keras = keras_or_skip()
    ours = GRU(3, 4, return_sequences=True, stateful=True)
    theirs = keras.layers.GRU(4, return_sequences=True, stateful=True)
    theirs.build((3, TIME, 3))
    theirs.set_weights(ours.get_keras_weights())
    for seed in (0, 1):
        x, m = inputs(seed), mask(name)
        np.testing.assert_allclose(ours(x, mask=m).detach().numpy(),
                                   numpy(keras, theirs(x.numpy(), mask=m.numpy()))[0],
                                   atol=1e-5)
