"""What several test modules share: the command-line runner, the one-line-error check, the
tiny corpus and settings that train in seconds, and small builders of models and tasks.

A test module imports from here (and takes fixtures from ``conftest.py``), never from
another test module.
"""

import importlib.util
import os
import signal
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner, Result

from seq2seq.cli import main
from seq2seq.data.mnist import DigitSplits
from seq2seq.models import RowClassifierConfig
from seq2seq.models.encoder_decoder import EncoderDecoder, TranslatorConfig
from seq2seq.tasks.mnist import MnistDataConfig, MnistRecipe, MnistTask
from seq2seq.trainer import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

# --- the command line -------------------------------------------------------------------


def run_cli(*arguments, **options) -> Result:
    """``seq2seq ARGUMENTS...`` in this process (click's runner: stdout and stderr in
    ``result.output``); an argument may be a path. ``options`` go to
    :meth:`click.testing.CliRunner.invoke` (``input=``, ``env=``, ``catch_exceptions=``)."""
    return CliRunner().invoke(main, [os.fspath(a) if isinstance(a, os.PathLike) else a
                                     for a in arguments], **options)


def assert_one_line_error(failure: Result | BaseException | pytest.ExceptionInfo,
                          *expected: str | os.PathLike, after_progress: bool = False) -> str:
    """Bad input was refused in one line naming what to fix; returns that line.

    ``failure`` is a command's result or the error raised. A command exits with status 1
    and prints one line, ``Error: ...``, and no traceback (with ``after_progress``, a
    command that stopped part-way may print its progress before that last line). An
    error's message has no line break. The line holds each of ``expected``."""
    if isinstance(failure, Result):
        output = failure.output
        assert failure.exit_code == 1, output
        assert "Traceback" not in output, output
        lines = output.rstrip("\n").splitlines()
        errors = [line for line in lines if line.startswith("Error: ")]
        assert errors and lines[-1] == errors[0], output
        assert len(errors) == 1 if after_progress else len(lines) == 1, output
        message = errors[0]
    else:
        error = failure.value if isinstance(failure, pytest.ExceptionInfo) else failure
        message = str(error)
        assert "\n" not in message, message
    for text in expected:
        assert os.fspath(text) in message, message
    return message


