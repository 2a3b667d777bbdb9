"""Where the project caches derived data on disk (rendered datasets, text embeddings)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$STACKGAN_CACHE`` (default ``~/.cache/stacked-gans``) joined with ``parts``, created."""
    root = Path(os.environ.get("STACKGAN_CACHE", Path.home() / ".cache" / "stacked-gans"))
    d = root.joinpath(*parts)
    d.mkdir(parents=True, exist_ok=True)
    return d
