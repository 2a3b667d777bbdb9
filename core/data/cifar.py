"""CIFAR-10 from the published Python pickles (``cifar-10-batches-py``), with label-derived captions."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import register
from .base import DatasetTraits
from .common import LabelledImages, Published, check_channels, check_request, class_captions, load_pickle, str_keys

CIFAR10 = Published(
    "cifar10",
    layout=(
        "<root>/cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch, batches.meta\n"
        "(root may also be the cifar-10-batches-py directory itself)"
    ),
    url="https://www.cs.toronto.edu/~kriz/cifar.html (CIFAR-10 python version)",
)
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
CAPTION_TEMPLATES = (
    "a photo of {a_name}",
    "a small photo of the {name}",
    "a blurry picture of {a_name}",
    "a low resolution image of {a_name}",
    "a tiny image showing {a_name}",
    "{a_name} in a photo",
)


def _batches_dir(root: Path) -> Path:
    for folder in (root, root / "cifar-10-batches-py"):
        if (folder / "batches.meta").is_file():
            return folder
    raise CIFAR10.error(f"no batches.meta in {root} or {root / 'cifar-10-batches-py'}")


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR batch pickle → uint8 images ``[N, 32, 32, 3]`` and int64 labels ``[N]``."""
    batch = load_pickle(path, CIFAR10)
    batch = str_keys(batch) if isinstance(batch, dict) else {}
    if "data" not in batch or "labels" not in batch:
        raise CIFAR10.error(f"{path} is not a CIFAR batch: expected a dict with 'data' and 'labels'")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise CIFAR10.error(
            f"{path} holds data {data.dtype} {data.shape} and {len(labels)} labels; "
            "expected uint8 [N, 3072] (R, G, B planes of 32x32) and N labels"
        )
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels  # [N, 32, 32, 3], [N]


def read_class_names(path: Path) -> list[str]:
    meta = load_pickle(path, CIFAR10)
    names = str_keys(meta).get("label_names") if isinstance(meta, dict) else None
    if not names:
        raise CIFAR10.error(f"{path} has no 'label_names'")
    return [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names]


# the names batches.meta holds, in label order (the traits need them before any file is read)
TRAITS = DatasetTraits(class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                                    "truck"), class_noun="object class")


@register("cifar10", traits=TRAITS)
def build_cifar10(split: str, resolution: int, root, seed: int, channels: int = 3, **options) -> LabelledImages:
    """CIFAR-10 (50,000 train / 10,000 test, 10 classes) from the python pickles.

    Args:
        split: ``train`` or ``test``.
        resolution: output side length.
        root: the directory holding ``cifar-10-batches-py`` (or that directory).
        seed: caption-choice seed.
        channels: 3 (default) or 1 (luminance).
    Raises:
        DatasetError: missing, truncated or malformed pickles, or bad arguments.
    """
    check_request(CIFAR10, split, ("train", "test"), resolution, options)
    check_channels(CIFAR10, channels)
    folder = _batches_dir(CIFAR10.root(root))
    class_names = read_class_names(folder / "batches.meta")
    parts = [read_batch(folder / name) for name in (TRAIN_BATCHES if split == "train" else ["test_batch"])]
    images = np.concatenate([p[0] for p in parts])  # [N, 32, 32, 3]
    labels = np.concatenate([p[1] for p in parts])  # [N]
    if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise CIFAR10.error(f"labels outside 0..{len(class_names) - 1} in {folder}")
    captions = class_captions(CAPTION_TEMPLATES, class_names)
    return LabelledImages(images, labels, resolution, class_names, captions, seed=seed, channels=channels)
