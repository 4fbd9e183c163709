"""Variable lengths, direction, time layout, and fused-vs-reference equality."""

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seq2seq.core import GRU, LSTM, Bidirectional, SimpleRNN, StackedRNN, reverse_padded

KINDS = {"lstm": LSTM, "gru": GRU, "rnn": SimpleRNN}


def make(kind, **options):
    return KINDS[kind](3, 4, return_sequences=True, return_state=True, **options)


def reference_twin(layer):
    twin = copy.deepcopy(layer)
    twin.fused = False
    return twin


def padded_batch(lengths, features=3, time=None):
    time = time or max(lengths)
    x = torch.zeros(len(lengths), time, features)
    for row, length in enumerate(lengths):
        x[row, :length] = torch.randn(length, features)
    return x, torch.tensor(lengths)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "reference"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_padded_batch_gives_each_sequence_what_it_gets_alone(kind, fused, go_backwards, device):
    """On CUDA the fused path with lengths is cuDNN's packed-sequence kernel; on CPU one
    fused call per run of equal lengths."""
    layer = make(kind, fused=fused, go_backwards=go_backwards).to(device)
    lengths = [5, 2, 7, 1, 5]
    x, lengths_tensor = (t.to(device) for t in padded_batch(lengths, time=8))
    output, *state = layer(x, lengths=lengths_tensor)
    for row, length in enumerate(lengths):
        alone, *alone_state = layer(x[row : row + 1, :length])
        torch.testing.assert_close(output[row, :length], alone[0], atol=1e-6, rtol=1e-5)
        assert torch.all(output[row, length:] == 0)
        for got, expected in zip(state, alone_state):
            torch.testing.assert_close(got[row], expected[0], atol=1e-6, rtol=1e-5)


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=6),
       kind=st.sampled_from(list(KINDS)))
def test_batching_invariance_property(lengths, kind):
    layer = make(kind)
    x, lengths_tensor = padded_batch(lengths, time=6)
    output, *state = layer(x, lengths=lengths_tensor)
    order = torch.randperm(len(lengths))
    shuffled, *shuffled_state = layer(x[order], lengths=lengths_tensor[order])
    torch.testing.assert_close(shuffled, output[order], atol=1e-6, rtol=1e-5)
    for got, expected in zip(shuffled_state, state):
        torch.testing.assert_close(got, expected[order], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_go_backwards_reads_from_the_last_real_step_and_returns_reversed(kind):
    forwards = make(kind)
    backwards = copy.deepcopy(forwards)
    backwards.go_backwards = True
    x, lengths = padded_batch([4, 2, 3], time=5)
    expected, *expected_state = forwards(reverse_padded(x, lengths), lengths=lengths)
    output, *state = backwards(x, lengths=lengths)
    torch.testing.assert_close(output, expected)
    for got, want in zip(state, expected_state):
        torch.testing.assert_close(got, want)
    # without lengths: Keras reverses the whole sequence
    full, *_ = backwards(x)
    torch.testing.assert_close(full, forwards(x.flip(1))[0])


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "reference"])
def test_bidirectional_merge_modes_with_lengths(merge_mode, fused):
    layer = Bidirectional(make("lstm", fused=fused), merge_mode=merge_mode)
    backward_layer = layer.backward_layer
    assert backward_layer.go_backwards
    assert not torch.equal(backward_layer.cell.kernel, layer.forward_layer.cell.kernel)
    lengths = [4, 1, 3]
    x, lengths_tensor = padded_batch(lengths, time=5)
    output, fh, fc, bh, bc = layer(x, lengths=lengths_tensor)
    for row, length in enumerate(lengths):
        sequence = x[row : row + 1, :length]
        forward, f_h, f_c = layer.forward_layer(sequence)
        backward, b_h, b_c = backward_layer(sequence)
        backward = backward.flip(1)  # back to time order
        merged = {"concat": torch.cat([forward, backward], -1), "sum": forward + backward,
                  "mul": forward * backward, "ave": (forward + backward) / 2,
                  None: [forward, backward]}[merge_mode]
        if merge_mode is None:
            torch.testing.assert_close(output[0][row, :length], merged[0][0])
            torch.testing.assert_close(output[1][row, :length], merged[1][0])
        else:
            torch.testing.assert_close(output[row, :length], merged[0])
            assert torch.all(output[row, length:] == 0)
        for got, want in zip((fh, fc, bh, bc), (f_h, f_c, b_h, b_c)):
            torch.testing.assert_close(got[row], want[0])


