"""Datasets behind one function, :func:`load_dataset`.

Each dataset module registers a builder with :func:`register`; the builder takes
``(split, resolution, root, seed, **options)`` and returns a ``torch.utils.data.Dataset`` whose
items follow the contract in :mod:`core.data.base`.
"""
from __future__ import annotations

import importlib
from typing import Callable

from torch.utils.data import Dataset

from .base import DatasetError

_BUILDERS: dict[str, Callable[..., Dataset]] = {}
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


def register(name: str):
    """Decorator: register ``fn(split, resolution, root, seed, **options) -> Dataset`` as ``name``."""

    def deco(fn):
        _BUILDERS[name] = fn
        return fn

    return deco


def available_datasets() -> list[str]:
    return sorted(set(_MODULES) | set(_BUILDERS))


def load_dataset(
    name: str,
    split: str = "train",
    resolution: int = 64,
    root: str | None = None,
    seed: int = 0,
    **options,
) -> Dataset:
    """Load dataset ``name`` at ``resolution`` × ``resolution``.

    Args:
        name: one of :func:`available_datasets` (``shapes`` and ``mnist5k`` need no download).
        split: ``train`` or ``test`` (``shapes`` also has ``test_unseen``: held-out attribute combinations).
        resolution: output side length in pixels.
        root: directory holding a downloaded dataset in its published layout (ignored by embedded ones).
        seed: data seed (rendering for ``shapes``, caption choice, splits).
        **options: dataset-specific options (e.g. ``size`` for ``shapes``).
    Raises:
        DatasetError: unknown name, or data missing / malformed (the message says what is expected).
    """
    if name not in _MODULES and name not in _BUILDERS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {available_datasets()}")
    if name not in _BUILDERS:
        importlib.import_module(_MODULES[name])
    return _BUILDERS[name](split=split, resolution=resolution, root=root, seed=seed, **options)


__all__ = ["DatasetError", "available_datasets", "load_dataset", "register"]
