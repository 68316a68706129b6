"""What sealgate answers to each ``/sealgate`` comment, and whom it asks to review (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from controller.model import Enforcement, Policy, PullRequestFacts
from controller.policy import applicable_policies
from controller.policy.replies import (
    CommandReply,
    PassOutcome,
    ReplyKind,
    command_replies,
    help_text,
)
from controller.policy.reviewers import ReviewAsk, wanted_reviewers
from tests.unit.policy_fixtures import AUTHOR, SRE, T0, comment, decide, facts, policy, review

BOT = "sealgate[bot]"


def replies(
    policies: Sequence[Policy], pr: PullRequestFacts, outcome: PassOutcome | None = None
) -> list[CommandReply]:
    decision = decide(policies, pull_request=pr)
    return list(
        command_replies(
            pr,
            decision,
            applicable_policies(decision, policies),
            outcome or PassOutcome(),
            bot=BOT,
        )
    )


def one(
    policies: Sequence[Policy], pr: PullRequestFacts, outcome: PassOutcome | None = None
) -> CommandReply:
    found = replies(policies, pr, outcome)
    assert len(found) == 1, found
    return found[0]


EXPLICIT = [policy(required=2, auto_merge=False)]


def test_only_command_comments_get_a_reply_and_never_sealgates_own() -> None:
    pr = facts(
        comments=[
            comment("alice", "LGTM", comment_id=1),
            comment("alice", "> /sealgate merge", comment_id=2),
            comment(BOT, "/sealgate help", comment_id=3),
            comment("alice", "/sealgate help", comment_id=4),
        ]
    )
    assert [r.comment_id for r in replies(EXPLICIT, pr)] == [4]


def test_help_lists_every_command() -> None:
    reply = one(EXPLICIT, facts(comments=[comment("bob", "/sealgate help")]))
    assert reply.kind is ReplyKind.HELP
    for word in ("merge", "bypass <reason>", "plan", "help"):
        assert f"`/sealgate {word}`" in help_text()


@pytest.mark.parametrize(
    ("typed", "shown", "near"),
    [("mrege", "mrege", "merge"), ("bypas", "bypass", "bypass"), ("approve", "approve", None)],
)
def test_an_unknown_command_names_the_nearest(typed: str, shown: str, near: str | None) -> None:
    reply = one(EXPLICIT, facts(comments=[comment("bob", f"/sealgate {typed}")]))
    assert reply.kind is ReplyKind.UNKNOWN
    if typed == shown:
        assert f"`{typed}` is not a sealgate command" in reply.text
    if near is None:
        assert "did you mean" not in reply.text
    else:
        assert f"did you mean `/sealgate {near}`?" in reply.text


@pytest.mark.parametrize("typed", ["S3cr3t_Value!x", "hunter2", "a" * 30, "<b>x</b>", "@everyone"])
def test_an_unknown_word_that_is_not_short_and_plain_is_not_repeated(typed: str) -> None:
    reply = one(EXPLICIT, facts(comments=[comment("bob", f"/sealgate {typed} trailing")]))
    assert reply.command == ""
    assert typed not in reply.text
    assert "trailing" not in reply.text


def test_merge_while_pending_says_how_many_more_and_who() -> None:
    pr = facts(reviews=[review("alice")], comments=[comment(AUTHOR, "/sealgate merge")])
    reply = one(EXPLICIT, pr)
    assert reply.kind is ReplyKind.WRONG_STATE
    assert "needs 1 more approval (can still approve: bob" in reply.text


def test_merge_by_a_passer_by_says_who_may() -> None:
    pr = facts(comments=[comment("mallory", "/sealgate merge")])
    reply = one(EXPLICIT, pr)
    assert reply.kind is ReplyKind.NOT_ALLOWED
    assert f"only the author ({AUTHOR})" in reply.text


def test_merge_done_and_merge_before_the_last_approval_not_counted() -> None:
    approved = [review("alice", minute=1), review("bob", minute=6)]
    early = facts(reviews=approved, comments=[comment(AUTHOR, "/sealgate merge", minute=5)])
    assert one(EXPLICIT, early).kind is ReplyKind.NOT_COUNTED
    late = facts(reviews=approved, comments=[comment(AUTHOR, "/sealgate merge", minute=7)])
    done = one(EXPLICIT, late, PassOutcome(merged_now=True))
    assert done.kind is ReplyKind.DONE
    assert "**Merged** head" in done.text


def test_merge_under_auto_merge_policies_is_not_needed() -> None:
    reply = one([policy()], facts(comments=[comment(AUTHOR, "/sealgate merge")]))
    assert reply.kind is ReplyKind.WRONG_STATE
    assert "Not needed" in reply.text


def test_an_edited_command_is_answered_as_not_a_command() -> None:
    pr = facts(comments=[comment(AUTHOR, "/sealgate merge", minute=5, edited_minute=6)])
    assert one(EXPLICIT, pr).kind is ReplyKind.EDITED


def test_a_command_older_than_the_head_is_not_counted() -> None:
    pr = facts(comments=[comment(AUTHOR, "/sealgate merge", minute=-5)])
    reply = one(EXPLICIT, pr)
    assert reply.kind is ReplyKind.NOT_COUNTED
    assert "a push voids earlier commands" in reply.text


def test_bypass_refused_under_hard_policies_never_repeats_the_reason() -> None:
    reason = "hunter2 prod is down really"
    reply = one(EXPLICIT, facts(comments=[comment(AUTHOR, f"/sealgate bypass {reason}")]))
    assert reply.kind is ReplyKind.NOT_ALLOWED
    assert "hard enforcement" in reply.text
    assert "hunter2" not in reply.text


def test_bypass_done_by_a_listed_bypasser_under_soft_policies() -> None:
    soft = [policy(enforcement=Enforcement.SOFT, bypass_users=[AUTHOR])]
    pr = facts(comments=[comment(AUTHOR, "/sealgate bypass prod is down, INC-7")])
    reply = one(soft, pr, PassOutcome(merged_now=True))
    assert reply.kind is ReplyKind.DONE
    assert reply.text.startswith("**Bypassed and merged:**")


def test_commands_on_a_merged_pull_request_after_the_merge_do_nothing() -> None:
    pr = facts(comments=[comment(AUTHOR, "/sealgate merge", minute=30)])

    reply = one(EXPLICIT, pr, PassOutcome("merged", merged_at=T0 + timedelta(minutes=20)))
    assert "already merged" in reply.text


# ------------------------------------------------------------------------ reviewers


def test_the_people_and_teams_who_can_still_approve_are_wanted_never_the_author() -> None:
    policies = [policy(required=2, users=["carol", AUTHOR], teams=[SRE], allow_self_approval=True)]
    pr = facts(reviews=[review("alice")])
    decision = decide(policies, pull_request=pr)
    want = wanted_reviewers(decision, policies, pr, bot=BOT)
    assert want == ReviewAsk(users=("carol",), teams=(SRE,))


def test_nobody_is_wanted_once_approved() -> None:
    policies = [policy(required=1, users=["carol"])]
    pr = facts(reviews=[review("carol")])
    decision = decide(policies, pull_request=pr)
    assert not wanted_reviewers(decision, policies, pr, bot=BOT)
