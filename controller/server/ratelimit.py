"""Token buckets per caller, for endpoints a person (or a stolen token) could hammer.

Each key (a GitHub login, a client address) has a bucket holding at most ``burst`` tokens,
refilled at ``rate_per_minute``; a request takes one or is told how long until one is back
(``Retry-After``). The table is bounded: the least recently seen keys are dropped first,
which only ever forgives a caller, never punishes one.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_KEYS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Thread-safe; ``take(key)`` is 0 when allowed, else the seconds to wait (at least 1)."""

    def __init__(
        self,
        rate_per_minute: int,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if rate_per_minute < 1:
            raise ValueError("rate_per_minute must be at least 1")
        self._per_second = rate_per_minute / 60.0
        self._burst = float(burst if burst is not None else rate_per_minute)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(self._burst, now)
                self._buckets[key] = bucket
                while len(self._buckets) > self._max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
                bucket.tokens = min(
                    self._burst, bucket.tokens + (now - bucket.at) * self._per_second
                )
                bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self._per_second))
