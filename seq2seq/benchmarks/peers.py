"""``seq2seq bench peers``: our translator against OpenNMT-py's on the identical model.

Both toolkits get the same model (a one-layer LSTM encoder and decoder of 256, target
embeddings of 64, vocabularies 71 / 93, no attention, the encoder's final (h, c) starts
the decoder: OpenNMT-py's ``-encoder_type rnn -decoder_type rnn -rnn_type LSTM
-global_attention none -input_feed 0``), the same random weights (ours copied into
theirs, checked equal on a forward pass), the same random batches, fp32, and are timed
interleaved in one process: training steps (forward, loss, backward, Adam), greedy and
beam 5 with every output forced to exactly ``OUTPUT_TOKENS`` tokens (so the search's
work is the same whatever the weights). Training runs twice: on the random batches,
whose targets of 10-60 tokens leave 40% of the decoder's positions padding (our decoder
skips most of it, :mod:`seq2seq.core.segments`; OpenNMT-py's computes it), and on the
same pairs batched by target length, where hardly any padding is left to skip and the
two fused kernels meet on equal terms. Beside them, our model alone, with no search
(the encoder, then the decoder's steps on 1 and on 5 rows per source): how fast 5 rows
go against 1 is what beam 5 / greedy would be if neither search cost anything beside
the model and a step shared nothing between rows, on this machine (our beam search's step
multiplies the recurrent state of a parent once for all its hypotheses, so it can beat
that ratio). With ``--bf16`` (a CPU with native bf16 only), both also train under the
same bf16 autocast, as ``train.bf16 = "auto"`` trains there.

Each ratio is the median over rounds of that round's ratio (ours and theirs ran next to
each other), so that a slow spell of the machine, which falls on both, cancels; the
speeds beside it are the median of each side's rounds.

OpenNMT-py is not a dependency of this project. Install it into a separate virtual
environment beside ours (its ``torch<2.3`` pin is not enforced there)::

    python3.11 -m venv .venv-peers
    .venv-peers/bin/pip install torch==2.13.0 numpy
    .venv-peers/bin/pip install --no-deps opennmt-py==3.5.1 -e .
    .venv-peers/bin/pip install configargparse pyonmttok pyahocorasick regex rapidfuzz click
    .venv-peers/bin/seq2seq bench peers

(``make peers-venv`` does the same.) Two data transforms it never runs import ``spacy``
and ``fasttext``; empty stand-in modules take their place here.
"""

from __future__ import annotations

import copy
import importlib.util
import statistics
import sys
import time
import types
import warnings

import torch
import torch.nn.functional as F

from seq2seq.base.errors import UserError

INSTALL = ("OpenNMT-py is not installed in this environment; see `seq2seq bench peers "
           "--help` (or make peers-venv) for the separate virtual environment it runs in")
SOURCE_VOCAB, TARGET_VOCAB, UNITS, EMBEDDING = 71, 93, 256, 64
OUTPUT_TOKENS = 60
PAD, BOS, EOS = 0, 1, 2  # ours; OpenNMT-py's vocabularies are built in the same order


def import_opennmt():
    """OpenNMT-py's modules, or a :class:`UserError` saying how to install it."""
    if importlib.util.find_spec("onmt") is None:
        raise UserError(f"{INSTALL} (no module named 'onmt')")
    # spacy and fasttext are imported by transforms the benchmark never uses: empty stand-ins
    # where they are not installed (only here, where OpenNMT-py is: other libraries, the
    # datasets package among them, look for spacy and would take a stand-in for it)
    # (a second call finds its own stand-ins, whose missing __spec__ find_spec refuses)
    for name in ("spacy", "fasttext"):
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
    # its modules use torch.cuda.amp decorators that torch 2.13 deprecates, and its beam
    # search warns that alpha 0 means no length penalty: noise in a benchmark's output
    warnings.filterwarnings("ignore", category=FutureWarning, message=".*custom_(fwd|bwd)")
    warnings.filterwarnings("ignore", message="Using length penalty with alpha==0")
    try:
        import onmt.opts
        import pyonmttok
        from onmt.model_builder import build_base_model
        from onmt.translate import GNMTGlobalScorer
        from onmt.translate.translator import Translator
        from onmt.utils.parse import ArgumentParser
    except ImportError as error:
        raise UserError(f"{INSTALL} ({error})") from None
    return types.SimpleNamespace(opts=onmt.opts, pyonmttok=pyonmttok,
                                 build_base_model=build_base_model,
                                 GNMTGlobalScorer=GNMTGlobalScorer, Translator=Translator,
                                 ArgumentParser=ArgumentParser)


