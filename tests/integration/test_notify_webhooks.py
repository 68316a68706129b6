"""Slack and Teams delivery over real HTTP to a loopback receiver: payloads, retries, refusals,
and webhook paths (the credential) kept out of every log line and outcome."""

from __future__ import annotations

import logging

import pytest

from controller.model import NotifyTargets
from controller.notify import (
    Channel,
    NotificationKind,
    Notifier,
    RetryPolicy,
    render_slack,
    render_teams,
)
from tests.integration.test_notify_loopback import WebhookReceiver, closed_port, receiver
from tests.unit.test_notify_render import sample

# Imported fixtures are found by name; listing them marks the import as intended.
__all__ = ["receiver"]

SLACK_PATH = "/services/T0001/B0002/slack-token-CANARY"
TEAMS_PATH = "/webhookb2/tenant@org/IncomingWebhook/teams-token-CANARY/owner"
CANARY = "CANARY"


def notifier(sleeps: list[float], attempts: int = 4) -> Notifier:
    policy = RetryPolicy(attempts=attempts, initial_s=0.5, max_backoff_s=4.0, http_timeout_s=5.0)
    return Notifier(retry=policy, sleep=sleeps.append)


def _no_canary_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert CANARY not in record.getMessage()
    assert CANARY not in caplog.text


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="controller.notify")


