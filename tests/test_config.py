"""Recipes load strictly: unknown keys and wrong types are errors naming the key."""

import pytest

from seq2seq.config import load_recipe, parse_override
from seq2seq.errors import UserError
from seq2seq.tasks.mnist import MnistRecipe


def test_defaults_file_and_overrides(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('[model]\nunits = 32\n[train]\nlearning_rate = 1\n')
    recipe = load_recipe(MnistRecipe, path, ["train.epochs=3", "data.dir=/some/where",
                                             "model.bidirectional=true"])
    assert recipe.model.units == 32 and recipe.train.learning_rate == 1.0
    assert recipe.train.epochs == 3 and recipe.data.dir == "/some/where"
    assert recipe.model.bidirectional is True and recipe.model.cell == "lstm"


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(UserError, match=r"model.unit: unknown key; valid keys here: model.cell, "
                                        r"model.units"):
        load_recipe(MnistRecipe, None, ["model.unit=3"])


def test_wrong_types_and_choices():
    with pytest.raises(UserError, match=r"train.epochs: expected int, got 'many'"):
        load_recipe(MnistRecipe, None, ["train.epochs=many"])
    with pytest.raises(UserError, match=r"train.epochs: expected int, got 1.5"):
        load_recipe(MnistRecipe, None, ["train.epochs=1.5"])
    with pytest.raises(UserError, match=r"model.cell: expected one of \['lstm', 'gru', 'rnn'\]"):
        load_recipe(MnistRecipe, None, ["model.cell=transformer"])
    with pytest.raises(UserError, match=r"train.batch_size: expected a positive integer, got 0"):
        load_recipe(MnistRecipe, None, ["train.batch_size=0"])
    with pytest.raises(UserError, match=r"expected key=value"):
        parse_override("train.epochs")


@pytest.mark.parametrize("override, message", [
    ("train.learning_rate=nan", r"train.learning_rate: expected a finite number, got nan"),
    ("train.learning_rate=inf", r"train.learning_rate: expected a finite number, got inf"),
    ("train.weight_decay=-1", r"train.weight_decay: expected 0 or more, got -1.0"),
    ("train.clip_grad_norm=-1", r"train.clip_grad_norm: expected 0 or more"),
    ("train.max_minutes=-1", r"train.max_minutes: expected 0 or more"),
    ("train.eval_every_steps=-1", r"train.eval_every_steps: expected 0 or more, got -1"),
    ("train.early_stopping_patience=-1", r"train.early_stopping_patience: expected 0 or more"),
    ("train.threads=-2", r"train.threads: expected 0 or more, got -2"),
    ("train.threads=5000", r"train.threads: expected at most 1024, got 5000"),
    ("train.seed=-1", r"train.seed: expected 0 to 4294967295, got -1"),
    ("train.seed=99999999999999999999", r"train.seed: expected 0 to 4294967295, got 9{20}"),
    ("train.lr_step_epochs=0", r"train.lr_step_epochs: expected a positive integer, got 0"),
    ("train.lr_gamma=2", r"train.lr_gamma: expected a factor in \(0, 1\), got 2.0"),
    ("train.bf16=yes", r"train.bf16: expected bool or one of 'auto', got 'yes'"),
    ("model.input_projection=-3", r"model.input_projection: expected 0 \(none\) or a size"),
    # sizes whose arithmetic overflows inside torch were a traceback
    ("model.units=99999999999999999999", r"model.units: expected at most 1,048,576, got 9"),
    ("model.layers=1025", r"model.layers: expected at most 1,024, got 1,025"),
    ("model.input_projection=1048577", r"model.input_projection: expected at most 1,048,576"),
])
def test_values_out_of_range_are_errors_naming_the_key(override, message):
    """nan passes every comparison and inf most: a range check alone lets them through
    (a learning rate of inf trained to a nan loss and saved it as the best checkpoint)."""
    schedule = ["train.lr_schedule=step"] if "lr_" in override else []
    with pytest.raises(UserError, match=message):
        load_recipe(MnistRecipe, None, [*schedule, override])


def test_bad_recipe_file(tmp_path):
    with pytest.raises(UserError, match=r"missing.toml: recipe file not found"):
        load_recipe(MnistRecipe, tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nunits=")
    with pytest.raises(UserError, match=r"bad.toml: not valid TOML"):
        load_recipe(MnistRecipe, bad)


@pytest.mark.parametrize("name", ["mnist", "mnist-demo", "mnist-pytorch", "mnist-tf-lstm",
                                  "mnist-tf-rnn"])
def test_shipped_recipes_load(name):
    from seq2seq.config import find_recipe
    from seq2seq.runs import RECIPES

    load_recipe(MnistRecipe, find_recipe(name, RECIPES))


def test_every_shipped_recipe_loads_as_its_task_and_builds_its_model():
    from seq2seq.models.encoder_decoder import EncoderDecoder
    from seq2seq.runs import RECIPES, load_task_recipe

    names = sorted(path.stem for path in RECIPES.glob("*.toml"))
    assert {"fra-eng-attention", "fra-eng-full", "g2p-cmudict-attention"} <= set(names)
    for name in names:
        recipe = load_task_recipe(name)  # checked as it loads: a bad key fails here
        if type(recipe).__name__ == "TranslationRecipe":
            model = EncoderDecoder(recipe.model, 40, 40)
            assert (model.attention is None) == (recipe.model.attention == "none"), name
