"""Rendering notifications for Slack, Teams and email: every kind, clear words, no surprises."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from controller.notify import (
    Notification,
    NotificationKind,
    email_recipients,
    render_email,
    render_slack,
    render_teams,
)

BASE = Notification(
    kind=NotificationKind.WAITING,
    repository="acme/secrets",
    pull_request=42,
    url="https://github.example/acme/secrets/pull/42",
    title="Rotate the Stripe key",
    environment="production",
    secrets=("production/payments/stripe",),
    requester="dev-dana",
    approvers_needed=("alice", "bob"),
    details=("set api_key (fingerprint 3f9a1c2b)",),
)

ACTORS = {
    NotificationKind.APPROVED: ("alice", None),
    NotificationKind.REJECTED: ("bob", "wrong account"),
    NotificationKind.BYPASSED: ("dev-dana", "payments down, INC-7"),
    NotificationKind.APPLIED: ("alice", None),
    NotificationKind.FAILED: (None, "rollout of payments/api timed out"),
}


def sample(kind: NotificationKind) -> Notification:
    actor, reason = ACTORS.get(kind, (None, None))
    return replace(BASE, kind=kind, actor=actor, reason=reason)


def _slack_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


@pytest.mark.parametrize("kind", list(NotificationKind))
def test_every_kind_renders_the_essentials_on_every_channel(kind: NotificationKind) -> None:
    n = sample(kind)
    slack = _slack_text(render_slack(n))
    teams = json.dumps(render_teams(n), ensure_ascii=False)
    mail = render_email(n, sender="sealgate@example.com", recipients=("ops@example.com",))
    body = mail.get_content()
    for text in (slack, teams, body):
        assert "acme/secrets#42" in text
        assert "production/payments/stripe" in text
        assert n.url in text
        assert "@dev-dana" in text
        assert "fingerprint 3f9a1c2b" in text
        if n.actor:
            assert f"@{n.actor}" in text
        if n.reason:
            assert n.reason in text
    assert "acme/secrets#42" in mail["Subject"]


@pytest.mark.parametrize("kind", [NotificationKind.WAITING, NotificationKind.REMINDER])
def test_requests_waiting_name_who_can_approve(kind: NotificationKind) -> None:
    n = sample(kind)
    slack = render_slack(n)
    assert "Can approve: @alice, @bob" in slack["blocks"][1]["text"]["text"]
    assert (
        "Can approve: @alice, @bob"
        in render_email(n, sender="s@example.com", recipients=("a@example.com",)).get_content()
    )


def test_headlines_differ_per_kind_so_people_can_triage_at_a_glance() -> None:
    subjects = {
        str(
            render_email(sample(k), sender="s@example.com", recipients=("a@example.com",))[
                "Subject"
            ]
        )
        for k in NotificationKind
    }
    assert len(subjects) == len(NotificationKind)


def test_break_glass_reads_as_urgent() -> None:
    n = sample(NotificationKind.BYPASSED)
    card = render_teams(n)["attachments"][0]["content"]
    assert card["body"][0]["color"] == "attention"
    assert "merge WITHOUT approval" in card["body"][0]["text"]
    assert "Reason: payments down, INC-7." in render_slack(n)["blocks"][1]["text"]["text"]


def test_slack_escapes_what_people_typed() -> None:
    n = replace(
        sample(NotificationKind.REJECTED),
        title="<!channel> look & <https://evil.example|click>",
        reason="<!here>",
    )
    text = _slack_text(render_slack(n))
    assert "<!channel>" not in text
    assert "<!here>" not in text
    assert "<https://evil.example" not in text
    assert "&lt;!channel&gt; look &amp;" in text


def test_slack_respects_block_kit_limits() -> None:
    n = replace(BASE, title="t" * 500, details=tuple(f"line {i} " + "x" * 80 for i in range(100)))
    blocks = render_slack(n)["blocks"]
    assert blocks[0]["type"] == "header"
    assert len(blocks[0]["text"]["text"]) <= 150
    assert all(
        len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section" and "text" in b
    )
    assert all(len(f["text"]) <= 2000 for f in blocks[2]["fields"])
    assert len(blocks[2]["fields"]) <= 10
    assert blocks[-1]["elements"][0]["url"] == n.url


def test_teams_payload_is_an_adaptive_card_message() -> None:
    payload = render_teams(sample(NotificationKind.APPLIED))
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["body"][0]["color"] == "good"
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open pull request", "url": BASE.url}
    ]
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Environment"] == "production"
    assert facts["Merged by"] == "@alice"


def test_email_headers_are_single_line_and_marked_automatic() -> None:
    n = replace(BASE, title="Rotate\r\nBcc: victim@example.com\nkey")
    mail = render_email(
        n, sender="sealgate <sealgate@example.com>", recipients=("a@example.com", "b@example.com")
    )
    assert "\n" not in str(mail["Subject"])
    assert mail["Bcc"] is None
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["To"] == "a@example.com, b@example.com"
    assert mail.get_content_type() == "text/plain"
    assert "Rotate Bcc: victim@example.com key" in mail.get_content()


def test_bypass_mails_every_mapped_approver_and_reports_the_unmapped() -> None:
    n = replace(sample(NotificationKind.BYPASSED), approvers_needed=("alice", "bob", "carol"))
    recipients, unknown = email_recipients(
        n,
        ("security@example.com", "Alice@Example.com"),
        {"alice": "alice@example.com", "bob": "bob@example.com"},
    )
    assert recipients == ("security@example.com", "Alice@Example.com", "bob@example.com")
    assert unknown == ("carol",)


@pytest.mark.parametrize(
    "kind", [k for k in NotificationKind if k is not NotificationKind.BYPASSED]
)
def test_other_kinds_mail_only_the_policy_list(kind: NotificationKind) -> None:
    recipients, unknown = email_recipients(
        sample(kind), ("ops@example.com",), {"alice": "alice@example.com"}
    )
    assert (recipients, unknown) == (("ops@example.com",), ())


def test_long_detail_lists_are_cut_with_a_pointer_to_the_pull_request() -> None:
    n = replace(BASE, details=tuple(f"set key{i:03d}" for i in range(100)))
    note = "… and 70 more on the pull request"
    teams = json.dumps(render_teams(n), ensure_ascii=False)
    body = render_email(n, sender="s@example.com", recipients=("a@example.com",)).get_content()
    for text in (_slack_text(render_slack(n)), teams, body):
        assert "key029" in text
        assert "key030" not in text
        assert note in text


def test_nobody_eligible_is_said_plainly() -> None:
    n = replace(BASE, approvers_needed=())
    assert "Can approve: nobody listed" in render_slack(n)["blocks"][1]["text"]["text"]
