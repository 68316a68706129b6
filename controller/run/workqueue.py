"""A de-duplicating work queue: a pull request queued twice is handled once.

Webhooks and the periodic poll both add ``(repo, number)`` keys. A key already waiting is
not added again. A key added while a worker is handling it is marked dirty and queued again
when the worker is done (the event may carry news the running pass did not see), but never
handed to two workers at once: one pull request is reconciled by one thread at a time.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self) -> None:
        self._ready: deque[K] = deque()
        self._waiting: set[K] = set()
        """Keys in ``_ready`` or dirty: adding one of them again is a no-op."""
        self._active: set[K] = set()
        self._dirty: set[K] = set()
        self._closed = False
        self._cond = threading.Condition()

    def add(self, key: K) -> bool:
        """Queue ``key``; False when it was already waiting or the queue is shut down."""
        with self._cond:
            if self._closed or key in self._waiting:
                return False
            self._waiting.add(key)
            if key in self._active:
                self._dirty.add(key)
            else:
                self._ready.append(key)
                self._cond.notify()
            return True

    def get(self, timeout: float | None = None) -> K | None:
        """The next key (now owned by the caller until :meth:`done`), or None on timeout or
        shutdown."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._ready or self._closed, timeout):
                return None
            if self._closed or not self._ready:
                return None
            key = self._ready.popleft()
            self._waiting.discard(key)
            self._active.add(key)
            return key

    def done(self, key: K) -> None:
        with self._cond:
            self._active.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                if not self._closed:
                    self._ready.append(key)
                    self._cond.notify()
            self._cond.notify_all()

    def shut_down(self) -> None:
        """Hand out nothing more; keys still waiting are dropped (the next start polls)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no key is being handled; True if that happened within ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._active, timeout)

    @property
    def active(self) -> int:
        with self._cond:
            return len(self._active)

    def __len__(self) -> int:
        """Keys waiting to be handled: the queue depth."""
        with self._cond:
            return len(self._ready) + len(self._dirty)
