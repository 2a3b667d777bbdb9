"""Shared pieces of every dataset: the error type, image conversion, the item contract, the
dataset traits that metrics consult, and the subset view behind the generic ``size`` option.

Every dataset returned by :func:`core.data.load_dataset` yields dict items with at least

- ``image``: float32 tensor ``[C, H, W]`` in ``[-1, 1]``;
- ``label``: int (class id);

and, where the dataset has them,

- ``caption``: str, one of the image's captions (chosen deterministically from the seed);
- ``captions``: list[str], all captions of the image;
- ``embeddings``: float32 tensor ``[K, D]``, precomputed caption embeddings (StackGAN release);
- ``attributes``: dict of the generating attributes (``shapes``) or metadata;
- ``normals``: float32 tensor ``[3, H, W]`` of unit surface normals in one frame for every
  dataset: x to the right (image columns), y **down** (image rows), z toward the viewer, so a
  surface facing the camera has ``n_z > 0``, one facing the top of the image ``n_y < 0``, and
  ``(n + 1) / 2`` reads as a normal map. (This frame is left-handed; it is the one ``shapes``
  renders, ``normalize(-∂h/∂x, -∂h/∂y, 1)`` for a height field ``h``, and the shipped
  ``NormalPredictor`` was trained in it.)
- ``mask``: float32 tensor ``[1, H, W]`` in ``{0, 1}`` (object / valid-pixel mask).

Datasets may also expose

- ``class_names`` (list[str]);
- ``labels``: ``[N]`` class id of every item (so that nothing has to iterate the items);
- ``embeddings``: ``[N, K, D]`` precomputed caption embeddings of every item (StackGAN release);
- ``attribute_ids``: ``[N, A]`` categorical attribute ids of every item (``shapes``);
- ``all_captions()``: list[list[str]], the captions of every item, which the training loop uses
  to pre-encode captions once. It returns ``None`` for a dataset that has caption embeddings but
  no caption text (CUB / Oxford-102 without ``text_c10/``): its text condition is then its
  ``embeddings``;
- ``set_epoch(epoch)``: draw new per-item random choices (caption, crop, flip) for an epoch.

What metrics must know about a dataset beyond its items (are items already shuffled, which
attributes does a caption state, which attributes can a resolution not show) is declared once,
by the dataset's module, as :class:`DatasetTraits`, and read with :func:`core.data.dataset_traits`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset


class DatasetError(RuntimeError):
    """A dataset is missing, truncated or malformed. The message says what was expected."""


def _nothing_unresolvable(resolution: int) -> set[str]:
    """Default of :attr:`DatasetTraits.unresolvable_attributes`: every attribute shows at every size."""
    return set()


@dataclass(frozen=True)
class DatasetTraits:
    """What evaluation needs to know about a dataset beyond its items; declared by its module.

    Attributes:
        shuffled: items are already in random order, so the first ``n`` items are a random sample
            (else, e.g. files sorted by class, metrics draw a seeded random subset).
        caption_attributes: ``caption -> {attribute: value id}`` of the attributes the caption
            states, or ``None`` when it matches none of the dataset's templates; ``None`` (the
            field): captions state only the class label, so every caption states every attribute.
        always_stated: attributes that a caption matching no template still states (``shapes``:
            every template names the shape and the colour).
        unresolvable_attributes: ``resolution -> attributes`` that images that small cannot show
            (``shapes``: textures fade out below 32 px); they are neither trained nor scored there.
        eval_size: ``(split, n) ->`` the ``size`` option that makes :func:`core.data.load_dataset`
            build at least ``n`` items of ``split`` (``shapes`` renders only what is needed; its
            ``test_unseen`` holds every tenth ``test`` item), or ``None``: load the whole split.
        classifier_resolution: input side of the dataset's evaluation classifier (a multiple of 16).
        splits: every split the dataset has, ``train`` first.
        class_names: one name per class label, ``0..K-1`` (``()``: the dataset names none).
        class_noun: what one class is, in words (``"digit"``, ``"shape"``; ``""``: not said), for readers
            (``bench`` writes it into a table's ``table.json``, the demo's Results tab reads it there).
    """

    shuffled: bool = False
    caption_attributes: Callable[[str], dict[str, int] | None] | None = None
    always_stated: tuple[str, ...] = ()
    unresolvable_attributes: Callable[[int], set[str]] = field(default=_nothing_unresolvable)
    eval_size: Callable[[str, int], int] | None = None
    classifier_resolution: int = 32
    splits: tuple[str, ...] = ("train", "test")
    class_names: tuple[str, ...] = ()
    class_noun: str = ""


class DatasetSubset(Dataset):
    """Some items of ``dataset`` (behind the generic ``size`` option), with the dataset's interface.

    Item ``i`` is ``dataset[indices[i]]``, unchanged. The per-item attributes of the contract
    (``labels``, ``embeddings``, ``attribute_ids``) and ``all_captions()`` are indexed the same
    way; ``set_epoch``, ``class_names`` and every other attribute are the underlying dataset's
    (attributes other than those named above describe the whole underlying dataset).

    Args:
        dataset: any dataset following the contract.
        indices: ``[M]`` distinct item indices into ``dataset``.
    """

    PER_ITEM = ("labels", "embeddings", "attribute_ids")  # attributes holding one row per item

    def __init__(self, dataset: Dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)  # [M]
        if self.indices.ndim != 1 or not len(self.indices) or not (
                (0 <= self.indices) & (self.indices < len(dataset))).all():
            raise ValueError(f"indices must be a non-empty [M] array of items in 0..{len(dataset) - 1}")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> dict:
        return self.dataset[int(self.indices[index])]  # raises IndexError beyond the subset

    def item(self, index: int, keys) -> dict:
        """Only ``keys`` of item ``index`` (see :func:`item_fields`)."""
        return item_fields(self.dataset, int(self.indices[index]), keys)

    def _take(self, values):
        """The rows of a per-item sequence (array, tensor or list) at :attr:`indices`."""
        if isinstance(values, (list, tuple)):
            return [values[i] for i in self.indices.tolist()]
        if torch.is_tensor(values):
            return values[torch.from_numpy(self.indices)]
        return values[self.indices]

    def _all_captions(self) -> list[list[str]] | None:
        captions = self.dataset.all_captions()
        return None if captions is None else self._take(captions)

    def __getattr__(self, name: str):
        # only called for names not found on the view itself; dunders and the view's own fields are
        # never forwarded (unpickling and copying probe them before __init__ has run)
        if name.startswith("__") or name in ("dataset", "indices"):
            raise AttributeError(name)
        value = getattr(self.dataset, name)  # AttributeError when the dataset lacks it, as hasattr expects
        if name == "all_captions":
            return self._all_captions
        if name in self.PER_ITEM and value is not None:
            return self._take(value)
        return value


def item_fields(dataset: Dataset, index: int, keys) -> dict:
    """The entries ``keys`` of item ``index``: through ``dataset.item(index, keys)`` where the dataset
    offers it (``shapes`` then skips decoding normals and masks nobody asked for), else ``dataset[index]``
    filtered. Either way the values equal those of ``dataset[index]``."""
    if hasattr(dataset, "item"):
        return dataset.item(index, keys)
    full = dataset[index]
    return {k: full[k] for k in keys if k in full}


def subset_indices(n: int, size: int, seed: int, shuffled: bool) -> np.ndarray:
    """Which ``size`` of ``n`` items the ``size`` option keeps: ``[min(size, n)]`` int64 indices.

    Items already in random order (``DatasetTraits.shuffled``) give their first ``size``. Others
    (files sorted by class: mnist5k, the CUB release) give the first ``size`` of a random
    permutation drawn from ``seed``, in that order, the same items and order as
    :func:`core.metrics.data.load_real` takes; a smaller size keeps a prefix of a larger one's.
    """
    if shuffled:
        return np.arange(min(size, n), dtype=np.int64)
    return np.random.default_rng(seed).permutation(n)[:size].astype(np.int64)


def describe_problem(dataset: str, problem: str, layout: str, source: str) -> str:
    """Format one clear, actionable error message for a dataset that cannot be read."""
    return (
        f"{dataset}: {problem}\n"
        f"Expected layout:\n{layout}\n"
        f"The data is published at: {source}"
    )


def to_image_tensor(array: np.ndarray) -> torch.Tensor:
    """uint8 ``[H, W]`` or ``[H, W, C]`` → float32 ``[C, H, W]`` in ``[-1, 1]``."""
    if array.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image array, got {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    t = torch.from_numpy(np.array(array.transpose(2, 0, 1)))  # [C, H, W] uint8 (a writable copy)
    return t.float().div_(127.5).sub_(1.0)


def resize_uint8(array: np.ndarray, size: int, resample=Image.BICUBIC) -> np.ndarray:
    """Resize a uint8 ``[H, W]`` / ``[H, W, C]`` image to ``size × size`` with PIL (anti-aliased)."""
    if array.shape[0] == size and array.shape[1] == size:
        return array
    img = Image.fromarray(array)
    return np.asarray(img.resize((size, size), resample=resample))


def image_to_uint8(image: torch.Tensor) -> np.ndarray:
    """float ``[C, H, W]`` in ``[-1, 1]`` → uint8 ``[H, W, C]`` (for previews and saving)."""
    x = image.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return x.permute(1, 2, 0).cpu().numpy()