def load_script(name: str):
    """``scripts/NAME.py`` as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def shared_data_dir() -> Path | None:
    """``$SEQ2SEQ_SHARED_DATA`` or ``../shared/data`` beside the checkout, if present."""
    env = os.environ.get("SEQ2SEQ_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "data")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


# --- a tiny English-French corpus and the settings that train on it in seconds -----------

PAIRS = [
    ("Go.", "Va !"), ("Hi.", "Salut !"), ("Run!", "Cours !"), ("Wow!", "Ça alors !"),
    ("Fire!", "Au feu !"), ("Help!", "À l'aide !"), ("Stop!", "Arrête-toi !"),
    ("Wait!", "Attends !"), ("I see.", "Je comprends."), ("I try.", "J'essaye."),
    ("I won!", "J'ai gagné !"), ("Smile.", "Souris."),
]
FAST = ["--set", "model.units=16", "--set", "model.embedding=8", "--set", "train.epochs=2",
        "--set", "train.batch_size=4", "--set", "eval.max_sentences=0", "--threads", "1"]


# --- tiny random translators, for search and ensembles -----------------------------------

PAD, BOS, EOS, A, B = 0, 1, 2, 3, 4
VOCAB = 11
CONFIGS = {
    "lstm": TranslatorConfig(units=8),
    "gru-2-layers": TranslatorConfig(cell="gru", units=8, layers=2, embedding=6),
    "bidirectional": TranslatorConfig(units=8, embedding=6, bidirectional_encoder=True),
    # attention: the encoder memory rides in the state; search must carry it unchanged
    "dot-attention": TranslatorConfig(units=8, embedding=6, attention="dot"),
    "general-feeding-bidirectional": TranslatorConfig(
        units=8, embedding=6, bidirectional_encoder=True, attention="general",
        input_feeding=True),
    "bahdanau-feeding-gru-2-layers": TranslatorConfig(
        cell="gru", units=8, layers=2, embedding=6, attention="bahdanau", input_feeding=True),
}


@pytest.fixture(autouse=True, params=["plain product", "product per distinct parent"])
def parent_product(request, monkeypatch):
    """Every test of a module that imports this runs twice: with the LSTM step's product
    taken per distinct parent row at every beam step (however few rows: the tiny batches
    never reach the default minimum), and never (as for greedy search and wide, diverse
    beams)."""
    from seq2seq.core import stepping

    always = request.param == "product per distinct parent"
    monkeypatch.setattr(stepping, "DISTINCT_ROWS_MIN", 1 if always else 1 << 30)
    monkeypatch.setattr(stepping, "DISTINCT_ROWS_SHARE", 1.0)


def tiny_model(seed: int, name: str = "lstm") -> EncoderDecoder:
    """A random translator whose outputs are peaked enough for eos to come at varied steps."""
    torch.manual_seed(seed)
    model = EncoderDecoder(CONFIGS[name], src_vocab=12, tgt_vocab=VOCAB).eval()
    with torch.no_grad():
        model.output.weight.mul_(4.0)
        model.output.bias[EOS] += 1.0
    return model


def toy_batch():
    src = torch.tensor([[5, 6, 7, 8], [9, 5, 0, 0], [6, 0, 0, 0], [7, 11, 10, 0]])
    return src, torch.tensor([4, 2, 1, 3])


def teacher_forced_score(model, src, src_lengths, row, hypothesis, limit) -> float:
    ended = len(hypothesis.tokens) < limit
    target = hypothesis.tokens + ([EOS] if ended else [])
    tgt_in = torch.tensor([[BOS] + target[:-1]])
    length = int(src_lengths[row])
    log_probs = model(src[row : row + 1, :length], src_lengths[row : row + 1],
                      tgt_in).log_softmax(-1)[0]
    return sum(log_probs[t, token].item() for t, token in enumerate(target))


def assert_steps_equal_teacher_forcing(model, src, lengths, tgt_in, logits,
                                       atol: float = 1e-5) -> None:
    """``encode`` then one ``step`` per position gives the teacher-forced ``logits``, both
    with gradients (the layers' own path) and without (in eval mode on CPU, an LSTM
    decoder's :class:`seq2seq.core.LSTMStep`)."""
    for gradients in (True, False):
        with torch.set_grad_enabled(gradients):
            state = model.encode(src, lengths)
            steps = []
            for t in range(tgt_in.shape[1]):
                step_logits, state = model.step(tgt_in[:, t], state)
                steps.append(step_logits)
        torch.testing.assert_close(torch.stack(steps, 1).detach(), logits.detach(), atol=atol,
                                   rtol=1e-5)


# --- a small MNIST task, for the trainer ------------------------------------------------


def synthetic_digits(count=96, seed=0):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 10
    images = torch.randint(0, 60, (count, 28, 28), generator=generator, dtype=torch.uint8)
    for index, label in enumerate(labels):  # a learnable signal: a bright row per class
        images[index, 2 + 2 * label] = 255
    return DigitSplits(images, labels, images[:40].clone(), labels[:40].clone(), "synthetic")


def make_mnist_task(device: str = "cpu", **train):
    recipe = MnistRecipe(
        data=MnistDataConfig(source="embedded", valid_size=16),
        model=RowClassifierConfig(units=8, dropout=0.3),
        train=TrainConfig(**{"epochs": 2, "batch_size": 16, "seed": 7, **train}),
    )
    torch.manual_seed(recipe.train.seed)
    return MnistTask(recipe, synthetic_digits(), torch.device(device))


def weights(task):
    return {k: v.clone() for k, v in task.model.state_dict().items()}


def assert_same_weights(expected_task, got_task):
    """The two tasks' models hold the same tensors, bit for bit, under the same names."""
    expected, got = weights(expected_task), weights(got_task)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name


def send_sigint_on_call(function, call: int):
    """``function``, sending this process a SIGINT (a real Ctrl-C) on its ``call``-th call."""
    calls = {"n": 0}

    def wrapped(*args):
        calls["n"] += 1
        if calls["n"] == call:
            os.kill(os.getpid(), signal.SIGINT)
        return function(*args)

    return wrapped
