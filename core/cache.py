"""Where the project caches derived data on disk (rendered datasets, text embeddings), and :class:`LRU`,
the bounded in-memory memo (recent text embeddings in ``core.text`` and the demo)."""
from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def cache_dir(*parts: str) -> Path:
    """``$STACKGAN_CACHE`` (default ``~/.cache/stacked-gans``) joined with ``parts``, created."""
    root = Path(os.environ.get("STACKGAN_CACHE", Path.home() / ".cache" / "stacked-gans"))
    d = root.joinpath(*parts)
    d.mkdir(parents=True, exist_ok=True)
    return d


class LRU(Generic[K, V]):
    """A mapping of at most ``size`` entries; storing one more drops the least recently used.

    ``put`` and ``get`` mark an entry as the most recently used, ``peek`` and ``in`` do not. Not
    thread-safe: a caller shared between threads holds its own lock around each use."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: K) -> bool:
        return key in self._items

    def peek(self, key: K) -> V:
        """The value of ``key`` (``KeyError`` if absent), leaving the order as it is."""
        return self._items[key]

    def get(self, key: K) -> V:
        """The value of ``key`` (``KeyError`` if absent), now the most recently used."""
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: K, value: V) -> None:
        """Store ``value`` under ``key`` as the most recently used, then drop the least recently used
        entries beyond ``size`` (so with ``size`` 0 nothing is kept)."""
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
