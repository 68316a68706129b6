"""A bounded hand-off between callers and the delivery worker that never blocks a caller.

When full, the oldest item is dropped and handed back to the caller to report: under a
flood the freshest news matters most, and the reconciler must never wait on a chat server.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class BacklogClosed(Exception):
    """Raised by ``put`` after ``close``."""


class Backlog(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("backlog capacity must be at least 1")
        self._items: deque[T] = deque()
        self._capacity = capacity
        self._ready = threading.Condition()
        self._closed = False

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)

    def put(self, item: T) -> T | None:
        """Add ``item``; return the oldest item if it had to be dropped to make room."""
        with self._ready:
            if self._closed:
                raise BacklogClosed
            dropped = self._items.popleft() if len(self._items) >= self._capacity else None
            self._items.append(item)
            self._ready.notify()
            return dropped

    def get(self) -> T | None:
        """The next item, waiting for one; None once closed and empty."""
        with self._ready:
            while not self._items and not self._closed:
                self._ready.wait()
            return self._items.popleft() if self._items else None

    def close(self) -> None:
        """Refuse new items; ``get`` still hands out what is left, then returns None."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def drain(self) -> list[T]:
        """Take everything left, for a shutdown that cannot wait any longer."""
        with self._ready:
            items = list(self._items)
            self._items.clear()
            return items
