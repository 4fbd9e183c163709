"""seq2seq.core.segments: a stack run over a padded batch in a few length segments gives
one call's outputs at every real position, and its gradients; the plan is the cheapest."""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seq2seq.core import LSTM, StackedRNN, segments
from seq2seq.core.segments import Segment, outputs_by_length, plan_segments
from seq2seq.models.encoder_decoder import EncoderDecoder, TranslatorConfig, sequence_loss

UNITS, FEATURES = 6, 5


def plan_cost(plan: list[Segment], batch: int, overhead: float) -> float:
    return sum(s.rows * (s.end - s.start) + overhead * batch for s in plan)


def covers(plan: list[Segment], lengths: list[int]) -> bool:
    """Every sequence runs, in order, every step up to its length, from the longest down."""
    ordered = sorted(lengths, reverse=True)
    at = 0
    for segment in plan:
        if segment.start != at or not segment.end > segment.start:
            return False
        if segment.rows != sum(n > segment.start for n in ordered):
            return False
        at = segment.end
    return at == max(ordered)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=9),
       st.sampled_from([0.0, 0.5, 1.0, 3.0]))
def test_the_plan_covers_every_step_and_is_the_cheapest(lengths, overhead):
    plan = plan_segments(lengths, overhead)
    assert covers(plan, lengths)
    batch, longest = len(lengths), max(lengths)
    # brute force over every set of cut points: none is cheaper than the plan (or, where
    # the plan is one call, none saves MIN_SAVING of it)
    ends = sorted(set(lengths) - {longest})
    best = min(
        plan_cost([Segment(a, b, sum(n > a for n in lengths))
                   for a, b in zip((0, *cuts), (*cuts, longest))], batch, overhead)
        for count in range(len(ends) + 1) for cuts in itertools.combinations(ends, count))
    single = batch * longest + overhead * batch
    if len(plan) > 1:
        assert plan_cost(plan, batch, overhead) == pytest.approx(best)
        assert best <= (1 - segments.MIN_SAVING) * single
    else:
        assert best > (1 - segments.MIN_SAVING) * single - 1e-9


def test_a_full_batch_runs_in_one_call_and_a_ragged_one_is_cut():
    assert plan_segments([20, 20, 19, 20]) == [Segment(0, 20, 4)]
    ragged = plan_segments([60, 10, 10, 10, 10, 10, 10, 10])
    assert len(ragged) == 2 and ragged[0] == Segment(0, 10, 8)
    assert plan_segments([]) == [] and plan_segments([0, 0]) == []


def test_many_distinct_lengths_are_thinned_and_still_covered():
    lengths = list(range(1, 301))
    plan = plan_segments(lengths)
    assert covers(plan, lengths) and len(plan) > 1


def stack(layers: int, kind: str = "lstm", **options) -> StackedRNN:
    torch.manual_seed(0)
    model = StackedRNN.build(kind, FEATURES, UNITS, layers, **options)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
    return model


def real(lengths: torch.Tensor, time: int) -> torch.Tensor:
    return torch.arange(time)[None, :] < lengths[:, None]


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("with_state", [True, False])
def test_outputs_and_gradients_equal_one_call_at_real_positions(kind, layers, with_state):
    model = stack(layers, kind).double()  # float64: the two orders of summation agree closely
    lengths = torch.tensor([3, 17, 1, 9, 17, 2, 12, 5])  # ragged: the plan cuts it
    assert len(plan_segments(lengths.tolist())) > 1
    batch, time = len(lengths), int(lengths.max())
    x = torch.randn(batch, time, FEATURES, dtype=torch.float64, requires_grad=True)
    count = 2 if kind == "lstm" else 1
    state = [tuple(torch.randn(batch, UNITS, dtype=torch.float64, requires_grad=True)
                   for _ in range(count)) for _ in range(layers)] if with_state else None
    mask = real(lengths, time)[..., None]
    whole = model(x, initial_state=state)[0]
    cut = outputs_by_length(model, x, state, lengths)
    torch.testing.assert_close(cut * mask, whole * mask, rtol=1e-10, atol=1e-12)
    weights = torch.randn_like(whole)
    leaves = [x, *model.parameters(), *(s for layer in state or [] for s in layer)]
    expected = torch.autograd.grad((whole * mask * weights).sum(), leaves)
    got = torch.autograd.grad((cut * mask * weights).sum(), leaves)
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("layer_options", [{"go_backwards": True}, {"stateful": True}])
def test_a_layer_that_reads_backwards_or_keeps_state_runs_in_one_call(layer_options):
    torch.manual_seed(0)
    model = StackedRNN([LSTM(FEATURES, UNITS, return_sequences=True, return_state=True,
                             **layer_options)])
    lengths = torch.tensor([1, 9, 2, 2, 2, 2])
    x = torch.randn(len(lengths), 9, FEATURES)
    model.reset_state() if layer_options.get("stateful") else None
    expected = model(x)[0]
    model.reset_state() if layer_options.get("stateful") else None
    assert not segments.segments_apply(model, x)
    torch.testing.assert_close(outputs_by_length(model, x, None, lengths), expected)


@pytest.mark.parametrize("attention,feeding", [("none", False), ("general", False),
                                               ("bahdanau", False), ("dot", True)])
def test_the_translators_teacher_forced_loss_and_gradients_are_unchanged(attention, feeding):
    """The forward pass cuts the decoder by target length; the loss over real tokens, and
    every gradient, equal those of the decoder run over the whole padded target."""
    torch.manual_seed(0)
    config = TranslatorConfig(units=8, layers=2, embedding=4, attention=attention,
                              input_feeding=feeding, bridge="sum" if attention == "dot"
                              else "concat", bidirectional_encoder=attention == "dot")
    model = EncoderDecoder(config, 11, 13)
    src = torch.randint(3, 11, (6, 7))
    src_lengths = torch.tensor([7, 2, 5, 7, 1, 3])
    tgt_lengths = torch.tensor([14, 2, 3, 2, 9, 2])
    tgt = torch.randint(3, 13, (6, 15))
    tgt[torch.arange(15)[None, :] > tgt_lengths[:, None]] = 0
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
    assert len(plan_segments(tgt_lengths.tolist())) > 1
    losses = []
    for whole in (True, False):
        model.zero_grad()
        if whole:
            logits = model.decode(tgt_in, model.encode(src, src_lengths))[0]
        else:
            logits = model(src, src_lengths, tgt_in)
        loss = sequence_loss(logits, tgt_out, 0)
        loss.backward()
        losses.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    (whole_loss, whole_grads), (cut_loss, cut_grads) = losses
    torch.testing.assert_close(cut_loss, whole_loss)
    for e, g in zip(whole_grads, cut_grads):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-6)
