"""Policies name channels; the router swaps them for configured webhook URLs."""

from __future__ import annotations

import logging

import pytest

from controller.model import NotifyTargets
from controller.notify import ChannelRouter, Notification, NotificationKind

NOTE = Notification(
    kind=NotificationKind.WAITING,
    repository="acme/secret-requests",
    pull_request=7,
    url="https://github.test/acme/secret-requests/pull/7",
    title="Rotate the Stripe key",
    environment="production",
    secrets=("payments/stripe",),
    requester="dev1",
)
SLACK_URL = "https://hooks.slack.test/services/T0/B0/credential-part"


class Recorder:
    def __init__(self) -> None:
        self.sent: list[NotifyTargets] = []

    def send(self, notification: Notification, targets: NotifyTargets) -> None:
        assert notification is NOTE
        self.sent.append(targets)


def router(recorder: Recorder) -> ChannelRouter:
    return ChannelRouter(
        recorder,
        slack={"#SRE-Approvals": SLACK_URL},
        teams={"Platform on-call": "https://teams.test/webhook/abc"},
    )


def test_channel_names_become_their_configured_urls() -> None:
    recorder = Recorder()
    router(recorder).send(
        NOTE,
        NotifyTargets(
            slack=("sre-approvals", "#sre-approvals"),
            teams=("Platform on-call",),
            email=("sre@acme.test",),
        ),
    )
    assert recorder.sent == [
        NotifyTargets(
            slack=(SLACK_URL,),
            teams=("https://teams.test/webhook/abc",),
            email=("sre@acme.test",),
        )
    ]


def test_an_unknown_channel_is_skipped_and_named_once(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    routing = router(recorder)
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        routing.send(NOTE, NotifyTargets(slack=("#nobody-set-this-up",), email=("a@b.test",)))
    assert recorder.sent == [NotifyTargets(email=("a@b.test",))] * 3
    warnings = [r for r in caplog.records if "#nobody-set-this-up" in r.getMessage()]
    assert len(warnings) == 1
    assert "notify.slackWebhooks" in warnings[0].getMessage()
    assert "credential-part" not in caplog.text


def test_nothing_is_sent_when_no_channel_resolves() -> None:
    recorder = Recorder()
    router(recorder).send(NOTE, NotifyTargets(teams=("Unknown team",)))
    assert recorder.sent == []