def build_models(onmt):
    """Our EncoderDecoder and OpenNMT-py's NMTModel with the same weights."""
    from seq2seq.models.encoder_decoder import EncoderDecoder, TranslatorConfig

    ours = EncoderDecoder(TranslatorConfig(units=UNITS, layers=1, embedding=EMBEDDING),
                          SOURCE_VOCAB, TARGET_VOCAB, PAD)
    parser = onmt.ArgumentParser()
    onmt.opts.model_opts(parser)
    opt = parser.parse_args(["-encoder_type", "rnn", "-decoder_type", "rnn", "-rnn_type",
                             "LSTM", "-global_attention", "none", "-input_feed", "0",
                             "-layers", "1", "-hidden_size", str(UNITS), "-word_vec_size",
                             str(EMBEDDING)])
    opt.dropout, opt.attention_dropout, opt.optim = [0.0], [0.0], "adam"
    opt.freeze_word_vecs_enc = opt.freeze_word_vecs_dec = False
    onmt.ArgumentParser.update_model_opts(opt)
    onmt.ArgumentParser.validate_model_opts(opt)

    def vocabulary(size: int):
        vocab = onmt.pyonmttok.Vocab(special_tokens=["<blank>", "<s>", "</s>", "<unk>"])
        for index in range(size - 4):
            vocab.add_token(f"t{index}")
        return vocab

    vocabs = {"src": vocabulary(SOURCE_VOCAB), "tgt": vocabulary(TARGET_VOCAB),
              "decoder_start_token": "<s>"}
    theirs = onmt.build_base_model(opt, vocabs)
    with torch.no_grad():
        for side, embedding in (("encoder", ours.src_input), ("decoder", ours.tgt_input)):
            getattr(theirs, side).embeddings.make_embedding.emb_luts[0].weight.copy_(
                embedding.embedding.weight)
            cell = getattr(ours, side).layers[0].cell
            rnn = getattr(theirs, side).rnn
            rnn.weight_ih_l0.copy_(cell.weight_ih)  # both in torch's gate order (i, f, g, o)
            rnn.weight_hh_l0.copy_(cell.weight_hh)
            rnn.bias_ih_l0.copy_(cell.bias)
            rnn.bias_hh_l0.zero_()
        theirs.generator.weight.copy_(ours.output.weight)
        theirs.generator.bias.copy_(ours.output.bias)
    return ours, theirs, vocabs


def random_batches(count: int, batch_size: int, generator: torch.Generator):
    """``(src, src_lengths, tgt)`` batches: sources of 10-40 tokens, targets of 10-60
    (bos + tokens + eos), right-padded."""
    batches = []
    for _ in range(count):
        src_lengths = torch.randint(10, 41, (batch_size,), generator=generator)
        tgt_lengths = torch.randint(10, 61, (batch_size,), generator=generator)
        src = torch.randint(4, SOURCE_VOCAB, (batch_size, int(src_lengths.max())),
                            generator=generator)
        src[torch.arange(src.shape[1]) >= src_lengths[:, None]] = PAD
        body = torch.randint(4, TARGET_VOCAB, (batch_size, int(tgt_lengths.max()) + 2),
                             generator=generator)
        position = torch.arange(body.shape[1])
        body[:, 0] = BOS
        body[position == (tgt_lengths + 1)[:, None]] = EOS
        body[position > (tgt_lengths + 1)[:, None]] = PAD
        batches.append((src, src_lengths, body))
    return batches


