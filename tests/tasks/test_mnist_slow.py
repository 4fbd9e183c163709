"""The seed tutorial on the real MNIST (../shared/data/mnist): slow, skipped without it."""

import json

import pytest

from tests.helpers import run_cli, shared_data_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mnist_dir():
    data = shared_data_dir()
    if data is None or not (data / "mnist").is_dir():
        pytest.skip("the real MNIST is not in ../shared/data/mnist")
    return data / "mnist"


def test_mnist_pytorch_recipe_reaches_the_tutorials_accuracy(mnist_dir, tmp_path):
    """The tutorial reports 96.45% on the first 2,000 test images after one epoch."""
    run_dir = tmp_path / "run"
    result = run_cli("mnist", "train", "mnist-pytorch", "--data-dir", str(mnist_dir), "--threads",
                     "2", "--out", str(run_dir))
    assert result.exit_code == 0, result.output
    report = json.loads((run_dir / "test.json").read_text())
    assert report["images"] == 10000
    assert report["accuracy_first_2000"] > 0.94  # this seed: 95.3%; the tutorial 96.45%
    assert report["accuracy"] > 0.95  # this seed: 96.4%; the tutorial loop 96.3%
