"""Shared pieces of the real-data loaders: label-derived captions, in-memory labelled images,
reading errors and safe pickle loading.

MNIST, CIFAR-10 and SVHN have no captions, so each class gets a few templated sentences
(``"a handwritten digit seven"``) that text-conditioned models can train on. The loaders in
``mnist.py``, ``cifar.py``, ``svhn.py``, ``cub.py`` and ``nyuv2.py`` share everything here so that
caption choice, array → item conversion and error reporting are written once.
"""
from __future__ import annotations

import pickle
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from .base import DatasetError, DatasetTraits, describe_problem, resize_uint8, to_image_tensor

DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# the digit datasets' traits (mnist, mnist5k, svhn): their labels are the digits 0-9
DIGIT_TRAITS = DatasetTraits(class_names=tuple(str(d) for d in range(10)), class_noun="digit")


# --------------------------------------------------------------------------- errors and options
@dataclass(frozen=True)
class Published:
    """Where a dataset is published and how it must sit on disk; builds its error messages.

    Args:
        name: dataset name as registered (``"cifar10"``).
        layout: the expected files under ``root``, one per line.
        url: where the data is published.
    """

    name: str
    layout: str
    url: str

    def error(self, problem: str) -> DatasetError:
        """One :class:`DatasetError` saying ``problem``, the expected layout and the source."""
        return DatasetError(describe_problem(self.name, problem, self.layout, self.url))

    @contextmanager
    def reading(self, path: Path | str) -> Iterator[None]:
        """Turn any failure while reading ``path`` into one :class:`DatasetError` naming the file."""
        try:
            yield
        except DatasetError:
            raise
        except FileNotFoundError as e:
            raise self.error(f"missing file {path}") from e
        except Exception as e:  # corrupt or truncated files fail in many library-specific ways
            raise self.error(f"cannot read {path} ({type(e).__name__}: {e}); the file is truncated or corrupt") from e

    def require(self, path: Path) -> Path:
        """Return ``path`` if it exists, else raise naming it."""
        if not path.exists():
            raise self.error(f"missing {path}")
        return path

    def root(self, root: str | Path | None) -> Path:
        """The dataset root as a Path; raises if it was not given or does not exist."""
        if root is None:
            raise self.error("no root given: pass root=<directory holding the downloaded data>")
        path = Path(root).expanduser()
        if not path.exists():
            raise self.error(f"root {path} does not exist")
        return path


def check_request(source: Published, split: str, splits: Sequence[str], resolution: int, options: dict) -> None:
    """Validate the arguments every builder shares.

    Raises:
        DatasetError: unknown split, non-positive resolution or unknown options.
    """
    if split not in splits:
        raise DatasetError(f"{source.name}: unknown split {split!r}; choose one of {list(splits)}")
    if not isinstance(resolution, int) or resolution < 1:
        raise DatasetError(f"{source.name}: resolution must be a positive int, got {resolution!r}")
    if options:
        raise DatasetError(f"{source.name}: unknown option(s) {sorted(options)}")


def check_channels(source: Published, channels: int | None) -> None:
    if channels not in (None, 1, 3):
        raise DatasetError(f"{source.name}: channels must be 1 or 3, got {channels!r}")


# --------------------------------------------------------------------------- pickles
# Globals a data pickle (CIFAR batches, StackGAN release) may reference: numpy arrays and scalars,
# Python-2 byte strings, plain containers. Anything else (code) is refused rather than executed.
_NUMPY_MODULES = {"numpy", "numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric", "numpy._core.numeric"}
_NUMPY_NAMES = {"_reconstruct", "ndarray", "dtype", "scalar", "_frombuffer"}
_BUILTIN_MODULES = {"builtins", "__builtin__"}
_BUILTIN_NAMES = {"list", "dict", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bytes", "bytearray"}


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (
            (module in _NUMPY_MODULES and name in _NUMPY_NAMES)
            or (module in _BUILTIN_MODULES and name in _BUILTIN_NAMES)
            or (module == "_codecs" and name == "encode")
        ):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a data pickle holds only arrays and lists")


def load_pickle(path: Path, source: Published):
    """Load a Python-2-era data pickle (``encoding='latin1'``) that may hold only arrays and containers.

    Raises:
        DatasetError: the file is missing, truncated, corrupt or holds anything but data.
    """
    source.require(path)
    with source.reading(path), open(path, "rb") as f:
        return _DataUnpickler(f, encoding="latin1").load()


def str_keys(d: dict) -> dict:
    """A pickled dict with its ``bytes`` keys (pickles written by Python 3) decoded to ``str``."""
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in d.items()}