def length_sorted(batches):
    """The same pairs as ``batches``, sorted by target length and batched again (as a
    length-bucketing trainer would): hardly any padding left for either toolkit to skip."""
    rows = [(src[i, : int(length)], tgt[i, : int((tgt[i] != PAD).sum())])
            for src, src_lengths, tgt in batches for i, length in enumerate(src_lengths)]
    rows.sort(key=lambda row: len(row[1]))
    size, sorted_batches = batches[0][0].shape[0], []
    for at in range(0, len(rows), size):
        part = rows[at : at + size]
        src = torch.nn.utils.rnn.pad_sequence([r[0] for r in part], True, PAD)
        tgt = torch.nn.utils.rnn.pad_sequence([r[1] for r in part], True, PAD)
        sorted_batches.append((src, torch.tensor([len(r[0]) for r in part]), tgt))
    return sorted_batches


def check_same_model(ours, theirs, batch) -> float:
    """Largest difference of the two models' teacher-forced logits on ``batch``, at its
    real target positions (ours skips most padded ones)."""
    src, src_lengths, tgt = batch
    with torch.no_grad():
        mine = ours(src, src_lengths, tgt[:, :-1])
        decoded, _ = theirs(src[:, :, None], tgt[:, :, None], src_lengths)
        other = theirs.generator(decoded)
    return float((mine - other).abs()[tgt[:, 1:] != PAD].max())


def _train_ours(model, optimizer, batches, bf16: bool = False) -> None:
    from seq2seq.models.encoder_decoder import sequence_loss

    for src, src_lengths, tgt in batches:
        optimizer.zero_grad()
        with _autocast(bf16):  # forward and loss, as the trainer's step; backward outside
            loss = sequence_loss(model(src, src_lengths, tgt[:, :-1]), tgt[:, 1:], PAD)
        loss.backward()
        optimizer.step()


def _train_theirs(model, optimizer, batches, bf16: bool = False) -> None:
    for src, src_lengths, tgt in batches:
        optimizer.zero_grad()
        with _autocast(bf16):
            decoded, _ = model(src[:, :, None], tgt[:, :, None], src_lengths)
            logits = model.generator(decoded)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), tgt[:, 1:].flatten(),
                                   ignore_index=PAD)
        loss.backward()
        optimizer.step()


def _autocast(bf16: bool):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


def _search_ours(model, batches, beam: int) -> list[list[int]]:
    from seq2seq.search import SearchConfig, beam_search, greedy_search

    config = SearchConfig(beam_size=beam, min_len=OUTPUT_TOKENS, max_len_ratio=0.0,
                          max_len_offset=OUTPUT_TOKENS)
    search = greedy_search if beam == 1 else beam_search
    outputs = []
    with torch.no_grad():
        for src, src_lengths, _ in batches:
            for found in search(model, src, src_lengths, BOS, EOS, config):
                best = found if beam == 1 else found[0]
                outputs.append(best.tokens)
    return outputs


def _model_alone(model, batches, copies: int) -> None:
    """Our model without a search: encode, repeat each sentence's state ``copies`` times
    (5: beam 5's rows), then ``OUTPUT_TOKENS`` decoder steps, each fed its argmax."""
    from seq2seq.search import repeat_state

    with torch.no_grad():
        for src, src_lengths, _ in batches:
            state = repeat_state(model.encode(src, src_lengths), copies)
            tokens = torch.full((src.shape[0] * copies,), BOS, dtype=torch.long)
            for _ in range(OUTPUT_TOKENS):
                logits, state = model.step(tokens, state)
                tokens = logits.log_softmax(-1).argmax(-1)


