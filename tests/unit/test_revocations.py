"""``/sealgate revoke <reason>``: who may revoke, when, how, and why others are ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.documents.reason_check import credential_in
from controller.model import Comment, Decision, DecisionState, StepResult
from controller.policy.revocations import (
    eligible_revokers,
    parse_revoke,
    revocations,
)

APPROVED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
REQUESTER = "Dev1"
ELIGIBLE = frozenset({"alice", "bob"})
BOT = "sealgate[bot]"


def said(
    user: str, body: str, *, minute: int = 5, comment_id: int = 1, edited: bool = False
) -> Comment:
    created = APPROVED_AT + timedelta(minutes=minute)
    return Comment(
        user=user,
        body=body,
        created_at=created,
        id=comment_id,
        updated_at=created + timedelta(minutes=1) if edited else None,
    )


def judge(*comments: Comment) -> tuple[list[tuple[str, str, int]], tuple[str, ...]]:
    outcome = revocations(
        comments,
        requester=REQUESTER,
        eligible=ELIGIBLE,
        bot_login=BOT,
        after=APPROVED_AT,
        credential_in=credential_in,
    )
    return [(r.user, r.reason, r.comment_id) for r in outcome.revocations], outcome.ignored


def test_the_requester_counts() -> None:
    found, ignored = judge(said("dev1", "/sealgate revoke incident closed"))
    assert found == [("dev1", "incident closed", 1)]
    assert ignored == ()


def test_an_eligible_approver_counts_in_any_case() -> None:
    found, _ = judge(said("Alice", "thanks\n/sealgate revoke  access no longer needed  "))
    assert found == [("alice", "access no longer needed", 1)]


def test_a_stranger_is_ignored_with_a_note() -> None:
    found, ignored = judge(said("mallory", "/sealgate revoke because I can"))
    assert found == []
    assert ignored == (
        "The /sealgate revoke comment by mallory at 2026-12-01T09:05:00Z was ignored: only"
        " the requester (dev1) or someone eligible to approve the request may revoke its"
        " access.",
    )


def test_an_edited_comment_is_ignored() -> None:
    found, ignored = judge(said("bob", "/sealgate revoke done", edited=True))
    assert found == []
    assert "was edited" in ignored[0]


@pytest.mark.parametrize(
    "body",
    [
        "> /sealgate revoke done",
        "```\n/sealgate revoke done\n```",
        "    /sealgate revoke done",
        "please `/sealgate revoke done`",
        "we could /sealgate revoke done",
    ],
)
def test_quoted_or_code_is_not_a_command(body: str) -> None:
    assert parse_revoke(body) is None
    assert judge(said("bob", body)) == ([], ())


def test_before_approval_is_ignored() -> None:
    found, ignored = judge(
        said("bob", "/sealgate revoke early", minute=-5),
        said("bob", "/sealgate revoke same second", minute=0, comment_id=2),
    )
    assert found == []
    assert len(ignored) == 2
    assert all("before the grant was approved at 2026-12-01T09:00:00Z" in n for n in ignored)


def test_a_reason_is_required() -> None:
    found, ignored = judge(said("bob", "/sealgate revoke"), said("dev1", "/sealgate revoke   "))
    assert found == []
    assert len(ignored) == 2
    assert all("a reason is required" in n for n in ignored)


def test_a_reason_quoting_a_credential_is_refused_and_not_repeated() -> None:
    token = "ghp_" + "x1" * 20
    found, ignored = judge(said("bob", f"/sealgate revoke leaked {token} in chat"))
    assert found == []
    assert "refused" in ignored[0]
    assert "a GitHub token" in ignored[0]
    assert token not in ignored[0]


def test_the_bot_itself_never_counts_nor_gets_a_note() -> None:
    assert judge(said("Sealgate[bot]", "/sealgate revoke replaying the command")) == ([], ())


def test_other_commands_and_chatter_are_not_revocations() -> None:
    assert judge(said("bob", "/sealgate merge"), said("bob", "revoke it please")) == ([], ())


def test_every_valid_revocation_is_returned_oldest_first() -> None:
    found, _ = judge(
        said("bob", "/sealgate revoke second", minute=9, comment_id=7),
        said("dev1", "/sealgate revoke first", minute=6, comment_id=9),
    )
    assert [c for _, _, c in found] == [9, 7]


def test_eligible_revokers_are_every_steps_approvers_and_remaining() -> None:
    decision = Decision(
        DecisionState.APPROVED,
        ("approved",),
        steps=(
            StepResult("access", "sre", 1, ("Alice",), ("bob", "carol")),
            StepResult("access", "security", 1, ("sam",), ()),
        ),
        access=True,
    )
    assert eligible_revokers(decision) == {"alice", "bob", "carol", "sam"}
    assert eligible_revokers(Decision(DecisionState.APPROVED, ())) == frozenset()


def test_an_overlong_reason_is_ignored() -> None:
    found, ignored = judge(said("bob", "/sealgate revoke " + "x" * 501))
    assert found == []
    assert "longer than 500 characters" in ignored[0]
    assert judge(said("bob", "/sealgate revoke " + "x" * 500))[0] != []
