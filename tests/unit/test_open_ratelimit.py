"""The token buckets behind ``POST /v1/open``'s 429s, on a clock that moves only when told."""

from __future__ import annotations

import pytest

from controller.server.ratelimit import RateLimiter


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_wait_then_refill() -> None:
    ticks = Ticks()
    limiter = RateLimiter(6, clock=ticks)  # one token every 10 s, six at most
    assert [limiter.take("dev1") for _ in range(6)] == [0] * 6
    assert limiter.take("dev1") == 10
    ticks.now += 4
    assert limiter.take("dev1") == 6
    ticks.now += 6
    assert limiter.take("dev1") == 0
    assert limiter.take("dev1") == 10


def test_keys_are_apart_and_refill_is_capped() -> None:
    ticks = Ticks()
    limiter = RateLimiter(2, clock=ticks)
    assert limiter.take("a") == limiter.take("a") == 0
    assert limiter.take("a") > 0
    assert limiter.take("b") == 0
    ticks.now += 3600
    assert [limiter.take("a") for _ in range(3)][:2] == [0, 0]
    assert limiter.take("a") > 0


def test_the_table_is_bounded_and_forgets_the_oldest() -> None:
    limiter = RateLimiter(1, clock=Ticks(), max_keys=2)
    assert limiter.take("a") == 0
    assert limiter.take("a") > 0
    limiter.take("b")
    limiter.take("c")  # "a" is forgotten: forgiven, never punished
    assert limiter.take("a") == 0


def test_a_rate_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RateLimiter(0)