def _search_theirs(translator, batches) -> list[list[int]]:
    outputs = []
    for src, src_lengths, _ in batches:
        results = translator.translate_batch({"src": src[:, :, None], "srclen": src_lengths},
                                             attn_debug=False)
        outputs.extend(prediction[0].tolist() for prediction in results["predictions"])
    return outputs


def run_peer_benchmark(sources: int, batch_size: int, train_batches: int, rounds: int,
                       threads: int, bf16: bool = False) -> dict:
    """Seconds per task (median over ``rounds``, ours and theirs interleaved), each task's
    ratio (theirs / ours, the median of the rounds' ratios), the outputs' agreement and the
    largest logit difference of the two models. ``bf16``: training also runs under bf16
    autocast (:class:`UserError` where this CPU has no native bf16)."""
    from seq2seq.core import precision

    if bf16 and not precision.bf16_native("cpu"):
        raise UserError(f"--bf16: {precision.missing_bf16('cpu')}")
    onmt = import_opennmt()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    ours, theirs, vocabs = build_models(onmt)
    generator = torch.Generator().manual_seed(1)
    decode_batches = random_batches(sources // batch_size, batch_size, generator)
    training = random_batches(train_batches, batch_size, generator)
    difference = check_same_model(ours.eval(), theirs.eval(), decode_batches[0])

    def translator(beam: int, greedy: bool):
        scorer = onmt.GNMTGlobalScorer(alpha=0.0, beta=0.0, length_penalty="none",
                                       coverage_penalty="none")
        return onmt.Translator(theirs, vocabs, gpu=-1, n_best=1, min_length=OUTPUT_TOKENS,
                               max_length=OUTPUT_TOKENS, max_length_ratio=0.0,
                               beam_size=beam, random_sampling_topk=1 if greedy else 0,
                               global_scorer=scorer, report_score=False)

    tasks = {
        "greedy": (lambda: _search_ours(ours, decode_batches, 1),
                   lambda: _search_theirs(translator(1, True), decode_batches)),
        "beam 1": (lambda: _search_ours(ours, decode_batches, 1),
                   lambda: _search_theirs(translator(1, False), decode_batches)),
        "beam 5": (lambda: _search_ours(ours, decode_batches, 5),
                   lambda: _search_theirs(translator(5, False), decode_batches)),
    }
    # each training's bf16 flag, batches, and copies to train (the searches use the
    # untrained models); "train sorted": the same pairs, batched by target length
    trainings = {name: (precision_bf16, batches, [_trainee(model) for model in (ours, theirs)])
                 for name, precision_bf16, batches in (
                     ("train", False, training), ("train sorted", False, length_sorted(training)),
                     ("train bf16", True, training))
                 if bf16 or not precision_bf16}
    seconds: dict[str, list[list[float]]] = {name: [[], []] for name in [*trainings, *tasks]}
    alone: dict[int, list[float]] = {1: [], 5: []}  # our model without a search, per copies
    agreement = {}
    for round_index in range(rounds + 1):  # round 0 warms up and is not counted
        for name, (mine, other) in tasks.items():
            results = []
            for side, run in enumerate((mine, other)):
                start = time.perf_counter()
                results.append(run())
                if round_index:
                    seconds[name][side].append(time.perf_counter() - start)
            agreement[name] = sum(a == b for a, b in zip(*results))
        for copies, times in alone.items():
            start = time.perf_counter()
            _model_alone(ours, decode_batches, copies)
            if round_index:
                times.append(time.perf_counter() - start)
        for name, (precision_bf16, batches, pair) in trainings.items():
            for side, ((model, optimizer), step) in enumerate(
                    zip(pair, (_train_ours, _train_theirs))):
                start = time.perf_counter()
                step(model, optimizer, batches, precision_bf16)
                if round_index:
                    seconds[name][side].append(time.perf_counter() - start)
    tokens = sum(int((tgt[:, 1:] != PAD).sum()) for _, _, tgt in training)
    return {"seconds": {name: [statistics.median(side) for side in pair]
                        for name, pair in seconds.items()},
            "ratios": {name: median_ratio(theirs, ours)
                       for name, (ours, theirs) in seconds.items()},
            "beam_over_greedy": median_ratio(seconds["greedy"][0], seconds["beam 5"][0]),
            "alone_ratio": median_ratio(alone[1], alone[5]),
            "bf16_speedup": median_ratio(seconds["train"][0], seconds["train bf16"][0]) if bf16
            else None,
            "alone": {copies: statistics.median(times) for copies, times in alone.items()},
            "agreement": agreement, "sources": len(decode_batches) * batch_size,
            "difference": difference, "train_tokens": tokens, "threads": threads,
            "batch_size": batch_size}


def median_ratio(numerators: list[float], denominators: list[float]) -> float:
    """The median over rounds of ``numerators[r] / denominators[r]`` (two timings taken
    side by side in round ``r``): a slow spell of the machine falls on both and cancels,
    where a ratio of the two medians would carry it over whenever it fell on one side's
    median round."""
    return statistics.median(n / d for n, d in zip(numerators, denominators, strict=True))


def _trainee(model):
    """A training copy of ``model`` and its optimizer."""
    trained = copy.deepcopy(model).train()
    return trained, torch.optim.Adam(trained.parameters(), lr=1e-4)


def format_peer_table(result: dict) -> str:
    import onmt

    seconds, sources, ratios = result["seconds"], result["sources"], result["ratios"]
    precision = "fp32" if result["bf16_speedup"] is None else \
        "fp32, and training also under bf16 autocast"
    lines = [f"ours vs OpenNMT-py {getattr(onmt, '__version__', '?')} on the identical "
             f"model (LSTM {UNITS}, embeddings {EMBEDDING}, vocabularies {SOURCE_VOCAB} / "
             f"{TARGET_VOCAB}, no attention); {precision}, {result['threads']} threads; {sources} "
             f"sources in batches of {result['batch_size']}, outputs forced to "
             f"{OUTPUT_TOKENS} tokens; largest logit difference "
             f"{result['difference']:.1e}",
             f"{'':<26} {'ours':>9} {'OpenNMT-py':>11} {'ratio':>6} {'same outputs':>13}"]
    for name, label in (("train", "training, target tok/s"),
                        ("train sorted", "  batched by length, tok/s"),
                        ("train bf16", "training bf16, tok/s")):
        if name in seconds:
            ours, theirs = seconds[name]
            lines.append(f"{label:<26} {result['train_tokens'] / ours:>9,.0f} "
                         f"{result['train_tokens'] / theirs:>11,.0f} {ratios[name]:>6.2f}")
    labels = {"greedy": "greedy (its greedy), sent/s", "beam 1": "greedy (its beam 1), sent/s",
              "beam 5": "beam 5, sentences/s"}
    for name, label in labels.items():
        ours, theirs = seconds[name]
        lines.append(f"{label:<26} {sources / ours:>9,.0f} {sources / theirs:>11,.0f} "
                     f"{ratios[name]:>6.2f} {result['agreement'][name]:>7}/{sources}")
    lines.append(f"our beam 5 runs at {result['beam_over_greedy']:.2f}x our greedy's "
                 "sentences/s")
    lines.append(f"our model alone (encoder, then {OUTPUT_TOKENS} steps each fed its argmax; "
                 f"no search) with 5 rows per source runs at {result['alone_ratio']:.2f}x its "
                 "speed with 1: beam 5 / greedy if neither search cost anything and the 5 "
                 "rows shared nothing (our beam step multiplies a parent's state once for "
                 "all its hypotheses)")
    if result["bf16_speedup"] is not None:
        lines.append(f"our training under bf16 autocast runs at {result['bf16_speedup']:.2f}x "
                     "our fp32 training's tokens/s")
    lines.append("ratios: the median over rounds of each round's ratio (ours and theirs "
                 "side by side)")
    return "\n".join(lines)
