"""Tests for core.cache.LRU, the bounded in-memory memo."""
from __future__ import annotations

import pytest

from core.cache import LRU


def test_lru_drops_the_least_recently_used():
    lru = LRU(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1        # "a" is now the most recent
    lru.put("c", 3)                 # so "b" goes
    assert len(lru) == 2 and "b" not in lru and "a" in lru and "c" in lru
    assert lru.peek("a") == 1       # peek leaves the order: "a" is still the oldest
    lru.put("d", 4)
    assert "a" not in lru and [lru.peek(k) for k in ("c", "d")] == [3, 4]
    lru.put("c", 30)                # replacing a value refreshes it too
    lru.put("e", 5)
    assert "d" not in lru and lru.peek("c") == 30
    with pytest.raises(KeyError):
        lru.get("a")
    with pytest.raises(KeyError):
        lru.peek("a")


def test_lru_of_size_zero_keeps_nothing():
    lru = LRU(0)
    lru.put("a", 1)
    assert len(lru) == 0 and "a" not in lru and lru.size == 0
