"""Real data for evaluation: a split as uint8 arrays plus its conditions, and image folders.

Metrics work on uint8 images (torch-fidelity's convention), so everything here returns
``uint8 [N, C, H, W]`` tensors. Items are read through :func:`core.data.load_dataset`, so any
registered dataset works; a dataset whose items carry more gives more: categorical attribute
ids (``attribute_ids``), scene parameters (position, size, light) and normals (``shapes``).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from core.data import dataset_traits, load_dataset

# Scene parameters regressed by the shapes classifier so that its features see the nuisance factors
# that captions leave unsaid (a generator should vary them); each maps shapes' attribute dict -> floats.
SCENE_TARGETS = ("x", "y", "size", "light_cos", "light_sin", "light_elevation")


class MetricsError(RuntimeError):
    """Bad metric request, missing classifier or Inception weights, or unusable input.

    The message says what was expected and how to fix it.
    """


@contextmanager
def single_thread() -> Iterator[None]:
    """Run per-item Python loops on one intra-op thread (2-thread syncs dominate tiny tensor ops)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float ``[N, C, H, W]`` in [-1, 1] (or already uint8) → uint8 ``[N, C, H, W]``.

    Raises:
        MetricsError: not a 4-D tensor with 1 or 3 channels.
    """
    if not torch.is_tensor(images) or images.dim() != 4 or images.shape[1] not in (1, 3):
        shape = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
        raise MetricsError(f"expected images as a tensor [N, C, H, W] with C = 1 or 3, got {shape}")
    if images.dtype == torch.uint8:
        return images
    return images.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).cpu()


def scene_targets(attributes: dict) -> list[float] | None:
    """``shapes`` scene parameters as regression targets (see :data:`SCENE_TARGETS`), else ``None``."""
    if not all(k in attributes for k in ("x", "y", "size", "light_azimuth", "light_elevation")):
        return None
    az = math.radians(attributes["light_azimuth"])
    return [
        (attributes["x"] - 0.5) / 0.08,  # shapes.POSITION_JITTER = 0.08 -> [-1, 1]
        (attributes["y"] - 0.5) / 0.08,
        (attributes["size"] - 0.6) / 0.15,  # sizes 0.45..0.75 -> [-1, 1]
        math.cos(az),
        math.sin(az),
        (attributes["light_elevation"] - 55.0) / 10.0,  # elevations 45..65 -> [-1, 1]
    ]


@dataclass
class RealData:
    """One split of a dataset, ready for scoring.

    Attributes:
        images: uint8 ``[N, C, H, W]``.
        labels: int64 ``[N]`` class ids.
        captions: the caption of each item (``None`` entries if the dataset has none).
        attributes: attribute name → int64 ``[N]`` ids (datasets with ``attribute_ids``, i.e.
            ``shapes``; else empty).
        attribute_values: attribute name → value names (likewise).
        class_names: one name per class id.
        scene: float32 ``[N, len(SCENE_TARGETS)]`` scene parameters, or ``None``.
        normals: float32 ``[N, 3, H, W]`` unit normals, or ``None``.
        mask: float32 ``[N, 1, H, W]`` object masks, or ``None``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    captions: list
    attributes: dict
    attribute_values: dict
    class_names: list
    scene: torch.Tensor | None = None
    normals: torch.Tensor | None = None
    mask: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.images)


