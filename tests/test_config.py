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
    from seq2seq.models.translator import EncoderDecoder
    from seq2seq.runs import RECIPES, load_task_recipe

    names = sorted(path.stem for path in RECIPES.glob("*.toml"))
    assert {"fra-eng-attention", "fra-eng-full", "g2p-cmudict-attention"} <= set(names)
    for name in names:
        recipe = load_task_recipe(name)  # checked as it loads: a bad key fails here
        if type(recipe).__name__ == "TranslationRecipe":
            model = EncoderDecoder(recipe.model, 40, 40)
            assert (model.attention is None) == (recipe.model.attention == "none"), name
