import gzip
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw

from seq2seq.data.mnist import (
    DigitSplits,
    load_digit_image,
    load_digits,
    load_embedded,
    load_hub,
    load_idx_dir,
    read_idx,
)
from seq2seq.errors import UserError
from tests.helpers import assert_one_line_error, shared_data_dir

STEMS = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
         "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def idx_bytes(tensor: torch.Tensor, dtype_code: int = 0x08) -> bytes:
    """An IDX file's bytes for a uint8 tensor."""
    header = bytes([0, 0, dtype_code, tensor.ndim])
    dims = b"".join(size.to_bytes(4, "big") for size in tensor.shape)
    return header + dims + tensor.numpy().tobytes()


def write_idx(path: Path, tensor: torch.Tensor, compress: bool = False) -> Path:
    data = idx_bytes(tensor)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def random_splits(train: int = 12, test: int = 5) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {
        "train_images": torch.randint(0, 256, (train, 28, 28), generator=generator,
                                      dtype=torch.uint8),
        "train_labels": torch.arange(train, dtype=torch.uint8) % 10,
        "test_images": torch.randint(0, 256, (test, 28, 28), generator=generator,
                                     dtype=torch.uint8),
        "test_labels": torch.arange(test, dtype=torch.uint8) % 10,
    }


def write_idx_dir(directory: Path, tensors: dict[str, torch.Tensor],
                  compress: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for field, stem in STEMS.items():
        write_idx(directory / (stem + (".gz" if compress else "")), tensors[field], compress)
    return directory


def assert_splits_equal(splits: DigitSplits, tensors: dict[str, torch.Tensor]) -> None:
    for field in STEMS:
        actual = getattr(splits, field)
        expected = tensors[field].long() if "labels" in field else tensors[field]
        assert actual.dtype == expected.dtype
        assert torch.equal(actual, expected), field


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("shape", [(3, 28, 28), (7,), (2, 3, 4, 5)])
def test_read_idx_round_trip(tmp_path, compress, shape):
    tensor = torch.randint(0, 256, shape, dtype=torch.uint8)
    read = read_idx(write_idx(tmp_path / "file", tensor, compress))
    assert read.dtype == torch.uint8 and torch.equal(read, tensor)


def test_read_idx_detects_gzip_by_magic_not_suffix(tmp_path):
    tensor = torch.arange(10, dtype=torch.uint8)
    assert torch.equal(read_idx(write_idx(tmp_path / "labels.raw", tensor, True)), tensor)
    assert torch.equal(read_idx(write_idx(tmp_path / "labels.gz", tensor, False)), tensor)


@pytest.mark.parametrize("compress", [False, True])
def test_load_idx_dir_reads_all_four_files(tmp_path, compress):
    tensors = random_splits()
    splits = load_idx_dir(write_idx_dir(tmp_path, tensors, compress))
    assert_splits_equal(splits, tensors)
    assert str(tmp_path) in splits.source


@pytest.mark.parametrize("layout", [("MNIST", "raw"), ("raw",), ("FashionMNIST", "raw")])
def test_load_idx_dir_finds_torchvision_layouts(tmp_path, layout):
    tensors = random_splits()
    write_idx_dir(tmp_path.joinpath(*layout), tensors)
    assert_splits_equal(load_idx_dir(tmp_path), tensors)
    assert_splits_equal(load_digits(data_dir=tmp_path), tensors)


def test_missing_file_error_names_file(tmp_path):
    with pytest.raises(UserError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")
    tensors = random_splits()
    write_idx_dir(tmp_path, tensors)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(UserError) as error:
        load_idx_dir(tmp_path)
    assert_one_line_error(error, "t10k-labels-idx1-ubyte")


def test_empty_directory_lists_what_was_looked_for(tmp_path):
    with pytest.raises(UserError) as error:
        load_idx_dir(tmp_path)
    message = str(error.value)
    for stem in STEMS.values():
        assert stem in message
    assert str(tmp_path / "MNIST" / "raw") in message and "\n" not in message


def test_wrong_magic_names_file_and_numbers(tmp_path):
    tensors = random_splits()
    tensors["train_images"] = tensors["train_labels"]  # a labels file where images belong
    write_idx_dir(tmp_path, tensors)
    with pytest.raises(UserError, match=r"train-images-idx3-ubyte.*expected 2051 \(3 "
                                        r"dimensions\), got 2049 \(1 dimension\)"):
        load_idx_dir(tmp_path)


def test_an_images_header_on_a_labels_file_is_a_wrong_magic_number(tmp_path):
    """Only the header is wrong: it was read as 3 dimensions and reported as truncated,
    expecting some 10^19 bytes."""
    tensors = random_splits()
    write_idx_dir(tmp_path, tensors, compress=False)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(b"\x00\x00\x08\x03" + labels.read_bytes()[4:])
    with pytest.raises(UserError, match=r"t10k-labels-idx1-ubyte: wrong magic number: expected "
                                        r"2049 \(1 dimension\), got 2051 \(3 dimensions\)$"):
        load_idx_dir(tmp_path)


def test_wrong_image_size_is_an_error(tmp_path):
    tensors = random_splits()
    tensors["test_images"] = torch.zeros(5, 32, 32, dtype=torch.uint8)
    write_idx_dir(tmp_path, tensors)
    with pytest.raises(UserError, match=r"t10k-images-idx3-ubyte.*expected 28x28.*got 32x32"):
        load_idx_dir(tmp_path)


def test_truncated_file_says_expected_and_actual(tmp_path):
    data = idx_bytes(torch.zeros(2, 28, 28, dtype=torch.uint8))
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(data[:1000])
    with pytest.raises(UserError,
                       match=r"train-images-idx3-ubyte: truncated: expected 1584 bytes.*got 1000"):
        read_idx(path)
    path.write_bytes(data[:10])
    with pytest.raises(UserError, match="train-images-idx3-ubyte: truncated"):
        read_idx(path)


def test_unsupported_dtype_and_not_idx(tmp_path):
    path = tmp_path / "floats"
    path.write_bytes(idx_bytes(torch.zeros(4, dtype=torch.uint8), dtype_code=0x0D))
    with pytest.raises(UserError, match=r"floats: unsupported IDX data type.*0x0d"):
        read_idx(path)
    path.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(UserError, match="floats: not an IDX file"):
        read_idx(path)


def test_corrupt_gzip_names_file(tmp_path):
    compressed = gzip.compress(idx_bytes(torch.zeros(100, dtype=torch.uint8)))
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(compressed[:12] + b"\xff" * 20)
    with pytest.raises(UserError, match="train-labels-idx1-ubyte.gz: corrupt gzip"):
        read_idx(path)
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(UserError, match="train-labels-idx1-ubyte.gz: corrupt gzip"):
        read_idx(path)


def test_count_mismatch_names_both_files(tmp_path):
    tensors = random_splits()
    tensors["train_labels"] = tensors["train_labels"][:-1]
    write_idx_dir(tmp_path, tensors)
    with pytest.raises(UserError, match=r"train-images-idx3-ubyte.gz: 12 images but "
                                        r".*train-labels-idx1-ubyte.gz: 11 labels"):
        load_idx_dir(tmp_path)


def test_bad_label_value_names_file(tmp_path):
    tensors = random_splits()
    tensors["test_labels"][3] = 12
    write_idx_dir(tmp_path, tensors)
    with pytest.raises(UserError, match=r"t10k-labels-idx1-ubyte.gz: .*0..9, got 12 at index 3"):
        load_idx_dir(tmp_path)


def write_hub_dir(root: Path, tensors: dict[str, torch.Tensor]) -> Path:
    """A local dataset in hub layout: ``data/{split}-00000-of-00001.parquet``."""
    from datasets import ClassLabel, Dataset, Features
    from datasets import Image as ImageFeature

    features = Features({"image": ImageFeature(), "label": ClassLabel(num_classes=10)})
    (root / "data").mkdir(parents=True)
    for split in ("train", "test"):
        images = [Image.fromarray(image.numpy()) for image in tensors[f"{split}_images"]]
        labels = tensors[f"{split}_labels"].tolist()
        dataset = Dataset.from_dict({"image": images, "label": labels}, features=features)
        dataset.to_parquet(root / "data" / f"{split}-00000-of-00001.parquet")
    return root


def test_load_hub_reads_a_local_dataset(tmp_path):
    tensors = random_splits()
    root = write_hub_dir(tmp_path / "mnist-like", tensors)
    splits = load_hub(str(root), cache_dir=tmp_path / "cache")
    assert_splits_equal(splits, tensors)
    assert str(root) in splits.source


def test_load_hub_failure_is_a_user_error(tmp_path):
    missing = tmp_path / "no-such-dataset"
    with pytest.raises(UserError, match="no-such-dataset") as error:
        load_hub(str(missing), cache_dir=tmp_path / "cache")
    assert_one_line_error(error)


@pytest.fixture(scope="module")
def embedded() -> DigitSplits:
    return load_embedded()


def test_embedded_split(embedded):
    assert embedded.train_images.shape == (4000, 28, 28)
    assert embedded.test_images.shape == (1000, 28, 28)
    assert embedded.train_images.dtype == torch.uint8 and embedded.train_labels.dtype == torch.int64
    for labels in (embedded.train_labels, embedded.test_labels):
        counts = torch.bincount(labels, minlength=10)
        assert len(counts) == 10 and counts.min() >= 0.5 * len(labels) / 10
    # MNIST polarity: black background, white ink.
    assert embedded.train_images[:, 0, :].float().mean() < 1
    assert embedded.train_images.max() == 255
    again = load_digits()
    assert torch.equal(again.test_labels, embedded.test_labels)
    assert again.source.startswith("embedded")


def draw_one(path: Path, ink: int, paper: int) -> Path:
    """A thick "1" stroke on a 60-wide, 100-high canvas."""
    canvas = Image.new("L", (60, 100), paper)
    draw = ImageDraw.Draw(canvas)
    draw.line([(24, 25), (34, 15), (34, 85)], fill=ink, width=9)
    canvas.save(path)
    return path


def test_load_digit_image_both_polarities(tmp_path):
    dark_on_light = load_digit_image(draw_one(tmp_path / "black-on-white.png", 0, 255))
    light_on_dark = load_digit_image(draw_one(tmp_path / "white-on-black.png", 255, 0))
    for digit in (dark_on_light, light_on_dark):
        assert digit.shape == (28, 28) and digit.dtype == torch.float32
        assert 0 <= digit.min() and digit.max() <= 1
        assert digit[10:18, 10:18].max() > 0.8  # ink in the centre
        assert digit[4:24, :].sum() > 0.9 * digit.sum()  # 20 px tall, centred vertically
        for corner in (digit[:3, :3], digit[:3, -3:], digit[-3:, :3], digit[-3:, -3:]):
            assert corner.max() < 0.05
    assert (dark_on_light - light_on_dark).abs().max() < 0.05


def test_load_digit_image_blank_and_rgb(tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("L", (40, 40), 255).save(blank)
    assert torch.equal(load_digit_image(blank), torch.zeros(28, 28))
    draw_one(tmp_path / "digit.png", 0, 255)
    rgb = tmp_path / "digit.jpg"
    Image.open(tmp_path / "digit.png").convert("RGB").save(rgb, quality=95)
    gray = load_digit_image(tmp_path / "digit.png")
    assert (load_digit_image(rgb) - gray).abs().mean() < 0.02


def test_load_digit_image_unreadable_names_file(tmp_path):
    text = tmp_path / "not-an-image.png"
    text.write_text("hello")
    with pytest.raises(UserError, match="not-an-image.png"):
        load_digit_image(text)
    with pytest.raises(UserError, match="missing.png"):
        load_digit_image(tmp_path / "missing.png")


def test_real_mnist_if_present():
    shared = shared_data_dir()
    if shared is None or not (shared / "mnist").is_dir():
        pytest.skip("real MNIST not found at ../shared/data/mnist")
    splits = load_idx_dir(shared / "mnist")
    assert splits.train_images.shape == (60000, 28, 28)
    assert splits.test_images.shape == (10000, 28, 28)
    assert len(splits.train_labels) == 60000 and len(splits.test_labels) == 10000
    counts = torch.bincount(splits.train_labels, minlength=10).tolist()
    assert counts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
