"""Primary rate-limit budgets per identity, and injected faults (errors, throttling, slowness)."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass

WINDOW_SECONDS = 3600
ANONYMOUS_LIMIT = 60  # GitHub's budget for unauthenticated callers


def graphql_key(key: str) -> str:
    """The GraphQL budget of an identity: GitHub keeps it apart from the REST one."""
    return f"{key}#graphql"


@dataclass
class Bucket:
    limit: int
    remaining: int
    reset: int

    @property
    def used(self) -> int:
        return self.limit - self.remaining


class RateLimiter:
    """One hourly `core` budget per identity key, as GitHub keeps per user or installation."""

    def __init__(self, limit: int = 5000) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._initial_remaining: int | None = None
        self._buckets: dict[str, Bucket] = {}

    def configure(self, limit: int, remaining: int | None) -> None:
        with self._lock:
            self._limit = limit
            self._initial_remaining = remaining
            self._buckets.clear()

    def _bucket(self, key: str) -> Bucket:
        now = int(time.time())
        bucket = self._buckets.get(key)
        if bucket is None or bucket.reset <= now:
            limit = ANONYMOUS_LIMIT if key == "anonymous" else self._limit
            remaining = limit if self._initial_remaining is None else self._initial_remaining
            bucket = Bucket(limit, min(remaining, limit), now + WINDOW_SECONDS)
            self._buckets[key] = bucket
        return bucket

    def peek(self, key: str) -> Bucket:
        with self._lock:
            b = self._bucket(key)
            return Bucket(b.limit, b.remaining, b.reset)

    def take(self, key: str) -> Bucket:
        """Spend one request; the returned snapshot is what the response headers report."""
        with self._lock:
            b = self._bucket(key)
            b.remaining = max(0, b.remaining - 1)
            return Bucket(b.limit, b.remaining, b.reset)


@dataclass
class Fault:
    status: int
    count: int
    path_contains: str | None
    retry_after: int | None
    delay_seconds: float
    method: str | None = None
    """Only requests of this method (``GET``: what the controller reads, not what people
    post to the same path)."""
    graphql: str | None = None
    """Only GraphQL documents of this kind (``query`` or ``mutation``): a read and a report
    share one path."""


class Faults:
    """Faults answered to the next matching requests, first injected first used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, path: str, method: str = "GET", graphql: str | None = None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.count <= 0 or (fault.method is not None and fault.method != method):
                    continue
                if fault.graphql is not None and fault.graphql != graphql:
                    continue
                if fault.path_contains is None or fault.path_contains in path:
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return dataclasses.replace(fault, count=1)
        return None
