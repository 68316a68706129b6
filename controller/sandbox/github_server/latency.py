"""A round trip to api.github.com, imitated: every answer waits ``seconds`` ± ``jitter``.

On loopback a request costs almost nothing, which hides how many of them stand between an
approval and the Secret; real GitHub answers in about 100 ms. The pause is taken outside
every lock, per request, so requests a client makes in parallel overlap as they would. Half
of it passes before the request is served and half after, as the way there and back: what
the request changes (and the webhooks it sends) happens mid-way, as on GitHub.
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$")


@dataclass(frozen=True, slots=True)
class Latency:
    seconds: float = 0.0
    jitter: float = 0.0
    """Each pause is drawn uniformly from ``seconds ± jitter`` (never below zero)."""

    def __post_init__(self) -> None:
        if self.seconds < 0 or self.jitter < 0:
            raise ValueError("latency and jitter must not be negative")


def parse_latency(text: str) -> float:
    """``100ms``, ``0.1s`` or ``0.1`` (seconds) -> seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"expected a duration such as 100ms or 0.1s, not {text!r}")
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


class LatencyInjector:
    def __init__(self, latency: Latency | None = None) -> None:
        self._latency = latency or Latency()
        self._lock = threading.Lock()
        self._random = random.Random()  # noqa: S311 - a delay, not a secret

    def set(self, latency: Latency) -> None:
        with self._lock:
            self._latency = latency

    @property
    def latency(self) -> Latency:
        with self._lock:
            return self._latency

    def draw(self) -> float:
        """One round trip's delay in seconds."""
        with self._lock:
            latency = self._latency
            spread = self._random.uniform(-latency.jitter, latency.jitter)
        return max(0.0, latency.seconds + spread)

    @staticmethod
    def pause(delay: float) -> None:
        if delay > 0:
            time.sleep(delay)