# --------------------------------------------------------------------------- captions
def with_article(noun: str) -> str:
    """``"airplane"`` → ``"an airplane"``, ``"one"`` → ``"a one"``."""
    an = noun[:1].lower() in "aeiou" and not noun.lower().startswith(("one", "uni", "eu"))
    return f"{'an' if an else 'a'} {noun}"


def class_captions(templates: Sequence[str], class_names: Sequence[str]) -> list[list[str]]:
    """Fill caption templates for every class.

    Args:
        templates: format strings using ``{name}`` (class name), ``{a_name}`` (with its article)
            and ``{index}`` (class id, e.g. the digit).
        class_names: one name per class id.
    Returns:
        ``captions[class_id]``: the class's captions, one per template.
    """
    return [
        [t.format(name=n, a_name=with_article(n), index=i) for t in templates] for i, n in enumerate(class_names)
    ]


def item_rng(seed: int, index: int, epoch: int = 0) -> np.random.Generator:
    """The random stream of one item: a function of (seed, index, epoch) only, so items are reproducible."""
    return np.random.default_rng([seed & 0xFFFFFFFF, index, epoch])


class SeededItems(Dataset):
    """Base for datasets whose per-item choices (caption, crop, flip) come from ``(seed, index, epoch)``.

    Call :meth:`set_epoch` from the training loop (as with ``DistributedSampler``) to draw new
    choices each epoch; with the default epoch 0, ``dataset[i]`` is the same every time.
    """

    seed: int = 0
    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose a new, still reproducible, set of per-item random choices."""
        self.epoch = int(epoch)

    def rng(self, index: int) -> np.random.Generator:
        return item_rng(self.seed, index, self.epoch)

    def position(self, index: int) -> int:
        """``index`` as a position in ``0..len-1`` (negative indices count from the end)."""
        return range(len(self))[index]  # raises IndexError when out of range


# --------------------------------------------------------------------------- in-memory images
class LabelledImages(SeededItems):
    """Labelled uint8 images held in memory (MNIST, CIFAR-10, SVHN) as contract items.

    Items: ``image`` [C, R, R] in [-1, 1], ``label``, ``captions`` (the class's templated captions)
    and ``caption`` (one of them, chosen from the seed, index and epoch).

    Args:
        images: uint8 ``[N, H, W]`` (grey) or ``[N, H, W, 3]``.
        labels: ``[N]`` class ids.
        resolution: output side length R (PIL bicubic, anti-aliased).
        class_names: one name per class id.
        captions: ``captions[class_id]``, e.g. from :func:`class_captions`.
        seed: data seed for caption choice.
        channels: 1 (grey) or 3 output channels; ``None`` keeps the stored ones.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        resolution: int,
        class_names: Sequence[str],
        captions: Sequence[Sequence[str]],
        seed: int = 0,
        channels: int | None = None,
    ):
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images  # [N, H, W] or [N, H, W, 3] uint8
        self.labels = np.asarray(labels, dtype=np.int64)  # [N]
        self.resolution = resolution
        self.class_names = list(class_names)
        self.captions = [list(c) for c in captions]
        self.seed = seed
        self.channels = channels

    def __len__(self) -> int:
        return len(self.images)

    def all_captions(self) -> list[list[str]]:
        """The captions of every item, in item order."""
        return [self.captions[y] for y in self.labels]

    def _pixels(self, index: int) -> np.ndarray:
        arr = self.images[index]  # [H, W] or [H, W, 3] uint8
        if self.channels == 1 and arr.ndim == 3:
            arr = np.asarray(Image.fromarray(arr).convert("L"))
        arr = resize_uint8(arr, self.resolution)
        if self.channels == 3 and arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        return arr

    def __getitem__(self, index: int) -> dict:
        index = self.position(index)
        label = int(self.labels[index])
        captions = self.captions[label]
        return {
            "image": to_image_tensor(self._pixels(index)),  # [C, R, R]
            "label": label,
            "caption": captions[int(self.rng(index).integers(len(captions)))],
            "captions": list(captions),
        }
