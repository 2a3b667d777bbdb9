"""The on-disk cache of ``shapes`` renders: :func:`rendered_split` renders a split once and then
memory-maps it from ``core.cache.cache_dir("shapes")``, keyed by (``VERSION``, split, resolution,
size, seed)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from core.cache import cache_dir
from core.data.base import DatasetError

from .render import Rendered, render_scenes
from .scenes import VERSION, Scenes, sample_scenes


def _cache_path(split: str, resolution: int, size: int, seed: int) -> Path:
    return cache_dir("shapes") / f"v{VERSION}_{split}_r{resolution}_n{size}_s{seed}"


_CACHE_FILES = ("images", "normals", "mask")


def _load_cached(path: Path, n: int, resolution: int) -> Rendered | None:
    """Memory-map a cached render; ``None`` if absent or not of the expected shape."""
    try:
        arrays = {k: np.load(path / f"{k}.npy", mmap_mode="r") for k in _CACHE_FILES}
    except (OSError, ValueError):
        return None
    r = resolution
    expected = {"images": (n, r, r, 3), "normals": (n, 2, r, r), "mask": (n, r, r)}
    if any(arrays[k].shape != expected[k] for k in _CACHE_FILES):
        return None
    return Rendered(**arrays)


def _save_cached(path: Path, rendered: Rendered) -> None:
    """Write atomically: into a temp dir, then rename (a concurrent writer's copy wins ties)."""
    tmp = Path(tempfile.mkdtemp(prefix=path.name + ".tmp", dir=path.parent))
    try:
        for k in _CACHE_FILES:
            np.save(tmp / f"{k}.npy", getattr(rendered, k))
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


def rendered_split(split: str, resolution: int, size: int, seed: int, cache: bool = True) -> tuple[Scenes, Rendered]:
    """Scenes and their renders for ``split`` (``train``/``test``), from the disk cache when present.

    Args:
        split: ``train`` or ``test``.
        resolution: output side, 16..256.
        size: number of scenes.
        seed: data seed.
        cache: read and write ``cache_dir("shapes")``; ``False`` always renders afresh.
    Returns:
        ``(scenes, rendered)``; cached arrays are read-only memory maps.
    """
    scenes = sample_scenes(split, size, seed)
    if not cache:
        return scenes, render_scenes(scenes, resolution)
    path = _cache_path(split, resolution, size, seed)
    rendered = _load_cached(path, size, resolution)
    if rendered is None:
        _save_cached(path, render_scenes(scenes, resolution))
        rendered = _load_cached(path, size, resolution)
        if rendered is None:
            raise DatasetError(f"shapes: could not write the render cache at {path}; check that "
                               "STACKGAN_CACHE points to a writable directory")
    return scenes, rendered
