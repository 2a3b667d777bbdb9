"""Datasets behind one function, :func:`load_dataset`, and what metrics know of each, :func:`dataset_traits`.

Each dataset module registers a builder with :func:`register`; the builder takes
``(split, resolution, root, seed, **options)`` and returns a ``torch.utils.data.Dataset`` whose
items follow the contract in :mod:`core.data.base`. A module may also declare the dataset's
:class:`DatasetTraits` there, so that nothing outside it branches on the dataset's name.
"""
from __future__ import annotations

import importlib
from typing import Callable

import numpy as np
from torch.utils.data import Dataset

from .base import DatasetError, DatasetSubset, DatasetTraits, subset_indices

_BUILDERS: dict[str, Callable[..., Dataset]] = {}
_TRAITS: dict[str, DatasetTraits] = {}
_NATIVE_SIZE: set[str] = set()  # datasets whose builder takes ``size`` itself (shapes renders that many)
# name -> module that registers it (imported lazily so that e.g. scipy loads only for svhn/nyuv2)
_MODULES = {
    "shapes": "core.data.shapes",
    "mnist5k": "core.data.mnist",
    "mnist": "core.data.mnist",
    "cifar10": "core.data.cifar",
    "svhn": "core.data.svhn",
    "cub": "core.data.cub",
    "oxford102": "core.data.cub",
    "nyuv2": "core.data.nyuv2",
}


def register(name: str, traits: DatasetTraits | None = None, native_size: bool = False):
    """Decorator: register ``fn(split, resolution, root, seed, **options) -> Dataset`` as ``name``.

    Args:
        name: the dataset's name.
        traits: what metrics need to know of it (default: ``DatasetTraits()``).
        native_size: the builder takes the ``size`` option itself (else :func:`load_dataset`
            keeps ``size`` items of the full split, see :func:`~core.data.base.subset_indices`).
    """

    def deco(fn):
        _BUILDERS[name] = fn
        if traits is not None:
            _TRAITS[name] = traits
        if native_size:
            _NATIVE_SIZE.add(name)
        return fn

    return deco


def available_datasets() -> list[str]:
    return sorted(set(_MODULES) | set(_BUILDERS))


def _ensure_registered(name: str) -> None:
    if name not in _MODULES and name not in _BUILDERS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {available_datasets()}")
    if name not in _BUILDERS:
        importlib.import_module(_MODULES[name])


def dataset_traits(name: str) -> DatasetTraits:
    """The :class:`DatasetTraits` dataset ``name`` declares (``DatasetTraits()`` if it declares none).

    Imports the dataset's module but reads no data.

    Raises:
        DatasetError: unknown name.
    """
    _ensure_registered(name)
    return _TRAITS.get(name, DatasetTraits())


def load_dataset(
    name: str,
    split: str = "train",
    resolution: int = 64,
    root: str | None = None,
    seed: int = 0,
    size: int | None = None,
    **options,
) -> Dataset:
    """Load dataset ``name`` at ``resolution`` × ``resolution``.

    Args:
        name: one of :func:`available_datasets` (``shapes`` and ``mnist5k`` need no download).
        split: ``train`` or ``test`` (``shapes`` also has ``test_unseen``: held-out attribute combinations).
        resolution: output side length in pixels.
        root: directory holding a downloaded dataset in its published layout (ignored by embedded ones).
        seed: data seed (rendering for ``shapes``, caption choice, splits).
        size: number of items. ``shapes`` renders that many; every other dataset keeps ``size`` of
            its items, chosen by ``seed`` and mixing classes even where the files are sorted by
            class (:func:`~core.data.base.subset_indices`; a :class:`~core.data.base.DatasetSubset`
            view with the dataset's interface), or all of them when it has no more. ``None``: the
            whole split.
        **options: dataset-specific options (e.g. ``augment`` for ``cub``).
    Raises:
        DatasetError: unknown name, ``size < 1``, or data missing / malformed (the message says
            what is expected).
    """
    _ensure_registered(name)
    builder = _BUILDERS[name]
    if name in _NATIVE_SIZE:
        return builder(split=split, resolution=resolution, root=root, seed=seed,
                       **({} if size is None else {"size": size}), **options)
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1):
        raise DatasetError(f"{name}: size must be a positive integer, got {size!r}")
    ds = builder(split=split, resolution=resolution, root=root, seed=seed, **options)
    if size is None or size >= len(ds):
        return ds
    return DatasetSubset(ds, subset_indices(len(ds), int(size), seed, _TRAITS.get(name, DatasetTraits()).shuffled))


__all__ = [
    "DatasetError", "DatasetSubset", "DatasetTraits", "available_datasets", "dataset_traits", "load_dataset",
    "class_names", "register",
]


def class_names(dataset: str, num_classes: int) -> tuple[str, ...]:
    """Names of a dataset's labels 0..K−1 as its traits declare them (:attr:`DatasetTraits.class_names`: digits,
    CIFAR-10's classes, the shapes' names), else ``class k``."""
    try:
        names = dataset_traits(dataset).class_names
    except DatasetError:  # a name no module registers: no names to give
        names = ()
    if len(names) != num_classes:
        return tuple(f"class {k}" for k in range(num_classes))
    return tuple(names)