@pytest.mark.parametrize("kind", list(NotificationKind))
def test_each_kind_reaches_slack_and_teams(
    kind: NotificationKind, receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    n = sample(kind)
    targets = NotifyTargets(slack=(receiver.url(SLACK_PATH),), teams=(receiver.url(TEAMS_PATH),))
    with notifier([]) as sender:
        outcomes = sender.deliver(n, targets)
    assert [(o.channel, o.delivered, o.attempts) for o in outcomes] == [
        (Channel.SLACK, True, 1),
        (Channel.TEAMS, True, 1),
    ]
    assert receiver.bodies(SLACK_PATH) == [render_slack(n)]
    assert receiver.bodies(TEAMS_PATH) == [render_teams(n)]
    assert all(r.content_type == "application/json" for r in receiver.received)
    assert all(o.kind is kind and o.pull_request == 42 for o in outcomes)
    _no_canary_in_logs(caplog)


def test_several_webhooks_per_channel_are_labelled_apart(receiver: WebhookReceiver) -> None:
    targets = NotifyTargets(slack=(receiver.url("/a/CANARY1"), receiver.url("/b/CANARY2")))
    with notifier([]) as sender:
        outcomes = sender.deliver(sample(NotificationKind.APPROVED), targets)
    host = receiver.url("").removeprefix("http://")
    assert [o.target for o in outcomes] == [
        f"slack webhook 1 at {host}",
        f"slack webhook 2 at {host}",
    ]
    assert len(receiver.received) == 2


def test_server_errors_are_retried_then_succeed(
    receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.answer(SLACK_PATH, 500, times=2)
    sleeps: list[float] = []
    with notifier(sleeps) as sender:
        [outcome] = sender.deliver(
            sample(NotificationKind.FAILED), NotifyTargets(slack=(receiver.url(SLACK_PATH),))
        )
    assert (outcome.delivered, outcome.attempts, outcome.error) == (True, 3, None)
    assert len(receiver.bodies(SLACK_PATH)) == 3
    assert len(sleeps) == 2
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert all("HTTP 500" in r.getMessage() and "127.0.0.1" in r.getMessage() for r in retries)
    _no_canary_in_logs(caplog)


def test_rate_limits_are_retried_after_the_servers_retry_after(
    receiver: WebhookReceiver,
) -> None:
    receiver.answer(TEAMS_PATH, 429, times=2, headers={"Retry-After": "7"})
    sleeps: list[float] = []
    with notifier(sleeps) as sender:
        [outcome] = sender.deliver(
            sample(NotificationKind.WAITING), NotifyTargets(teams=(receiver.url(TEAMS_PATH),))
        )
    assert (outcome.delivered, outcome.attempts) == (True, 3)
    assert sleeps == [7.0, 7.0]


def test_a_retry_after_too_long_to_wait_for_is_reported_not_slept(
    receiver: WebhookReceiver,
) -> None:
    receiver.answer(SLACK_PATH, 429, headers={"Retry-After": "3600"})
    sleeps: list[float] = []
    with notifier(sleeps) as sender:
        [outcome] = sender.deliver(
            sample(NotificationKind.REMINDER), NotifyTargets(slack=(receiver.url(SLACK_PATH),))
        )
    assert (outcome.delivered, outcome.attempts, sleeps) == (False, 1, [])
    assert outcome.error == "webhook answered HTTP 429 (Retry-After 3600 s)"


def test_a_client_error_is_not_retried(
    receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.answer(SLACK_PATH, 400, times=5)
    sleeps: list[float] = []
    with notifier(sleeps) as sender:
        [outcome] = sender.deliver(
            sample(NotificationKind.APPLIED), NotifyTargets(slack=(receiver.url(SLACK_PATH),))
        )
    assert (outcome.delivered, outcome.attempts, sleeps) == (False, 1, [])
    assert outcome.error is not None
    assert "HTTP 400" in outcome.error
    assert len(receiver.received) == 1
    [failure] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "giving up" in failure.getMessage()
    _no_canary_in_logs(caplog)


def test_retries_are_bounded_when_the_server_keeps_failing(receiver: WebhookReceiver) -> None:
    receiver.answer(SLACK_PATH, 503, times=10)
    sleeps: list[float] = []
    with notifier(sleeps, attempts=3) as sender:
        [outcome] = sender.deliver(
            sample(NotificationKind.EXPIRED), NotifyTargets(slack=(receiver.url(SLACK_PATH),))
        )
    assert (outcome.delivered, outcome.attempts) == (False, 3)
    assert len(receiver.received) == 3


def test_a_redirect_is_not_followed(receiver: WebhookReceiver) -> None:
    receiver.answer(SLACK_PATH, 302, headers={"Location": receiver.url("/elsewhere")})
    with notifier([]) as sender:
        [outcome] = sender.deliver(
            sample(NotificationKind.APPROVED), NotifyTargets(slack=(receiver.url(SLACK_PATH),))
        )
    assert (outcome.delivered, outcome.attempts) == (False, 1)
    assert receiver.bodies("/elsewhere") == []


def test_a_receiver_that_is_down_is_retried_logged_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}{SLACK_PATH}"
    sleeps: list[float] = []
    with notifier(sleeps, attempts=2) as sender:
        [outcome] = sender.deliver(sample(NotificationKind.BYPASSED), NotifyTargets(slack=(url,)))
    assert (outcome.delivered, outcome.attempts, len(sleeps)) == (False, 2, 1)
    assert outcome.error == "could not connect to the webhook"
    assert CANARY not in outcome.target
    assert any("giving up" in r.getMessage() for r in caplog.records)
    _no_canary_in_logs(caplog)


def test_plain_http_is_refused_off_loopback() -> None:
    with notifier([]) as sender:
        [outcome] = sender.deliver(
            sample(NotificationKind.WAITING),
            NotifyTargets(slack=("http://hooks.example.invalid/services/CANARY",)),
        )
    assert (outcome.delivered, outcome.attempts) == (False, 1)
    assert outcome.error is not None
    assert "https" in outcome.error
    assert CANARY not in outcome.error


def test_a_refusal_body_echoing_the_path_is_redacted(receiver: WebhookReceiver) -> None:
    receiver.answer(SLACK_PATH, 404, body=f"no_service for POST {SLACK_PATH}")
    with notifier([]) as sender:
        [outcome] = sender.deliver(
            sample(NotificationKind.APPROVED), NotifyTargets(slack=(receiver.url(SLACK_PATH),))
        )
    assert outcome.error == "webhook refused the message with HTTP 404: no_service for POST /…"
