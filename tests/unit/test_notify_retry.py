"""Retry rules, Retry-After, settings validation and the bounded backlog, without I/O."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from controller.errors import NotifyError
from controller.notify import RetryPolicy, SmtpSettings
from controller.notify.backlog import Backlog, BacklogClosed
from controller.notify.retry import DeliveryError, with_retries
from controller.notify.webhook import retry_after_seconds, webhook_host

POLICY = RetryPolicy(attempts=4, initial_s=1.0, max_backoff_s=8.0, max_retry_after_s=60.0)


class Script:
    """An attempt that raises the given errors in turn, then succeeds."""

    def __init__(self, *errors: DeliveryError) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)


def test_delivery_errors_are_notify_errors() -> None:
    assert isinstance(DeliveryError("x", retryable=True), NotifyError)


def test_retryable_failures_are_retried_until_success() -> None:
    sleeps: list[float] = []
    retries: list[int] = []
    attempt = Script(DeliveryError("503", retryable=True), DeliveryError("503", retryable=True))
    result = with_retries(
        attempt, POLICY, sleep=sleeps.append, on_retry=lambda n, e, w: retries.append(n)
    )
    assert (result.tries, result.error, attempt.calls) == (3, None, 3)
    assert retries == [1, 2]
    # Full jitter: each wait lies within the exponential bound for its try.
    assert 0 <= sleeps[0] <= 1.0
    assert 0 <= sleeps[1] <= 2.0


def test_a_final_failure_is_not_retried() -> None:
    sleeps: list[float] = []
    attempt = Script(DeliveryError("400", retryable=False))
    result = with_retries(attempt, POLICY, sleep=sleeps.append)
    assert (result.tries, attempt.calls, sleeps) == (1, 1, [])
    assert result.error is not None
    assert str(result.error) == "400"


def test_the_budget_is_bounded() -> None:
    sleeps: list[float] = []
    attempt = Script(*(DeliveryError("down", retryable=True) for _ in range(10)))
    result = with_retries(attempt, POLICY, sleep=sleeps.append)
    assert (result.tries, attempt.calls, len(sleeps)) == (4, 4, 3)
    assert result.error is not None
    assert all(w <= 8.0 for w in sleeps)


def test_retry_after_is_honoured() -> None:
    sleeps: list[float] = []
    attempt = Script(DeliveryError("429", retryable=True, retry_after_s=7.0))
    result = with_retries(attempt, POLICY, sleep=sleeps.append)
    assert result.error is None
    assert sleeps == [7.0]


def test_a_retry_after_beyond_the_limit_gives_up_instead_of_waiting() -> None:
    sleeps: list[float] = []
    attempt = Script(DeliveryError("429", retryable=True, retry_after_s=3600.0))
    result = with_retries(attempt, POLICY, sleep=sleeps.append)
    assert (result.tries, sleeps) == (1, [])
    assert result.error is not None


def test_a_stop_event_ends_retrying() -> None:
    stop = threading.Event()

    def attempt() -> None:
        stop.set()
        raise DeliveryError("down", retryable=True)

    result = with_retries(attempt, POLICY, sleep=lambda s: None, stop=stop)
    assert result.tries == 1
    assert result.error is not None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Sat, 21 Nov 2026 10:00:30 GMT", 30.0),
        ("Sat, 21 Nov 2026 09:00:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_retry_after_header_forms(header: str | None, seconds: float | None) -> None:
    now = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(header, now=now) == seconds


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("https://hooks.slack.com/services/T000/B000/XXXXSECRET", "hooks.slack.com"),
        (
            "https://acme.webhook.office.com:8443/webhookb2/abc@def/IncomingWebhook/x/y",
            "acme.webhook.office.com:8443",
        ),
        ("not a url", "an unparseable URL"),
        ("https://host:notaport/path", "an unparseable URL"),
    ],
)
def test_webhook_labels_show_the_host_only(url: str, label: str) -> None:
    assert webhook_host(url) == label


def test_smtp_settings_refuse_unsafe_or_half_configs() -> None:
    with pytest.raises(ValueError, match="together"):
        SmtpSettings(host="mail", sender="s@example.com", username="u")
    with pytest.raises(ValueError, match="starttls"):
        SmtpSettings(
            host="mail", sender="s@example.com", username="u", password="p", starttls=False
        )
    with pytest.raises(ValueError, match="timeout"):
        SmtpSettings(host="mail", sender="s@example.com", timeout_s=0)


def test_smtp_password_stays_out_of_repr() -> None:
    settings = SmtpSettings(
        host="mail", sender="s@example.com", username="u", password="hunter2-pw"
    )
    assert "hunter2-pw" not in repr(settings)
    assert "username='u'" in repr(settings)


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(initial_s=-1)


def test_backlog_drops_the_oldest_when_full() -> None:
    backlog: Backlog[int] = Backlog(2)
    assert backlog.put(1) is None
    assert backlog.put(2) is None
    assert backlog.put(3) == 1
    assert len(backlog) == 2
    assert [backlog.get(), backlog.get()] == [2, 3]


def test_backlog_hands_out_what_is_left_after_close_then_ends() -> None:
    backlog: Backlog[str] = Backlog(5)
    backlog.put("a")
    backlog.put("b")
    backlog.close()
    with pytest.raises(BacklogClosed):
        backlog.put("c")
    assert backlog.get() == "a"
    assert backlog.drain() == ["b"]
    assert backlog.get() is None


def test_backlog_wakes_a_waiting_consumer() -> None:
    backlog: Backlog[int] = Backlog(1)
    got: list[int | None] = []
    consumer = threading.Thread(target=lambda: got.extend([backlog.get(), backlog.get()]))
    consumer.start()
    backlog.put(7)
    backlog.close()
    consumer.join(timeout=5)
    assert got == [7, None]
