"""Small thread-safe caches: bounded LRU for immutable things, TTL for things that drift."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """Keeps the ``maxsize`` most recently used entries.

    Used for content addressed by a git object id (a commit's rule files, a blob's bytes):
    such content never changes, so an entry is never stale, only evicted.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)

    def add_if_absent(self, key: K, value: V) -> bool:
        """Insert unless present; True when inserted. One lock, so two threads cannot both win."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return False
            self._items[key] = value
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)
            return True

    def discard(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class TtlCache(Generic[K, V]):
    """Entries expire ``ttl`` seconds after they were stored (monotonic clock)."""

    def __init__(
        self, ttl: float, *, maxsize: int = 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._items: LruCache[K, tuple[float, V]] = LruCache(maxsize)

    def get(self, key: K) -> V | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        stored_at, value = entry
        if self._clock() - stored_at >= self._ttl:
            self._items.discard(key)
            return None
        return value

    def put(self, key: K, value: V) -> None:
        self._items.put(key, (self._clock(), value))


class ByteBudgetLru(Generic[K]):
    """Keeps the most recently used byte strings whose lengths add up to at most ``max_bytes``.

    Bounded by size rather than count: what must fit is "every file of one pull request at
    the per-file limit", which is a number of bytes. A value larger than the whole budget is
    not kept.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self.max_bytes = max_bytes
        self._items: OrderedDict[K, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> bytes | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._items[key] = value
            self._size += len(value)
            while self._size > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._size -= len(evicted)

    @property
    def size(self) -> int:
        with self._lock:
            return self._size

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