def test_bidirectional_last_output_and_initial_state():
    layer = Bidirectional(LSTM(3, 4), merge_mode="sum")
    x, lengths = padded_batch([3, 5], time=5)
    state = [torch.randn(2, 4) for _ in range(4)]
    output = layer(x, lengths=lengths, initial_state=state)
    forward_h = layer.forward_layer(x, lengths=lengths, initial_state=state[:2])
    backward_h = layer.backward_layer(x, lengths=lengths, initial_state=state[2:])
    torch.testing.assert_close(output, forward_h + backward_h)
    assert len(layer.get_keras_weights()) == 6


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
def test_fused_and_reference_paths_agree_in_outputs_states_and_gradients(kind, with_lengths,
                                                                         device):
    """fp32 on both paths (TF32 off on CUDA): agreement to 1e-5, absolute and relative."""
    fused = make(kind).to(device)
    reference = reference_twin(fused)
    assert fused.uses_fused_path() and not reference.uses_fused_path()
    x, lengths = (t.to(device) for t in padded_batch([6, 3, 6, 1, 4], time=6))
    initial = [torch.randn(5, 4, device=device) for _ in range(fused.cell.state_count)]
    results = []
    for layer in (fused, reference):
        inputs = x.clone().requires_grad_(True)
        state = [s.clone().requires_grad_(True) for s in initial]
        output, *final = layer(inputs, initial_state=state,
                               lengths=lengths if with_lengths else None)
        loss = ((output * torch.linspace(-1, 1, 4, device=device)).sum()
                + sum((f**2).sum() for f in final))
        loss.backward()
        grads = [inputs.grad, *[s.grad for s in state]]
        grads += [p.grad for p in layer.parameters()]
        results.append((output, final, grads))
    (out_a, state_a, grads_a), (out_b, state_b, grads_b) = results
    torch.testing.assert_close(out_a, out_b, atol=1e-5, rtol=1e-5)
    for a, b in zip(state_a, state_b):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_time_major_is_the_transposed_layout(kind):
    batch_major = make(kind)
    time_major = copy.deepcopy(batch_major)
    time_major.time_major = True
    x, lengths = padded_batch([4, 2], time=4)
    expected, *expected_state = batch_major(x, lengths=lengths)
    output, *state = time_major(x.transpose(0, 1).contiguous(), lengths=lengths)
    torch.testing.assert_close(output, expected.transpose(0, 1))
    for got, want in zip(state, expected_state):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("kind", KINDS)
def test_a_right_padded_mask_is_lengths_with_kerass_output_rule(kind):
    """zero_output_for_mask=True: exactly what lengths give; False (Keras's default): the
    last real output repeated over the padding. States are the same either way."""
    zeros, repeat = make(kind, zero_output_for_mask=True), make(kind)
    repeat.load_state_dict(zeros.state_dict())
    x, lengths = padded_batch([2, 4, 3], time=4)
    mask = torch.arange(4)[None, :] < lengths[:, None]
    by_lengths = zeros(x, lengths=lengths)
    for a, b in zip(zeros(x, mask=mask), by_lengths):
        torch.testing.assert_close(a, b)
    output, *state = repeat(x, mask=mask)
    for a, b in zip(state, by_lengths[1:]):
        torch.testing.assert_close(a, b)
    for row, length in enumerate(lengths.tolist()):
        torch.testing.assert_close(output[row, :length], by_lengths[0][row, :length])
        assert torch.equal(output[row, length:],
                           output[row, length - 1].expand(4 - length, -1))


def test_last_output_is_the_state_at_the_last_real_step():
    layer = LSTM(3, 4)
    x, lengths = padded_batch([2, 4], time=4)
    sequences = LSTM(3, 4, return_sequences=True)
    sequences.load_state_dict(layer.state_dict())
    last = layer(x, lengths=lengths)
    all_steps = sequences(x, lengths=lengths)
    torch.testing.assert_close(last, all_steps[torch.arange(2), lengths - 1])


def test_input_dropout_is_one_mask_for_all_steps_on_both_paths():
    layer = make("lstm", dropout=0.5)
    reference = reference_twin(layer)
    x = torch.randn(2, 5, 3)
    layer.train()
    reference.train()
    torch.manual_seed(3)
    a = layer(x)[0]
    torch.manual_seed(3)
    b = reference(x)[0]
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    layer.eval()
    torch.testing.assert_close(layer(x)[0], reference_twin(layer).eval()(x)[0], atol=1e-6,
                               rtol=1e-5)


def test_recurrent_dropout_uses_the_reference_path_only_while_training():
    layer = make("lstm", recurrent_dropout=0.5)
    layer.train()
    assert not layer.uses_fused_path()
    torch.manual_seed(0)
    a = layer(torch.ones(1, 6, 3))[0]
    torch.manual_seed(1)
    b = layer(torch.ones(1, 6, 3))[0]
    assert not torch.allclose(a, b)
    layer.eval()
    assert layer.uses_fused_path()


def test_stacked_states_let_a_decoder_continue_step_by_step():
    stack = StackedRNN.build("lstm", 3, 4, num_layers=2, dropout=0.3)
    stack.eval()
    x, lengths = padded_batch([5, 5], time=5)
    whole, whole_states = stack(x)
    assert whole.shape == (2, 5, 4) and len(whole_states) == 2
    prefix, states = stack(x[:, :3])
    outputs = [prefix]
    for t in range(3, 5):
        output, states = stack(x[:, t : t + 1], initial_state=states)
        outputs.append(output)
    torch.testing.assert_close(torch.cat(outputs, 1), whole, atol=1e-6, rtol=1e-5)
    for (h1, c1), (h2, c2) in zip(states, whole_states):
        torch.testing.assert_close(h1, h2, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(c1, c2, atol=1e-6, rtol=1e-5)


def test_bidirectional_stack_shapes():
    stack = StackedRNN.build("gru", 3, 4, num_layers=3, bidirectional=True)
    x, lengths = padded_batch([5, 2], time=5)
    output, states = stack(x, lengths=lengths)
    assert output.shape == (2, 5, 8) and stack.output_size == 8
    assert all(len(state) == 2 for state in states)  # forward h, backward h
    assert torch.all(output[1, 2:] == 0)
