"""Attention lifts the fixed-state bottleneck: a synthetic reversal task.

Sources are random strings of 20-40 letters (a-z, A-Z); targets are the same strings
reversed. The first target character depends on the last source character, the last on
the first, so a decoder started from the encoder's final state alone must carry the whole
string in (h, c), while one that attends can look each character up. Same size (a
bidirectional LSTM encoder and an LSTM decoder of 128), same 12,000 training strings, same
training (CONFIG below: 12 epochs, the learning rate halved every 3) on 2 cores, scored on
500 held-out strings. With 10 epochs (Intel Xeon with AMX, fp32):

- ``general`` attention with input feeding: 99.8% reversed exactly (100.0% with
  ``train.seed = 1``), in about 140 s; asserted >= 99%. Input feeding is what gets it past
  98%: the attentional vector fed back says where the decoder looked last, so a repeated
  letter no longer makes it drop or repeat characters (without it, ``general`` reaches
  97.6% in about 50 s; ``bahdanau`` 97.8%);
- no attention: 0.0% (the decoder gets the first characters and then loses the string),
  in about 40 s; asserted <= 30%.

On an AMD EPYC Zen 4 (AVX-512, fp32), whose kernels round differently, 10 epochs gave
98.6% with attention, so the test trains 12, which passes there.

Slow: the two trainings take about three minutes together.
"""

import json
import random

import pytest

from tests.helpers import run_cli

pytestmark = pytest.mark.slow

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
CONFIG = """
task = "translation"
[data]
path = "{train}"
valid_path = "{valid}"
test_path = "{test}"
[tokenizer.source]
kind = "char"
[tokenizer.target]
kind = "char"
[model]
units = 128
embedding = 32
bidirectional_encoder = true
attention = "{attention}"
{feeding}[train]
epochs = {epochs}
batch_size = 64
learning_rate = 0.003
lr_schedule = "step"
lr_step_epochs = 3
lr_gamma = 0.5
clip_grad_norm = 1.0
threads = 2
[decode]
max_len_ratio = 1.0
max_len_offset = 3
[eval]
metrics = ["exact"]
"""
EPOCHS = 12


def strings(count: int, rng: random.Random) -> list[str]:
    return ["".join(rng.choice(LETTERS) for _ in range(rng.randint(20, 40)))
            for _ in range(count)]


@pytest.fixture(scope="module")
def reversal(tmp_path_factory):
    root = tmp_path_factory.mktemp("reversal")
    rng = random.Random(0)
    paths = {}
    for name, count in (("train", 12000), ("valid", 200), ("test", 500)):
        paths[name] = root / f"{name}.tsv"
        paths[name].write_text("".join(f"{s}\t{s[::-1]}\n" for s in strings(count, rng)))
    return root, paths


def exact_match(root, paths, attention: str) -> float:
    recipe = root / f"{attention}.toml"
    feeding = "input_feeding = true\n" if attention != "none" else ""
    recipe.write_text(CONFIG.format(attention=attention, feeding=feeding, epochs=EPOCHS, **paths))
    run = root / f"run-{attention}"
    trained = run_cli("train", str(recipe), "--out", str(run))
    assert trained.exit_code == 0, trained.output
    scored = run_cli("evaluate", str(run), "--split", "test", "--metrics", "exact", "--json")
    assert scored.exit_code == 0, scored.output
    return json.loads(scored.output)["single_reference"]["exact"]


def test_attention_learns_to_reverse_strings_the_fixed_state_cannot(reversal):
    root, paths = reversal
    with_attention = exact_match(root, paths, "general")
    without = exact_match(root, paths, "none")
    assert with_attention >= 99.0, (with_attention, without)
    assert without <= 30.0, (with_attention, without)
