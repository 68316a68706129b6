"""Bounded retries for one delivery, with tenacity: exponential back-off with full jitter,
``Retry-After`` honoured, and only failures that another try can fix are retried."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_when_event_set,
    wait_random_exponential,
)

from controller.errors import NotifyError
from controller.notify.settings import RetryPolicy


class DeliveryError(NotifyError):
    """One try failed. ``retry_after_s`` is the server's own ``Retry-After``, when it sent one."""

    def __init__(
        self, message: str, *, retryable: bool, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Attempts:
    tries: int
    error: DeliveryError | None
    """The last failure when every try failed (or the failure was final); None on success."""


RetryHook = Callable[[int, DeliveryError, float], None]
"""Called before each back-off with the try number just failed, its error and the wait."""


def _last_error(state: RetryCallState) -> DeliveryError | None:
    if state.outcome is None:
        return None
    exc = state.outcome.exception()
    return exc if isinstance(exc, DeliveryError) else None


def _wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    backoff = wait_random_exponential(multiplier=policy.initial_s, max=policy.max_backoff_s)

    def wait(state: RetryCallState) -> float:
        error = _last_error(state)
        if error is not None and error.retry_after_s is not None:
            return error.retry_after_s
        return float(backoff(state))

    return wait


def _retryable(policy: RetryPolicy) -> Callable[[BaseException], bool]:
    def retryable(exc: BaseException) -> bool:
        if not isinstance(exc, DeliveryError) or not exc.retryable:
            return False
        # A server asking for a long pause is better answered by giving up than by holding
        # the worker (and every notification behind this one) for that long.
        return exc.retry_after_s is None or exc.retry_after_s <= policy.max_retry_after_s

    return retryable


def with_retries(
    attempt: Callable[[], None],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None],
    stop: threading.Event | None = None,
    on_retry: RetryHook | None = None,
) -> Attempts:
    """Run ``attempt`` until it succeeds, fails for good, or the budget is spent."""
    tries = 0

    def once() -> None:
        nonlocal tries
        tries += 1
        attempt()

    def before_sleep(state: RetryCallState) -> None:
        error = _last_error(state)
        if on_retry is not None and error is not None and state.next_action is not None:
            on_retry(state.attempt_number, error, state.next_action.sleep)

    stop_rule = stop_after_attempt(policy.attempts)
    retrying = Retrying(
        stop=stop_rule if stop is None else stop_rule | stop_when_event_set(stop),
        wait=_wait(policy),
        retry=retry_if_exception(_retryable(policy)),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        retrying(once)
    except DeliveryError as exc:
        return Attempts(tries, exc)
    return Attempts(tries, None)
