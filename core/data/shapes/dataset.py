"""The ``shapes`` dataset (:class:`ShapesDataset`), what metrics know of it (:data:`TRAITS`), and its
registration with :func:`core.data.load_dataset` (:func:`build_shapes`)."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from core.data import register
from core.data.base import DatasetError, DatasetTraits, to_image_tensor

from .cache import _cache_path, _load_cached, rendered_split
from .captions import caption_attributes, make_captions
from .render import _check_resolution, decode_normals, unresolvable_attributes
from .scenes import ATTRIBUTES, DEFAULT_SIZE, SHAPES, SPLITS


class ShapesDataset(Dataset):
    """Rendered relief shapes with captions, normals and masks (see :mod:`core.data.shapes`).

    Args:
        split: ``train``, ``test`` or ``test_unseen`` (the held-out-pair items of ``test``).
        resolution: image side, 16..256.
        seed: data seed: scenes, captions and caption choice.
        size: number of scenes (for ``test_unseen``: of the underlying ``test`` split).
        cache: use the on-disk render cache.
    """

    ATTRIBUTES = {name: list(values) for name, values in ATTRIBUTES.items()}

    def __init__(self, split: str, resolution: int, seed: int, size: int, cache: bool = True):
        base = "test" if split == "test_unseen" else split
        self.split, self.resolution, self.seed = split, resolution, seed
        scenes, self._rendered = rendered_split(base, resolution, size, seed, cache=cache)
        self._index = np.flatnonzero(scenes.held_out) if split == "test_unseen" else np.arange(size)
        self.scenes = scenes.subset(self._index)
        self.class_names = list(SHAPES)
        self.attribute_values = {k: list(v) for k, v in self.ATTRIBUTES.items()}
        s = self.scenes  # [N, 5] integer id per categorical attribute, in ATTRIBUTES order
        self.attribute_ids = np.stack([getattr(s, k) for k in self.ATTRIBUTES], axis=1)
        captions, choice = make_captions(scenes, base, seed)
        self._captions = [captions[j] for j in self._index]
        self._choice = choice[self._index]
        self._cache_key = (base, resolution, size, seed) if cache else None

    def __getstate__(self) -> dict:
        # Pickled for spawned DataLoader workers: ship the cache key, not hundreds of MB of arrays.
        state = dict(self.__dict__)
        if self._cache_key is not None:
            state["_rendered"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._rendered is None:
            base, resolution, size, _ = self._cache_key
            self._rendered = _load_cached(_cache_path(*self._cache_key), size, resolution)
            if self._rendered is None:  # the cache was removed meanwhile: render again
                self._rendered = rendered_split(*self._cache_key)[1]

    def __len__(self) -> int:
        return len(self._index)

    def all_captions(self) -> list[list[str]]:
        """All captions of every item, in item order."""
        return [list(c) for c in self._captions]

    def attribute_labels(self, i: int) -> dict[str, int]:
        """Integer id of each categorical attribute of item ``i`` (keys as :attr:`ATTRIBUTES`)."""
        return {k: int(v) for k, v in zip(self.ATTRIBUTES, self.attribute_ids[i])}

    @property
    def labels(self) -> np.ndarray:
        """``[N]`` class ids (the shape), without rendering any item."""
        return np.asarray(self.scenes.shape, dtype=np.int64)

    ITEM_KEYS = ("image", "label", "caption", "captions", "attributes", "normals", "mask")

    def item(self, i: int, keys=ITEM_KEYS) -> dict:
        """Only the entries ``keys`` of item ``i`` (the training loop asks for what its model uses, so
        normals and masks are decoded only when needed); values equal those of ``self[i]``."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} items")
        i = int(i) % len(self)
        j = self._index[i]
        r = self._rendered
        make = {
            "image": lambda: to_image_tensor(np.array(r.images[j])),  # [3, H, W] in [-1, 1]
            "label": lambda: int(self.scenes.shape[i]),
            "caption": lambda: self._captions[i][self._choice[i]],
            "captions": lambda: list(self._captions[i]),
            "attributes": lambda: self.scenes.attributes(i),
            "normals": lambda: torch.from_numpy(decode_normals(r.normals[j])),  # [3, H, W] unit
            "mask": lambda: torch.from_numpy(np.array(r.mask[j], dtype=np.float32))[None],  # [1, H, W]
        }
        return {k: make[k]() for k in keys if k in make}

    def __getitem__(self, i: int) -> dict:
        return self.item(i)


def eval_size(split: str, n: int) -> int:
    """The ``size`` option that yields ``n`` items of ``split`` (for ``test_unseen``, which holds
    every tenth ``test`` item: ``10 n``, at least the default 2,000 and at most 20,000)."""
    if split == "test_unseen":
        return min(max(10 * int(n), DEFAULT_SIZE["test"]), 20_000)
    return int(n)


TRAITS = DatasetTraits(
    shuffled=True,  # scenes are drawn at random, so the first n items are a random sample
    caption_attributes=caption_attributes,
    always_stated=("shape", "color"),  # every caption template names them
    unresolvable_attributes=unresolvable_attributes,
    eval_size=eval_size,
    classifier_resolution=64,  # textures are legible only from 64×64 (see texture_contrast)
    splits=tuple(SPLITS),
    class_names=tuple(SHAPES),  # the label is the shape
    class_noun="shape",
)


@register("shapes", traits=TRAITS, native_size=True)
def build_shapes(split: str = "train", resolution: int = 64, root: str | None = None, seed: int = 0,
                 size: int | None = None, **unknown) -> ShapesDataset:
    """Build the ``shapes`` dataset (``root`` is ignored: the data is rendered, not read).

    Args:
        split: ``train``, ``test``, ``test_unseen`` or ``val`` (for choosing presets: never ``test``).
        resolution: image side, 16..256.
        root: ignored.
        seed: data seed.
        size: number of scenes (default 10,000 for train, 2,000 for val, test and test_unseen's test).
        **unknown: ``cache`` (bool, default True) is the only other option.
    Raises:
        DatasetError: bad split, resolution, size or seed, or an unknown option.
    """
    cache = unknown.pop("cache", True)
    if unknown:
        raise DatasetError(
            f"shapes: unknown option(s) {sorted(unknown)}; the options are size (int) and cache (bool)"
        )
    if split not in SPLITS:
        raise DatasetError(f"shapes: unknown split {split!r}; choose one of {list(SPLITS)}")
    _check_resolution(resolution)
    size = DEFAULT_SIZE[split] if size is None else size
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise DatasetError(f"shapes: size must be a positive integer, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DatasetError(f"shapes: seed must be a non-negative integer, got {seed!r}")
    ds = ShapesDataset(split, int(resolution), int(seed), int(size), cache=bool(cache))
    if len(ds) == 0:
        raise DatasetError(f"shapes: test_unseen is empty for size={size}; every tenth test item is "
                           "held out, so pass size >= 10")
    return ds