def load_real(name: str, split: str, resolution: int, n: int | None = None, seed: int = 0,
              normals: bool = False, progress: bool = False, root: str | None = None) -> RealData:
    """Load ``n`` items of a split as uint8 images plus their conditions.

    A dataset whose items are already in random order (``DatasetTraits.shuffled``: ``shapes``)
    gives its first ``n`` items; other datasets, whose files may be sorted by class, give the
    first ``n`` of a random permutation drawn from ``seed``.

    Args:
        name: registered dataset name (``shapes``, ``mnist5k``, ...).
        split: dataset split (``train``, ``test``, ``test_unseen``).
        resolution: image side.
        n: number of items (``None``: all). A dataset with ``DatasetTraits.eval_size`` builds just
            enough (``shapes`` renders exactly ``n`` items, the first ``n`` of any larger render;
            ``test_unseen`` up to 2,000); every dataset gives at most its size.
        seed: data seed (captions, rendering).
        normals: also collect normals and masks (``shapes``, ``nyuv2``).
        progress: show a progress bar.
        root: the dataset's directory, for datasets read from disk (``cub``, ``nyuv2``, ...).
    Returns:
        The data.
    Raises:
        core.data.DatasetError: the dataset cannot be loaded.
    """
    traits = dataset_traits(name)
    options = {}
    if traits.eval_size is not None and n is not None:  # build just what is needed (shapes: smaller renders are prefixes)
        options["size"] = traits.eval_size(split, int(n))
    ds = load_dataset(name, split=split, resolution=resolution, root=root, seed=seed, **options)
    count = len(ds) if n is None else min(int(n), len(ds))
    if traits.shuffled or count == len(ds):
        order = np.arange(count)  # items already in random order (or all of them): the first count
    else:  # other splits may be sorted by class: take a seeded random subset
        order = np.random.default_rng(seed).permutation(len(ds))[:count]  # a smaller n gives a prefix
    images, labels, captions, scene, nrm, msk = [], [], [], [], [], []
    with single_thread():
        for i in tqdm(order.tolist(), desc=f"loading {name}/{split}", unit="img", disable=not progress):
            item = ds[i]
            images.append(to_uint8(item["image"][None])[0])
            labels.append(int(item["label"]))
            captions.append(item.get("caption"))
            targets = scene_targets(item.get("attributes") or {})
            if targets is not None:
                scene.append(targets)
            if normals and "normals" in item:
                nrm.append(item["normals"])
                msk.append(item["mask"])
    attributes, values = {}, {}
    ids = getattr(ds, "attribute_ids", None)  # shapes: [N, A] int ids in ATTRIBUTES order
    if ids is not None:
        values = {k: list(v) for k, v in ds.attribute_values.items()}
        attributes = {k: torch.as_tensor(np.asarray(ids)[order, j], dtype=torch.int64) for j, k in enumerate(values)}
    return RealData(
        images=torch.stack(images),  # [N, C, H, W] uint8
        labels=torch.tensor(labels, dtype=torch.int64),  # [N]
        captions=captions,
        attributes=attributes,
        attribute_values=values,
        class_names=list(getattr(ds, "class_names", None) or []),  # Oxford-102 has no names: None
        scene=torch.tensor(scene, dtype=torch.float32) if len(scene) == count else None,  # [N, 6]
        normals=torch.stack(nrm) if nrm else None,  # [N, 3, H, W]
        mask=torch.stack(msk) if msk else None,  # [N, 1, H, W]
    )


def load_image_folder(folder: str | Path, progress: bool = False) -> torch.Tensor:
    """Every PNG/JPEG image in ``folder`` (sorted by name) as uint8 ``[N, C, H, W]``.

    Grey images give ``C = 1``; anything else is converted to RGB.

    Raises:
        MetricsError: no images, or images of different sizes or modes.
    """
    folder = Path(folder)
    suffixes = (".png", ".jpg", ".jpeg")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes) if folder.is_dir() else []
    if not files:
        raise MetricsError(f"no .png/.jpg images found in {folder}; pass a directory of generated images")
    arrays = []
    for f in tqdm(files, desc="reading images", unit="img", disable=not progress):
        with Image.open(f) as im:
            im = im.convert("L") if im.mode in ("L", "I", "I;16", "1") else im.convert("RGB")
            a = np.asarray(im)
        arrays.append(a[:, :, None] if a.ndim == 2 else a)
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise MetricsError(f"images in {folder} differ in size or channels ({sorted(shapes)}); "
                           "all images must share one size and mode")
    h, w, _ = arrays[0].shape
    if h != w:
        raise MetricsError(f"images in {folder} are {h}x{w}; expected square images")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()  # [N, C, H, W]
