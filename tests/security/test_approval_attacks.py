"""Ways people try to get a secret change approved without the approval policy demands.

Each test is one attack, replayed against the engine with literal facts; each must fail.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from controller.model import (
    Commit,
    Decision,
    DecisionState,
    Enforcement,
    PullRequestFacts,
    Push,
    Review,
    ReviewState,
    Tier,
)
from tests.unit.policy_fixtures import (
    AUTHOR,
    HEAD,
    OLD,
    SECURITY,
    SRE,
    T0,
    approvals,
    change,
    comment,
    decide,
    dismissed,
    facts,
    policy,
    review,
)

TWO_PERSON = policy("two-person", required=2, users=(AUTHOR,), teams=(SRE,))
GOVERNANCE = policy(
    "governance", required=2, teams=("acme/platform-leads",), environments=("governance",)
)
SOFT = policy("oncall", required=1, enforcement=Enforcement.SOFT, bypass_users=(AUTHOR, "olga"))
HARD = policy("hard", required=1)
GOOD_REASON = "/sealgate bypass paging is down, rotating the token"


def test_self_approval_does_not_count() -> None:
    decision = decide([TWO_PERSON], pull_request=facts(reviews=approvals(AUTHOR, "alice")))
    assert decision.state is DecisionState.PENDING
    assert decision.steps[0].approved_by == ("alice",)


def test_commit_author_approval_does_not_count() -> None:
    # bob pushed a commit to dev1's branch, then "reviewed" the result.
    pushed = facts(
        commits=(Commit(OLD, AUTHOR, AUTHOR), Commit(HEAD, "bob", "bob")),
        reviews=approvals("alice", "bob"),
    )
    decision = decide([TWO_PERSON], pull_request=pushed)
    assert decision.state is DecisionState.PENDING
    assert "bob" not in decision.steps[0].approved_by


def test_stale_approval_after_push_does_not_count() -> None:
    # Approvals were given on c1; the author then pushed c2 with a different value.
    stale = facts(reviews=(review("alice", commit=OLD), review("bob", commit=OLD)))
    decision = decide([TWO_PERSON], pull_request=stale)
    assert decision.state is DecisionState.PENDING
    assert decision.steps[0].approved_by == ()


def test_approval_by_non_member_does_not_count() -> None:
    outsiders = facts(reviews=approvals("mallory", "eve", "alice"))
    decision = decide([TWO_PERSON], pull_request=outsiders)
    assert decision.state is DecisionState.PENDING
    assert decision.steps[0].approved_by == ("alice",)


def test_dismissed_change_request_does_not_resurrect_earlier_approval() -> None:
    # bob approved, then requested changes; carol, an approver, dismissed the change
    # request. bob's vote is gone: his earlier approval must not count again (policy-bot's
    # weakness).
    history = facts(
        reviews=(
            review("alice", minute=1),
            review("bob", minute=2),
            dismissed("bob", by="carol", minute=3),
        )
    )
    decision = decide([TWO_PERSON], pull_request=history)
    assert decision.state is DecisionState.PENDING
    assert decision.steps[0].approved_by == ("alice",)


def test_policy_loosened_in_the_same_pull_request_is_judged_by_governance() -> None:
    # The pull request edits policies/two-person.yaml to require one approval and rotates a
    # secret. The engine judges with the base policies, so the loosened file has no effect:
    # the pull request is a governance change and, mixed with a secret change, invalid.
    mixed = facts(
        changed_files=("policies/two-person.yaml", "changes/production/rotate.yaml"),
        reviews=approvals("alice", "lena", "luis"),
    )
    decision = decide([TWO_PERSON, GOVERNANCE], pull_request=mixed)
    assert decision.state is DecisionState.INVALID
    assert decision.governance


def test_policy_only_change_needs_governance_approvers() -> None:
    rules_only = facts(
        changed_files=("policies/two-person.yaml",), reviews=approvals("alice", "bob")
    )
    decision = decide([TWO_PERSON, GOVERNANCE], changes=[], pull_request=rules_only)
    assert decision.state is DecisionState.PENDING
    assert [s.policy for s in decision.steps] == ["governance"]


def test_ci_change_smuggled_without_governance_policy_fails_closed() -> None:
    ci = facts(changed_files=(".github/workflows/deploy.yaml",), reviews=approvals("alice"))
    decision = decide([TWO_PERSON], changes=[], pull_request=ci)
    assert decision.state is DecisionState.INVALID


def test_bypass_by_non_author_is_ignored() -> None:
    decision = decide([SOFT], pull_request=facts(comments=(comment("olga", GOOD_REASON),)))
    assert decision.state is DecisionState.PENDING
    assert not decision.bypassed


def test_bypass_by_non_bypasser_is_ignored() -> None:
    not_listed = policy("oncall", required=1, enforcement=Enforcement.SOFT, bypass_users=("olga",))
    decision = decide([not_listed], pull_request=facts(comments=(comment(AUTHOR, GOOD_REASON),)))
    assert decision.state is DecisionState.PENDING
    assert not decision.bypassed


def test_bypass_under_hard_policy_is_ignored() -> None:
    hard_with_list = policy("hard", required=1, bypass_users=(AUTHOR,))
    decision = decide(
        [SOFT, hard_with_list], pull_request=facts(comments=(comment(AUTHOR, GOOD_REASON),))
    )
    assert decision.state is DecisionState.PENDING
    assert not decision.bypassed


def test_bypass_with_short_reason_is_ignored() -> None:
    short = facts(comments=(comment(AUTHOR, "/sealgate bypass urgent!"),))
    decision = decide([SOFT], pull_request=short)
    assert decision.state is DecisionState.PENDING
    assert not decision.bypassed


def test_tier_lowering_is_judged_at_old_tier() -> None:
    # Downgrading a critical secret to standard must not escape the critical policy.
    critical = policy("critical", required=1, users=("sam",), teams=(), tiers=(Tier.CRITICAL,))
    standard = policy("standard", required=1, tiers=(Tier.STANDARD, Tier.SENSITIVE))
    downgrade = facts(
        current_tiers={"production/payments/stripe": Tier.CRITICAL}, reviews=approvals("alice")
    )
    decision = decide(
        [critical, standard], changes=[change(tier=Tier.STANDARD)], pull_request=downgrade
    )
    assert decision.state is DecisionState.PENDING
    assert [s.policy for s in decision.steps] == ["critical"]
    assert decision.tiers["production/payments/stripe"] is Tier.CRITICAL


def test_expired_request_cannot_be_approved() -> None:
    late = facts(reviews=approvals("alice", "bob"), now=T0 + timedelta(days=8))
    decision = decide([TWO_PERSON], pull_request=late)
    assert decision.state is DecisionState.EXPIRED


def test_expired_request_cannot_be_bypassed() -> None:
    late = facts(comments=(comment(AUTHOR, GOOD_REASON),), now=T0 + timedelta(days=8))
    decision = decide([SOFT], pull_request=late)
    assert decision.state is DecisionState.EXPIRED
    assert not decision.bypassed


def test_login_case_games_do_not_help() -> None:
    # GitHub logins are case-insensitive: "DEV1" is the author.
    decision = decide([TWO_PERSON], pull_request=facts(reviews=approvals("DEV1", "Alice")))
    assert decision.state is DecisionState.PENDING


def test_hard_policy_ignores_every_bypass() -> None:
    decision = decide([HARD], pull_request=facts(comments=(comment(AUTHOR, GOOD_REASON),)))
    assert decision.state is DecisionState.PENDING


# ------------------------------------------------------- forged identities and commands


MERGE_ON_COMMAND = policy("explicit", required=1, auto_merge=False)
SOFT_ONLY_AUTHOR = policy(
    "oncall-author", required=1, enforcement=Enforcement.SOFT, bypass_users=(AUTHOR,)
)


def test_pusher_who_forged_the_authors_identity_cannot_approve() -> None:
    # alice pushed the head, labelled author and committer dev1, then approved it.
    forged = facts(
        pushes=(Push(OLD, AUTHOR, T0), Push(HEAD, "alice", T0 + timedelta(minutes=1))),
        reviews=(review("alice", minute=2),),
    )
    decision = decide([policy(required=1)], pull_request=forged)
    assert decision.state is DecisionState.PENDING
    assert decision.steps[0].approved_by == ()
    assert any("approval by alice does not count" in r for r in decision.reasons)


def test_commit_with_an_unlinked_email_blocks_approval() -> None:
    unlinked = facts(
        commits=(Commit(OLD, AUTHOR, AUTHOR), Commit(HEAD, None, None)),
        reviews=(review("alice"),),
    )
    decision = decide([policy(required=1)], pull_request=unlinked)
    assert decision.state is DecisionState.PENDING
    assert any("linked to no GitHub account" in r for r in decision.reasons)


def test_unknown_pusher_of_the_head_blocks_approval() -> None:
    unknown = facts(pushes=(Push(OLD, AUTHOR, T0),), reviews=(review("alice"),))
    decision = decide([policy(required=1)], pull_request=unknown)
    assert decision.state is DecisionState.PENDING
    assert any("does not report who pushed the head" in r for r in decision.reasons)


def test_co_author_cannot_approve() -> None:
    co = facts(
        commits=(Commit(OLD, AUTHOR, AUTHOR), Commit(HEAD, AUTHOR, AUTHOR, co_authors=("alice",))),
        reviews=(review("alice"),),
    )
    decision = decide([policy(required=1)], pull_request=co)
    assert decision.state is DecisionState.PENDING
    assert decision.steps[0].approved_by == ()


def test_co_author_with_an_unknown_email_blocks_approval() -> None:
    co = facts(
        commits=(
            Commit(OLD, AUTHOR, AUTHOR),
            Commit(HEAD, AUTHOR, AUTHOR, unlinked_co_authors=("Alice A.",)),
        ),
        reviews=(review("alice"),),
    )
    decision = decide([policy(required=1)], pull_request=co)
    assert decision.state is DecisionState.PENDING
    assert any("Co-authored-by" in r for r in decision.reasons)


def test_unsigned_commit_under_a_policy_requiring_signatures_is_invalid() -> None:
    strict = replace(policy(required=1), require_verified_commits=True)
    signed = (Commit(OLD, AUTHOR, AUTHOR, verified=True), Commit(HEAD, AUTHOR, AUTHOR))
    decision = decide([strict], pull_request=facts(commits=signed, reviews=(review("alice"),)))
    assert decision.state is DecisionState.INVALID
    assert any("requireVerifiedCommits" in r and "c2" in r for r in decision.reasons)
    all_signed = tuple(Commit(c.sha, AUTHOR, AUTHOR, verified=True) for c in signed)
    decision = decide([strict], pull_request=facts(commits=all_signed, reviews=(review("alice"),)))
    assert decision.state is DecisionState.APPROVED


def test_edited_comment_turned_into_a_bypass_is_ignored() -> None:
    # olga (write access) edited dev1's old comment into a bypass.
    edited = comment(AUTHOR, GOOD_REASON, minute=5, edited_minute=9)
    decision = decide([SOFT_ONLY_AUTHOR], pull_request=facts(comments=(edited,)))
    assert decision.state is DecisionState.PENDING
    assert not decision.bypassed
    assert any("was edited" in r for r in decision.reasons)


def test_edited_comment_turned_into_a_merge_command_is_ignored() -> None:
    edited = comment(AUTHOR, "/sealgate merge", minute=5, edited_minute=9)
    decision = decide(
        [MERGE_ON_COMMAND], pull_request=facts(comments=(edited,), reviews=(review("alice"),))
    )
    assert decision.state is DecisionState.APPROVED
    assert decision.merge_requested_by is None
    assert any("was edited" in r for r in decision.reasons)


def test_push_after_a_bypass_voids_it() -> None:
    # dev1's bypass was given on c1; bob then pushed c2 with his own value.
    later = facts(
        pushes=(Push(OLD, AUTHOR, T0), Push(HEAD, "bob", T0 + timedelta(minutes=10))),
        comments=(comment(AUTHOR, GOOD_REASON, minute=5),),
    )
    decision = decide([SOFT_ONLY_AUTHOR], pull_request=later)
    assert decision.state is DecisionState.PENDING
    assert not decision.bypassed
    assert any("before the head c2 was pushed" in r for r in decision.reasons)


def test_push_after_a_merge_command_voids_it() -> None:
    later = facts(
        pushes=(Push(OLD, AUTHOR, T0), Push(HEAD, AUTHOR, T0 + timedelta(minutes=10))),
        comments=(comment(AUTHOR, "/sealgate merge", minute=5),),
        reviews=(review("alice", minute=11),),
    )
    decision = decide([MERGE_ON_COMMAND], pull_request=later)
    assert decision.merge_requested_by is None
    assert any("comment again on the new head" in r for r in decision.reasons)


def test_commands_do_not_count_when_the_head_push_time_is_unknown() -> None:
    unknown = facts(pushes=(Push(OLD, AUTHOR, T0),), comments=(comment(AUTHOR, GOOD_REASON),))
    decision = decide([SOFT_ONLY_AUTHOR], pull_request=unknown)
    assert not decision.bypassed
    assert any("comment again" in r for r in decision.reasons)


def test_command_in_the_same_second_as_the_push_does_not_count() -> None:
    same = facts(
        pushes=(Push(HEAD, AUTHOR, T0 + timedelta(minutes=5)),),
        comments=(comment(AUTHOR, GOOD_REASON, minute=5),),
    )
    assert not decide([SOFT_ONLY_AUTHOR], pull_request=same).bypassed


def test_merge_command_in_code_or_quotes_is_ignored() -> None:
    for body in (
        "```\n/sealgate merge\n```",
        "~~~~\n/sealgate merge\n~~~~",
        "    /sealgate merge",
        "\t/sealgate merge",
        "> /sealgate merge",
        "`/sealgate merge`",
        "please run /sealgate merge",
    ):
        decision = decide(
            [MERGE_ON_COMMAND],
            pull_request=facts(comments=(comment(AUTHOR, body),), reviews=(review("alice"),)),
        )
        assert decision.merge_requested_by is None, body


def test_merge_command_after_a_code_block_counts() -> None:
    body = "```\nnot this\n```\n/sealgate merge"
    decision = decide(
        [MERGE_ON_COMMAND],
        pull_request=facts(comments=(comment(AUTHOR, body),), reviews=(review("alice"),)),
    )
    assert decision.merge_requested_by == AUTHOR


def test_merge_command_by_a_passer_by_is_ignored_and_explained() -> None:
    decision = decide(
        [MERGE_ON_COMMAND],
        pull_request=facts(
            comments=(comment("mallory", "/sealgate merge"),), reviews=(review("alice"),)
        ),
    )
    assert decision.merge_requested_by is None
    assert any("mallory" in r and "only the author or an eligible" in r for r in decision.reasons)


def test_merge_command_written_before_the_approval_does_not_count() -> None:
    # The author asks to merge while the request still waits; the approval comes later.
    early = facts(
        comments=(comment(AUTHOR, "/sealgate merge", minute=2),),
        reviews=(review("alice", minute=3),),
    )
    decision = decide([MERGE_ON_COMMAND], pull_request=early)
    assert decision.state is DecisionState.APPROVED
    assert decision.merge_requested_by is None
    assert any("made before the last approval" in r for r in decision.reasons)
    same_second = facts(
        comments=(comment(AUTHOR, "/sealgate merge", minute=3),),
        reviews=(review("alice", minute=3),),
    )
    assert decide([MERGE_ON_COMMAND], pull_request=same_second).merge_requested_by is None
    after = facts(
        comments=(comment(AUTHOR, "/sealgate merge", minute=4),),
        reviews=(review("alice", minute=3),),
    )
    assert decide([MERGE_ON_COMMAND], pull_request=after).merge_requested_by == AUTHOR


# --------------------------------------------- lifting a change request by dismissing it
# Anyone with write access can dismiss a review; only the reviewer, or an approver of the
# policy the change request blocks under who did not contribute, may lift the objection.

ONE_SRE = policy("one-sre", required=1, users=(AUTHOR,), teams=(SRE,))


def _objected(*later: Review, **kwargs: Any) -> PullRequestFacts:
    """alice requested changes (now dismissed as ``later`` says); bob and carol approve."""
    return facts(reviews=(review("bob", minute=3), review("carol", minute=3), *later), **kwargs)


def _blocked_by_alice(decision: Decision, dismisser: str) -> None:
    assert decision.state is DecisionState.REJECTED, decision.reasons
    assert decision.reasons[0].startswith(
        f"Policy '{decision.steps[0].policy}': the change request by alice was dismissed by"
        f" {dismisser}"
    )
    assert "until alice approves it or reviews it again" in decision.reasons[0]
    assert decision.steps[0].changes_requested_by == ("alice",)


def test_the_author_cannot_dismiss_an_eligible_approvers_change_request() -> None:
    decision = decide([ONE_SRE], pull_request=_objected(dismissed("alice", by=AUTHOR)))
    _blocked_by_alice(decision, AUTHOR)


def test_the_author_cannot_lift_it_even_where_self_approval_is_allowed() -> None:
    lenient = policy("lenient", required=1, users=(AUTHOR,), teams=(SRE,), allow_self_approval=True)
    decision = decide([lenient], pull_request=_objected(dismissed("alice", by=AUTHOR)))
    _blocked_by_alice(decision, AUTHOR)


def test_an_approver_who_pushed_to_the_branch_cannot_lift_it() -> None:
    # bob pushed the head commit, then dismissed alice's objection to his own work.
    pushed = _objected(
        dismissed("alice", by="bob"),
        commits=(Commit(OLD, AUTHOR, AUTHOR), Commit(HEAD, "bob", "bob")),
        pushes=(Push(OLD, AUTHOR, T0), Push(HEAD, "bob", T0)),
    )
    _blocked_by_alice(decide([ONE_SRE], pull_request=pushed), "bob")


def test_an_admin_outside_the_policy_cannot_lift_it() -> None:
    decision = decide([ONE_SRE], pull_request=_objected(dismissed("alice", by="erin")))
    _blocked_by_alice(decision, "erin")


def test_an_approver_of_another_policy_cannot_lift_it() -> None:
    # sue may approve under the security policy, which also applies, but has no say in
    # the SRE policy alice objected under.
    security = policy("security", required=1, teams=(SECURITY,))
    reviews = _objected(dismissed("alice", by="sue"), review("sam", minute=3))
    decision = decide([ONE_SRE, security], pull_request=reviews)
    assert decision.state is DecisionState.REJECTED
    assert any("alice was dismissed by sue" in reason for reason in decision.reasons)


def test_a_dismissal_github_does_not_attribute_keeps_blocking() -> None:
    unknown = _objected(dismissed("alice", by=None))
    decision = decide([ONE_SRE], pull_request=unknown)
    assert decision.state is DecisionState.REJECTED
    assert "GitHub does not say by whom" in decision.reasons[0]


def test_while_a_contributor_is_unknown_only_the_reviewer_can_lift_it() -> None:
    # Whoever wrote the unlinked commit could be the approver who dismissed the objection.
    hidden = (Commit(OLD, AUTHOR, AUTHOR), Commit(HEAD, None, None))
    by_carol = decide(
        [ONE_SRE], pull_request=_objected(dismissed("alice", by="carol"), commits=hidden)
    )
    assert by_carol.state is DecisionState.REJECTED
    by_alice = decide(
        [ONE_SRE], pull_request=_objected(dismissed("alice", by="alice"), commits=hidden)
    )
    assert by_alice.state is DecisionState.PENDING  # the unknown author still blocks approval


def test_the_reviewer_or_an_uninvolved_approver_can_lift_it() -> None:
    for dismisser in ("alice", "carol", "ALICE"):
        decision = decide([ONE_SRE], pull_request=_objected(dismissed("alice", by=dismisser)))
        assert decision.state is DecisionState.APPROVED, (dismisser, decision.reasons)
        assert decision.steps[0].changes_requested_by == ()


def test_dismissing_an_approval_only_removes_it_whoever_dismisses() -> None:
    two = policy("two", required=2, teams=(SRE,))
    approval_gone = facts(
        reviews=(
            review("bob", minute=1),
            dismissed("carol", by=AUTHOR, was=ReviewState.APPROVED, minute=2),
        )
    )
    decision = decide([two], pull_request=approval_gone)
    assert decision.state is DecisionState.PENDING
    assert decision.steps[0].approved_by == ("bob",)
