"""Batched beam search and sampling: golden cases on a scripted model, invariants on tiny
random translators, and parity with a naive one-sentence beam search written here."""

import dataclasses
import itertools
import math

import pytest
import torch

from seq2seq.models.encoder_decoder import EncoderDecoder
from seq2seq.search import (
    Hypothesis,
    SearchConfig,
    beam_search,
    decode,
    greedy_search,
    length_penalty,
    max_lengths,
    repeat_state,
    sample,
    select_state,
)
from tests.helpers import (
    BOS,
    CONFIGS,
    EOS,
    A,
    B,
    parent_product,  # noqa: F401 - autouse: with and without the product per distinct parent
    teacher_forced_score,
    tiny_model,
    toy_batch,
)

SEEDS = [0, 1, 2]


class BigramModel:
    """A scripted model: the next token's probabilities depend only on the previous token.

    It follows the search protocol (``encode``, ``step``) and nothing else; its state is a
    dummy per-sentence tensor that search must carry through its row selections.
    """

    def __init__(self, table: dict[int, dict[int, float]], vocab_size: int = 5) -> None:
        probabilities = torch.zeros(vocab_size, vocab_size)
        for previous, following in table.items():
            for token, probability in following.items():
                probabilities[previous, token] = probability
        self.log_probs = probabilities.log()
        self.step_batches: list[int] = []

    def encode(self, src, src_lengths):
        return [(torch.arange(src.shape[0], dtype=torch.float)[:, None],)]

    def step(self, tokens, state):
        self.step_batches.append(tokens.shape[0])
        return self.log_probs[tokens], state


def one_source(length: int = 1):
    return torch.full((1, length), 5), torch.tensor([length])


