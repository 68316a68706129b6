"""The background notifier: ``send`` returns while delivery is stuck, the queue is bounded,
``close`` drains, and failures anywhere are logged and recorded without reaching the caller."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from controller.model import NotifyTargets
from controller.notify import (
    Channel,
    DeliveryOutcome,
    Notification,
    NotificationKind,
    Notifier,
    RetryPolicy,
    SmtpSettings,
)
from tests.integration.test_notify_loopback import (
    SMTP_USER,
    Certificate,
    MailServer,
    WebhookReceiver,
    certificate,
    closed_port,
    mail_server,
    receiver,
)
from tests.unit.test_notify_render import sample

# Imported fixtures are found by name; listing them marks the import as intended.
__all__ = ["certificate", "mail_server", "receiver"]

HOOK = "/services/T1/B2/hook-secret-CANARY"
WAIT_S = 10.0
"""Generous bound on waiting for a loopback event; reaching it means the test failed."""


def numbered(number: int) -> Notification:
    return replace(sample(NotificationKind.WAITING), pull_request=number)


def retry() -> RetryPolicy:
    return RetryPolicy(attempts=3, initial_s=0.5, max_backoff_s=2.0, http_timeout_s=WAIT_S)


def test_send_returns_while_delivery_is_stuck_and_close_finishes_it(
    receiver: WebhookReceiver,
) -> None:
    sender = Notifier(retry=retry(), sleep=lambda s: None)
    receiver.gate.clear()
    sender.send(numbered(1), NotifyTargets(slack=(receiver.url(HOOK),)))
    # The request is now held inside the receiver, yet ``send`` has already returned.
    assert receiver.arrived.acquire(timeout=WAIT_S)
    assert sender.deliveries == []
    receiver.gate.set()
    assert sender.close(timeout=WAIT_S)
    [outcome] = sender.deliveries
    assert (outcome.delivered, outcome.pull_request) == (True, 1)


def test_close_drains_every_pending_notification(receiver: WebhookReceiver) -> None:
    sender = Notifier(retry=retry(), sleep=lambda s: None)
    targets = NotifyTargets(teams=(receiver.url(HOOK),))
    receiver.gate.clear()
    for number in range(1, 6):
        sender.send(numbered(number), targets)
    assert receiver.arrived.acquire(timeout=WAIT_S)
    assert sender.pending == 4
    receiver.gate.set()
    assert sender.close(timeout=WAIT_S)
    assert sender.pending == 0
    assert [o.pull_request for o in sender.deliveries] == [1, 2, 3, 4, 5]
    assert all(o.delivered for o in sender.deliveries)
    assert len(receiver.bodies(HOOK)) == 5


def test_a_full_queue_drops_the_oldest_with_a_warning(
    receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    sender = Notifier(retry=retry(), sleep=lambda s: None, queue_size=2)
    targets = NotifyTargets(slack=(receiver.url(HOOK),))
    receiver.gate.clear()
    sender.send(numbered(1), targets)
    assert receiver.arrived.acquire(timeout=WAIT_S)  # 1 is in flight, not queued
    for number in (2, 3, 4):
        sender.send(numbered(number), targets)
    receiver.gate.set()
    assert sender.close(timeout=WAIT_S)
    delivered = [o.pull_request for o in sender.deliveries if o.delivered]
    [lost] = [o for o in sender.deliveries if not o.delivered]
    assert delivered == [1, 3, 4]
    assert (lost.pull_request, lost.attempts, lost.channel) == (2, 0, Channel.SLACK)
    assert lost.error is not None
    assert "queue full" in lost.error
    assert any(
        r.levelno == logging.WARNING and "queue full" in r.getMessage() for r in caplog.records
    )
    assert "CANARY" not in caplog.text


def test_close_gives_up_after_its_timeout_and_records_what_was_left(
    receiver: WebhookReceiver,
) -> None:
    sender = Notifier(retry=retry(), sleep=lambda s: None)
    targets = NotifyTargets(slack=(receiver.url(HOOK),))
    receiver.gate.clear()
    sender.send(numbered(1), targets)
    assert receiver.arrived.acquire(timeout=WAIT_S)
    sender.send(numbered(2), targets)
    try:
        assert sender.close(timeout=0.05) is False
    finally:
        receiver.gate.set()
    [left] = [o for o in sender.deliveries if o.pull_request == 2]
    assert (left.delivered, left.error) == (False, "notifier shut down before delivery")


def test_send_after_close_is_recorded_not_raised(receiver: WebhookReceiver) -> None:
    sender = Notifier()
    assert sender.close(timeout=WAIT_S)
    sender.send(numbered(9), NotifyTargets(slack=(receiver.url(HOOK),)))
    [outcome] = sender.deliveries
    assert (outcome.delivered, outcome.error) == (False, "notifier is closed")
    assert receiver.received == []


def test_every_failure_is_logged_and_recorded_while_the_caller_carries_on(
    receiver: WebhookReceiver,
    mail_server: MailServer,
    certificate: Certificate,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="controller.notify")
    seen: list[DeliveryOutcome] = []
    smtp = SmtpSettings(
        host="127.0.0.1",
        port=mail_server.port,
        sender="sealgate@example.com",
        username=SMTP_USER,
        password="not-the-password-CANARY",
        timeout_s=WAIT_S,
        ca_file=str(certificate.cert_file),
    )
    down = f"http://127.0.0.1:{closed_port()}/services/down-CANARY"
    receiver.answer("/teams-CANARY", 400)
    targets = NotifyTargets(
        slack=(down, receiver.url(HOOK)),
        teams=(receiver.url("/teams-CANARY"),),
        email=("ops@example.com",),
    )
    sender = Notifier(smtp=smtp, retry=retry(), sleep=lambda s: None, on_outcome=seen.append)
    sender.send(sample(NotificationKind.BYPASSED), targets)
    assert sender.close(timeout=WAIT_S)
    assert [(o.channel, o.delivered, o.attempts) for o in seen] == [
        (Channel.SLACK, False, 3),
        (Channel.SLACK, True, 1),
        (Channel.TEAMS, False, 1),
        (Channel.EMAIL, False, 1),
    ]
    assert seen == sender.deliveries
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3
    assert "CANARY" not in caplog.text
    assert all("CANARY" not in o.target and "CANARY" not in (o.error or "") for o in seen)
    assert mail_server.mails == []


def test_a_failing_outcome_callback_does_not_stop_deliveries(receiver: WebhookReceiver) -> None:
    def explode(outcome: DeliveryOutcome) -> None:
        raise RuntimeError("metrics backend down")

    sender = Notifier(retry=retry(), sleep=lambda s: None, on_outcome=explode)
    for number in (1, 2):
        sender.send(numbered(number), NotifyTargets(slack=(receiver.url(HOOK),)))
    assert sender.close(timeout=WAIT_S)
    assert [o.delivered for o in sender.deliveries] == [True, True]


def test_history_is_bounded(receiver: WebhookReceiver) -> None:
    with Notifier(history=3) as sender:
        for number in range(5):
            sender.deliver(numbered(number), NotifyTargets(slack=(receiver.url(HOOK),)))
        assert [o.pull_request for o in sender.deliveries] == [2, 3, 4]
