"""The agents client's pure parts with literal fixtures, and what importing it pulls in."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from controller.client import (
    ApprovalRequired,
    ProtocolError,
    RequestState,
    SecretValues,
    duration_text,
    parse_status,
)
from controller.model import SecretAccess

DOCUMENT = {
    "id": "agent-abcdefghijkl",
    "status": "active",
    "requester": "system:serviceaccount:payments:release-agent@prod-eu-1",
    "environment": "production",
    "secrets": [{"secret": "payments/stripe", "keys": ["API_KEY"]}],
    "tier": "sensitive",
    "requiredApprovals": 1,
    "currentApprovals": 1,
    "approvers": ["alice"],
    "canApprove": [],
    "reason": "deploy 812",
    "denialReason": None,
    "expiresAt": "2026-12-04T09:00:00Z",
    "createdAt": "2026-12-03T09:00:00Z",
    "resolvedAt": "2026-12-03T09:05:00Z",
    "pullRequest": {"number": 812, "url": "https://github.example/acme/r/pull/812"},
    "autoApproved": False,
    "grant": {
        "id": "production-pr-812-agent-abcdefghijkl",
        "endsAt": "2026-12-03T09:10:00Z",
        "activateBy": "2026-12-03T10:05:00Z",
        "firstUsedAt": "2026-12-03T09:05:00Z",
        "uses": 2,
    },
}


def test_a_whole_document_parses_and_writes_back_the_same() -> None:
    status = parse_status(DOCUMENT, etag='"abc"')
    assert status.state is RequestState.ACTIVE
    assert status.is_granted
    assert not status.is_pending
    assert not status.is_closed
    assert status.secrets == (SecretAccess("payments/stripe", ("API_KEY",)),)
    assert status.created_at == datetime(2026, 12, 3, 9, tzinfo=UTC)
    assert status.grant is not None
    assert status.grant.uses == 2
    assert status.pull_request_url == "https://github.example/acme/r/pull/812"
    assert status.to_json() == DOCUMENT


def test_fields_left_out_or_added_do_not_break_parsing() -> None:
    status = parse_status({"id": "agent-abcdefghijkl", "status": "pending", "new": 1})
    assert status.is_pending
    assert status.pull_request is None
    assert status.grant is None
    assert status.tier is None


@pytest.mark.parametrize(
    "document",
    [[], {"status": "pending"}, {"id": "agent-abcdefghijkl", "status": "paused"}],
)
def test_what_the_client_relies_on_is_checked(document: object) -> None:
    with pytest.raises(ProtocolError):
        parse_status(document)


@pytest.mark.parametrize(
    ("value", "text"),
    [("5m", "5m"), (timedelta(minutes=5), "5m"), (timedelta(hours=2), "2h"),
     (timedelta(days=1), "1d"), (timedelta(seconds=90), "2m")],
)  # fmt: skip
def test_durations_as_access_request_files_write_them(value: str | timedelta, text: str) -> None:
    assert duration_text(value) == text


def test_a_zero_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one minute"):
        duration_text(timedelta(0))


def test_values_never_show_in_repr_str_or_exceptions() -> None:
    values = SecretValues({"API_KEY": b"sk_live_UNIT_CANARY"})
    assert "sk_live_UNIT_CANARY" not in repr(values) + str(values) + f"{values}"
    assert "API_KEY" in repr(values)
    assert values["API_KEY"] == b"sk_live_UNIT_CANARY"


def test_approval_required_says_where_to_look() -> None:
    pending = parse_status({**DOCUMENT, "status": "pending", "currentApprovals": 0})
    raised = ApprovalRequired(pending.id, pending, pending.pull_request_url)
    assert str(raised) == (
        "access request agent-abcdefghijkl waits for approval "
        "(https://github.example/acme/r/pull/812): 0 of 1 approvals"
    )


def test_importing_the_client_pulls_in_only_the_standard_library_and_cryptography() -> None:
    code = (
        "import sys, json, controller.client; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    loaded = set(json.loads(done.stdout))
    heavy = {"yaml", "requests", "urllib3", "click", "rich", "kubernetes", "github", "git",
             "werkzeug", "jsonschema", "jwt"}  # fmt: skip
    assert not loaded & heavy, loaded & heavy