def ngrams(tokens: list[int], n: int) -> list[tuple[int, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


# --- a naive reference: one sentence, one model call per hypothesis, Python lists ----------

def naive_beam_search(model, src, src_length, config: SearchConfig) -> list[Hypothesis]:
    """Beam search over one sentence as the module docstring of seq2seq.search.beam states
    it, without batching and without early stopping (it runs to the length limit)."""
    limit = int(max_lengths(src_length, config)[0])
    live = [([], 0.0, model.encode(src, src_length))]  # (tokens, score, state)
    finished: list[Hypothesis] = []
    for length in range(1, limit + 1):
        candidates = []
        for tokens, score, state in live:
            logits, next_state = model.step(torch.tensor([tokens[-1] if tokens else BOS]), state)
            log_probs = logits.float().log_softmax(-1)[0].tolist()
            for token, log_prob in enumerate(log_probs):
                if naive_forbidden(tokens, token, config):
                    continue
                candidates.append((score + log_prob, tokens, token, next_state))
        candidates.sort(key=lambda candidate: -candidate[0])
        penalty = length_penalty(length, config.alpha)
        for score, tokens, token, _ in candidates[: config.beam_size]:
            if token == EOS:
                finished.append(Hypothesis(tokens, score, score / penalty))
        live = [(tokens + [token], score, state) for score, tokens, token, state in candidates
                if token != EOS and score > -math.inf][: config.beam_size]
        if length == limit:
            finished += [Hypothesis(tokens, score, score / penalty) for tokens, score, _ in live]
        if not live:
            break
    return sorted(finished, key=lambda h: -h.normalized_score)[: config.nbest]


def naive_forbidden(tokens: list[int], token: int, config: SearchConfig) -> bool:
    if token == EOS and len(tokens) < config.min_len:
        return True
    n = config.no_repeat_ngram
    return n > 0 and tuple(tokens[len(tokens) - n + 1 :] + [token]) in ngrams(tokens, n)


# --- golden cases on the scripted model -------------------------------------------------

def test_the_beam_goes_on_when_its_best_hypothesis_ends_at_the_first_step():
    # JoeyNMT #148: the search must not stop because its best hypothesis (here the empty
    # output, p = 0.5) has ended; it returns nbest = beam_size finished hypotheses.
    model = BigramModel({BOS: {EOS: 0.5, A: 0.3, B: 0.2}, A: {EOS: 0.9, A: 0.05, B: 0.05},
                         B: {EOS: 0.6, A: 0.2, B: 0.2}})
    src, lengths = one_source()
    (nbest,) = beam_search(model, src, lengths, BOS, EOS, SearchConfig(beam_size=2, nbest=2))
    assert [h.tokens for h in nbest] == [[], [A]]
    assert nbest[0].score == pytest.approx(math.log(0.5))
    assert nbest[1].score == pytest.approx(math.log(0.3) + math.log(0.9))
    # and it stops as soon as no live hypothesis can beat the 2nd finished one: after 2 steps
    # (the first one row per sentence: every slot holds bos then; the second one per slot)
    assert model.step_batches == [1, 2]



@pytest.mark.parametrize("eos, b, finished", [(0.3, 0.3, True), (0.29, 0.31, False)])
def test_an_eos_extension_is_finished_when_fewer_than_beam_size_others_score_above_it(
        eos, b, finished):
    # beam 2 after bos: A 0.4, B and eos as given. Tied with B (the 2nd live extension),
    # eos has only A above it: it ranks among the 2 best, and the empty output (0.3) is
    # the 2nd of the two best beside [A] (0.4). Just below B it ranks 3rd and is dropped;
    # [B] (0.31 * 0.5) then is the 2nd.
    model = BigramModel({BOS: {A: 0.4, B: b, EOS: eos}, A: {EOS: 1.0},
                         B: {EOS: 0.5, A: 0.5}})
    (nbest,) = beam_search(model, *one_source(), BOS, EOS, SearchConfig(beam_size=2, nbest=2))
    assert [h.tokens for h in nbest] == ([[A], []] if finished else [[A], [B]])
    assert nbest[1].score == pytest.approx(math.log(eos) if finished else math.log(b * 0.5))


def test_length_normalisation_can_prefer_a_longer_output():
    model = BigramModel({BOS: {EOS: 0.4, A: 0.38, B: 0.22}, A: {EOS: 0.99, A: 0.01},
                         B: {EOS: 1.0}})
    src, lengths = one_source()
    raw = beam_search(model, src, lengths, BOS, EOS, SearchConfig(beam_size=2, nbest=2))[0]
    assert [h.tokens for h in raw] == [[], [A]]
    normalised = beam_search(model, src, lengths, BOS, EOS,
                             SearchConfig(beam_size=2, nbest=2, alpha=1.0))[0]
    assert [h.tokens for h in normalised] == [[A], []]
    score = math.log(0.38) + math.log(0.99)
    assert normalised[0].score == pytest.approx(score)  # the raw log-probability
    assert normalised[0].normalized_score == pytest.approx(score / (7 / 6))


def test_min_len_forbids_eos_before_that_many_tokens():
    model = BigramModel({BOS: {EOS: 0.7, A: 0.3}, A: {EOS: 0.8, A: 0.15, B: 0.05},
                         B: {EOS: 0.7, A: 0.2, B: 0.1}})
    src, lengths = one_source()
    config = SearchConfig(beam_size=3, nbest=3, min_len=2)
    nbest = beam_search(model, src, lengths, BOS, EOS, config)[0]
    assert [h.tokens for h in nbest] == [[A, A], [A, B], [A, A, A]]
    assert nbest[0].score == pytest.approx(math.log(0.3 * 0.15 * 0.8))
    assert greedy_search(model, src, lengths, BOS, EOS, SearchConfig(min_len=2))[0].tokens \
        == [A, A]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_no_repeat_ngram_blocks_repeated_ngrams(n):
    # left alone, the model says "a b a b a b ..." up to the length limit (12 tokens)
    model = BigramModel({BOS: {A: 0.6, B: 0.39, EOS: 0.01}, A: {B: 0.8, A: 0.19, EOS: 0.01},
                         B: {A: 0.8, B: 0.19, EOS: 0.01}})
    src, lengths = one_source()
    free = beam_search(model, src, lengths, BOS, EOS, SearchConfig(beam_size=3))[0][0]
    assert free.tokens == [A, B] * 6
    config = SearchConfig(beam_size=3, nbest=3, no_repeat_ngram=n)
    found = beam_search(model, src, lengths, BOS, EOS, config)[0]
    found.append(greedy_search(model, src, lengths, BOS, EOS, config)[0])
    assert len(found) == 4
    for hypothesis in found:
        assert len(set(ngrams(hypothesis.tokens, n))) == len(ngrams(hypothesis.tokens, n))


def test_select_state_only_picks_rows():
    state = [(torch.arange(6.0).view(3, 2), torch.arange(3)), (torch.zeros(3, 2, 4),)]
    index = torch.tensor([2, 0, 0])
    selected = select_state(state, index)
    assert [len(layer) for layer in selected] == [2, 1]
    assert selected[0][0].tolist() == [[4.0, 5.0], [0.0, 1.0], [0.0, 1.0]]
    assert selected[0][1].tolist() == [2, 0, 0] and selected[1][0].shape == (3, 2, 4)
    assert repeat_state(state, 2)[0][1].tolist() == [0, 0, 1, 1, 2, 2]


def test_one_model_step_per_time_step_for_all_sentences_and_beams():
    model = tiny_model(0)  # an LSTM on CPU: after the first step, search calls step_from_rows
    calls = []

    def counting(original):
        def counting_step(tokens, *state_and_rows):
            calls.append(tokens.shape[0])
            return original(tokens, *state_and_rows)
        return counting_step

    model.step, model.step_from_rows = counting(model.step), counting(model.step_from_rows)
    src, lengths = toy_batch()
    config = SearchConfig(beam_size=3, nbest=2)
    beam_search(model, src, lengths, BOS, EOS, config)
    # the first step once per sentence (every slot holds bos), then once per slot
    assert calls[0] == 4 and calls[1] == 4 * 3 and all(rows % 3 == 0 for rows in calls[1:])
    assert calls[1:] == sorted(calls[1:], reverse=True)  # finished sentences leave the batch
    assert len(calls) <= int(max_lengths(lengths, config).max())


# --- invariants on tiny random translators ------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", CONFIGS)
def test_beam_size_1_is_greedy(seed, name, device):
    model = tiny_model(seed, name).to(device)
    src, lengths = (t.to(device) for t in toy_batch())
    for constraints in ({}, {"min_len": 2, "no_repeat_ngram": 2}):
        config = SearchConfig(beam_size=1, **constraints)
        greedy = greedy_search(model, src, lengths, BOS, EOS, config)
        beam = beam_search(model, src, lengths, BOS, EOS, config)
        assert [[h.tokens] for h in greedy] == [[h.tokens for h in nbest] for nbest in beam]
        for g, (b,) in zip(greedy, beam):
            assert b.score == pytest.approx(g.score, abs=1e-4)
        assert decode(model, src, lengths, BOS, EOS, config) == [[h] for h in greedy]
    config = SearchConfig(beam_size=2, nbest=2)
    assert decode(model, src, lengths, BOS, EOS, config) \
        == beam_search(model, src, lengths, BOS, EOS, config)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("search", ["beam", "greedy"])
def test_a_sentence_decodes_the_same_alone_or_in_any_batch(seed, name, search, device):
    model = tiny_model(seed, name).to(device)
    src, lengths = (t.to(device) for t in toy_batch())
    if search == "beam":
        config = SearchConfig(beam_size=3, nbest=3, alpha=0.6)
        run = lambda s, n: beam_search(model, s, n, BOS, EOS, config)  # noqa: E731
    else:
        run = lambda s, n: [[h] for h in greedy_search(model, s, n, BOS, EOS,  # noqa: E731
                                                        SearchConfig())]
    batched = run(src, lengths)
    order = torch.tensor([2, 0, 3, 1], device=device)
    padded = torch.cat([src, torch.zeros(4, 3, dtype=torch.long, device=device)], 1)[order]
    permuted = run(padded, lengths[order])
    for position, row in enumerate(order.tolist()):
        alone = run(src[row : row + 1, : lengths[row]], lengths[row : row + 1])[0]
        for other in (alone, permuted[position]):
            assert [h.tokens for h in other] == [h.tokens for h in batched[row]]
            assert [h.score for h in other] == pytest.approx([h.score for h in batched[row]],
                                                             abs=1e-4)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["gru-2-layers", "bahdanau-feeding-gru-2-layers"])
@pytest.mark.parametrize("settings", [{"alpha": 0.0}, {"alpha": 0.6},
                                      {"alpha": 0.6, "min_len": 3, "no_repeat_ngram": 2}])
def test_scores_are_teacher_forced_log_probabilities_and_nbest_is_sorted_and_distinct(
        seed, name, settings):
    model = tiny_model(seed, name)
    src, lengths = toy_batch()
    config = SearchConfig(beam_size=4, nbest=4, max_len_ratio=1.0, max_len_offset=4,
                          **settings)
    limits = max_lengths(lengths, config).tolist()
    ended_early = 0
    for row, nbest in enumerate(beam_search(model, src, lengths, BOS, EOS, config)):
        assert len(nbest) == 4
        assert len({tuple(h.tokens) for h in nbest}) == 4
        normalised = [h.normalized_score for h in nbest]
        assert normalised == sorted(normalised, reverse=True)
        for hypothesis in nbest:
            expected = teacher_forced_score(model, src, lengths, row, hypothesis, limits[row])
            assert hypothesis.score == pytest.approx(expected, abs=1e-4)
            ended = len(hypothesis.tokens) < limits[row]
            ended_early += ended
            assert len(hypothesis.tokens) >= config.min_len
            penalty = length_penalty(len(hypothesis.tokens) + ended, config.alpha)
            assert hypothesis.normalized_score == pytest.approx(hypothesis.score / penalty)
    assert ended_early  # the test covers outputs ending with eos, not only at the limit


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", CONFIGS)
def test_a_beam_wider_than_every_output_is_exhaustive(seed, name):
    # A theorem, not a seed-picked observation: with 5 target symbols and a limit of 3
    # tokens there are at most 5**3 = 125 extensions at any step, so a beam of 125 prunes
    # nothing and its n-best list is the n most probable of all outputs (enumerated here).
    torch.manual_seed(seed)
    model = EncoderDecoder(CONFIGS[name], src_vocab=12, tgt_vocab=5).eval()
    src, lengths = toy_batch()
    limit = 3
    config = SearchConfig(beam_size=5 ** limit, nbest=6, max_len_ratio=0.0,
                          max_len_offset=limit)
    found = beam_search(model, src, lengths, BOS, EOS, config)
    others = [t for t in range(5) if t != EOS]
    outputs = [list(tokens) for length in range(limit + 1)
               for tokens in itertools.product(others, repeat=length)]
    for row, nbest in enumerate(found):
        scored = sorted(((teacher_forced_score(model, src, lengths, row,
                                               Hypothesis(tokens, 0.0), limit), tokens)
                         for tokens in outputs), key=lambda pair: -pair[0])[: config.nbest]
        assert [h.tokens for h in nbest] == [tokens for _, tokens in scored]
        assert [h.score for h in nbest] == pytest.approx([score for score, _ in scored],
                                                         abs=1e-4)


def test_a_wider_beam_can_find_a_less_probable_output():
    # An eos extension finishes only when it ranks among the step's beam_size best (the rule
    # that makes beam 1 greedy). Here the empty output (the most probable of all) ranks 6th
    # at the first step and greedy's eos ranks 6th at the 4th step, so beam 5 prunes both and
    # ends worse than greedy, while beams 2-4 and 6 do better. The naive reference agrees:
    # this is the search rule, not batching nor the length limit.
    model = tiny_model(4, "gru-2-layers")
    src, lengths = toy_batch()
    alone = src[2:3, :1], lengths[2:3]
    greedy = greedy_search(model, *alone, BOS, EOS, SearchConfig())[0]
    scores = {}
    for beam_size in (2, 5, 6):
        config = SearchConfig(beam_size=beam_size)
        (best,) = beam_search(model, *alone, BOS, EOS, config)[0]
        assert best.tokens == naive_beam_search(model, *alone, config)[0].tokens
        scores[beam_size] = best.score
    assert scores[5] < greedy.score < scores[2] < scores[6]
    assert beam_search(model, *alone, BOS, EOS, SearchConfig(beam_size=6))[0][0].tokens == []


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("beam_size", [2, 3, 4])
@pytest.mark.parametrize("alpha", [0.0, 0.6])
@pytest.mark.parametrize("name", ["bidirectional", "general-feeding-bidirectional"])
def test_beam_search_equals_the_naive_reference(seed, beam_size, alpha, name):
    model = tiny_model(seed, name)
    src, lengths = toy_batch()
    config = SearchConfig(beam_size=beam_size, nbest=beam_size, alpha=alpha,
                          max_len_ratio=1.0, max_len_offset=5,
                          no_repeat_ngram=3 if beam_size == 3 else 0)
    batched = beam_search(model, src, lengths, BOS, EOS, config)
    for row in range(src.shape[0]):
        alone = src[row : row + 1, : lengths[row]], lengths[row : row + 1]
        reference = naive_beam_search(model, *alone, config)
        assert [h.tokens for h in batched[row]] == [h.tokens for h in reference]
        assert [h.score for h in batched[row]] == pytest.approx([h.score for h in reference],
                                                                abs=1e-4)


# --- sampling -----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", CONFIGS)
def test_sampling_at_temperature_near_0_or_with_top_k_1_is_greedy(seed, name):
    model = tiny_model(seed, name)
    src, lengths = toy_batch()
    greedy = greedy_search(model, src, lengths, BOS, EOS, SearchConfig())
    # 1e-45: a temperature whose division alone would overflow every token to -inf
    for config in (SearchConfig(temperature=1e-4), SearchConfig(temperature=1e-45),
                   SearchConfig(top_k=1)):
        sampled = sample(model, src, lengths, BOS, EOS, config, torch.Generator().manual_seed(0))
        assert [h.tokens for h in sampled] == [h.tokens for h in greedy]
        assert [h.score for h in sampled] == pytest.approx([h.score for h in greedy], abs=1e-4)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("min_len", [0, 50])
def test_greedy_and_sampled_normalised_scores_count_eos_only_where_it_was_chosen(
        seed, name, min_len):
    """A sentence stopped by its length limit beside a longer one was padded with eos, and
    the length penalty counted that eos: its normalised score changed with its batch. Each
    is normalised by its output's length, plus one where the search chose eos (min_len 50:
    every output stops at its limit)."""
    model = tiny_model(seed, name)
    src, lengths = toy_batch()
    config = SearchConfig(alpha=0.6, min_len=min_len)
    limits = max_lengths(lengths, config).tolist()
    searches = (
        lambda s, n: greedy_search(model, s, n, BOS, EOS, config),
        lambda s, n: sample(model, s, n, BOS, EOS, dataclasses.replace(config, top_k=1),
                            torch.Generator().manual_seed(0)))
    for search in searches:
        for row, hypothesis in enumerate(search(src, lengths)):
            ended = len(hypothesis.tokens) < limits[row]
            penalty = length_penalty(len(hypothesis.tokens) + ended, config.alpha)
            assert hypothesis.normalized_score == pytest.approx(hypothesis.score / penalty)
            alone = search(src[row : row + 1, : lengths[row]], lengths[row : row + 1])[0]
            assert alone.tokens == hypothesis.tokens
            assert alone.normalized_score == pytest.approx(hypothesis.normalized_score,
                                                           abs=1e-4)


def test_sampling_is_deterministic_given_a_generator_and_scores_are_log_probabilities():
    model = tiny_model(0)
    src, lengths = toy_batch()
    config = SearchConfig(temperature=1.5)

    def draw(seed):
        return sample(model, src, lengths, BOS, EOS, config, torch.Generator().manual_seed(seed))

    first = draw(7)
    assert first == draw(7)
    assert any(draw(seed) != first for seed in range(8, 12))
    limits = max_lengths(lengths, config).tolist()
    for row, hypothesis in enumerate(first):
        expected = teacher_forced_score(model, src, lengths, row, hypothesis, limits[row])
        assert hypothesis.score == pytest.approx(expected, abs=1e-4)


def test_top_k_only_draws_among_the_k_most_probable_tokens():
    model = BigramModel({BOS: {A: 0.4, B: 0.35, EOS: 0.25}, A: {EOS: 1.0}, B: {EOS: 1.0}})
    src = torch.full((200, 1), 5)
    lengths = torch.ones(200, dtype=torch.long)
    generator = torch.Generator().manual_seed(0)
    firsts = {h.tokens[0] if h.tokens else EOS
              for h in sample(model, src, lengths, BOS, EOS, SearchConfig(top_k=2), generator)}
    assert firsts == {A, B}
    firsts = {h.tokens[0] if h.tokens else EOS
              for h in sample(model, src, lengths, BOS, EOS, SearchConfig(), generator)}
    assert firsts == {A, B, EOS}


def test_bad_search_settings_name_the_key():
    from seq2seq.errors import UserError

    with pytest.raises(UserError, match=r"decode.nbest: expected at most decode.beam_size"):
        SearchConfig(beam_size=2, nbest=3).check()
    with pytest.raises(UserError, match=r"decode.temperature: expected a value > 0, got 0"):
        SearchConfig(temperature=0).check()


@pytest.mark.parametrize("settings, message", [
    ({"max_len_offset": 0}, r"decode.max_len_offset: expected a positive integer .*got 0"),
    ({"max_len_offset": -1}, r"decode.max_len_offset: expected a positive integer .*got -1"),
    ({"max_len_ratio": -0.5}, r"decode.max_len_ratio: expected a value >= 0, got -0.5"),
    ({"max_len_ratio": float("nan")}, r"decode.max_len_ratio: expected a finite number"),
    ({"alpha": float("inf")}, r"decode.alpha: expected a finite number, got inf"),
    ({"sample": True, "temperature": float("nan")}, r"decode.temperature: expected a finite"),
    ({"batch_size": 0}, r"decode.batch_size: expected a positive integer, got 0"),
])
def test_length_limits_that_could_leave_no_room_are_rejected_by_name(settings, message):
    """A limit of 0 tokens let a short sentence decode differently alone (nothing) and
    beside a longer one (one token), and a negative one crashed inside the search; nan
    passes every comparison (a nan ratio crashed the search, a nan temperature sampled
    noise)."""
    from seq2seq.errors import UserError

    with pytest.raises(UserError, match=message):
        SearchConfig(**settings).check()
    SearchConfig(max_len_ratio=0.0, max_len_offset=1).check()  # the least that holds eos


@pytest.mark.parametrize("settings, message", [
    ({"alpha": 300.0}, r"decode.alpha: expected at most 10, got 300"),
    ({"beam_size": 10**20}, r"decode.beam_size: expected at most 10,000, got 1"),
    ({"batch_size": 10**20}, r"decode.batch_size: expected at most 1,000,000"),
    ({"max_len_ratio": 1e308}, r"decode.max_len_ratio: expected at most 100, got 1e\+308"),
])
def test_settings_beyond_what_a_search_can_compute_are_rejected_by_name(settings, message):
    """Each of these gave a traceback from inside the search: alpha 300 overflowed the
    length penalty (and, under beam search, left no output at all), a beam of 10**20
    overflowed torch's sizes, a ratio of 1e308 its shapes."""
    from seq2seq.errors import UserError

    with pytest.raises(UserError, match=message):
        SearchConfig(**settings).check()
    SearchConfig(alpha=10.0, beam_size=10_000, nbest=10_000, max_len_ratio=100.0).check()


def test_a_min_len_no_output_can_reach_is_rejected_by_name():
    """With a fixed length limit (max_len_ratio 0) a min_len beyond it was silently cut to
    the limit; equal to it, it forces every output to that length (bench peers does)."""
    from seq2seq.errors import UserError

    with pytest.raises(UserError, match=r"decode.min_len: expected at most "
                                        r"decode.max_len_offset \(60\).* got 61"):
        SearchConfig(max_len_ratio=0.0, max_len_offset=60, min_len=61).check()
    SearchConfig(max_len_ratio=0.0, max_len_offset=60, min_len=60).check()
    SearchConfig(max_len_ratio=0.5, max_len_offset=60, min_len=61).check()  # longer sources
