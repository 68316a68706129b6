"""The policy engine on access requests: one rule per test, literal fixtures."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

from controller.model import (
    AccessRequest,
    Action,
    Decision,
    DecisionState,
    Environment,
    Policy,
    PullRequestFacts,
    SecretAccess,
    Tier,
    TierFloor,
    Unmatched,
)
from controller.policy import applicable_policies, evaluate
from controller.policy.approve_for import grant_duration, parse_approve_for
from controller.policy.commands import parse_command
from controller.policy.replies import CommandReply, PassOutcome, ReplyKind, command_replies
from tests.unit.policy_fixtures import (
    ENVIRONMENTS,
    approvals,
    change,
    comment,
    env,
    facts,
    policy,
)

ACCESS_FILE = "access/production/incident-4711.yaml"


def access_policy(name: str = "prod-access", **overrides: object) -> Policy:
    max_duration = overrides.pop("max_duration", None)
    actions = overrides.pop("actions", frozenset({Action.ACCESS}))
    base = policy(name, **overrides)  # type: ignore[arg-type]
    return dataclasses.replace(base, actions=actions, max_duration=max_duration)  # type: ignore[arg-type]


def request(
    *,
    requester: str = "dev1",
    duration: timedelta = timedelta(hours=2),
    secrets: Sequence[str] = ("payments/stripe",),
    source: str = ACCESS_FILE,
) -> AccessRequest:
    return AccessRequest(
        name="incident-4711",
        environment="production",
        secrets=tuple(SecretAccess(s) for s in secrets),
        requester=requester,
        reason="Investigating failed payouts",
        duration=duration,
        activate_within=timedelta(hours=24),
        source=source,
    )


def access_facts(**overrides: object) -> PullRequestFacts:
    overrides.setdefault("changed_files", (ACCESS_FILE,))
    return facts(**overrides)  # type: ignore[arg-type]


def decide_access(
    policies: Sequence[Policy],
    *,
    requests: Sequence[AccessRequest] | None = None,
    pull_request: PullRequestFacts | None = None,
    environments: dict[str, Environment] | None = None,
) -> Decision:
    return evaluate(
        environments=environments or ENVIRONMENTS,
        policies=policies,
        changes=[],
        facts=pull_request or access_facts(),
        access_requests=[request()] if requests is None else requests,
    )


def test_approved_access_is_marked_access_with_tiers_by_path() -> None:
    decision = decide_access(
        [access_policy()], pull_request=access_facts(reviews=approvals("alice"))
    )
    assert decision.state is DecisionState.APPROVED
    assert decision.access is True
    assert decision.tiers == {"production/payments/stripe": Tier.SENSITIVE}
    assert decision.granted_duration == timedelta(hours=2)


def test_access_waits_for_approvers() -> None:
    decision = decide_access([access_policy()])
    assert decision.state is DecisionState.PENDING
    assert any("can still approve: alice, bob, carol" in r for r in decision.reasons)


def test_default_actions_do_not_cover_access() -> None:
    decision = decide_access([policy()], pull_request=access_facts(reviews=approvals("alice")))
    assert decision.state is DecisionState.INVALID
    assert any("covered by no policy" in r and "spec.actions" in r for r in decision.reasons)


def test_access_only_policy_does_not_cover_changes() -> None:
    decision = evaluate(
        environments=ENVIRONMENTS,
        policies=[access_policy()],
        changes=[change()],
        facts=facts(reviews=approvals("alice")),
    )
    assert decision.state is DecisionState.INVALID
    assert decision.access is False


def test_policy_for_both_actions_covers_both() -> None:
    both = access_policy(actions=frozenset(Action))
    assert decide_access([both], pull_request=access_facts(reviews=approvals("alice"))).state is (
        DecisionState.APPROVED
    )
    changed = evaluate(
        environments=ENVIRONMENTS,
        policies=[both],
        changes=[change()],
        facts=facts(reviews=approvals("alice")),
    )
    assert changed.state is DecisionState.APPROVED


def test_access_mixed_with_changes_is_invalid() -> None:
    decision = evaluate(
        environments=ENVIRONMENTS,
        policies=[access_policy(actions=frozenset(Action))],
        changes=[change()],
        facts=facts(
            reviews=approvals("alice"),
            changed_files=("changes/production/rotate.yaml", ACCESS_FILE),
        ),
        access_requests=[request()],
    )
    assert decision.state is DecisionState.INVALID
    assert "asks for access" in decision.reasons[0]
    assert "changes secrets under changes/ together" in decision.reasons[0]


def test_access_file_next_to_a_removed_change_file_is_still_mixing() -> None:
    # A removed change file carries no document but is still a change-side file.
    decision = decide_access(
        [access_policy()],
        pull_request=access_facts(
            reviews=approvals("alice"),
            changed_files=("changes/production/old.yaml", ACCESS_FILE),
        ),
    )
    assert decision.state is DecisionState.INVALID


def test_access_mixed_with_governance_files_is_invalid() -> None:
    governance = policy("rules", environments=("governance",))
    decision = decide_access(
        [access_policy(), governance],
        pull_request=access_facts(
            reviews=approvals("alice"), changed_files=(ACCESS_FILE, "policies/prod.yaml")
        ),
    )
    assert decision.state is DecisionState.INVALID
    assert decision.governance is True
    assert any(
        "changes rules or other files (policies/prod.yaml) and asks for access" in r
        for r in decision.reasons
    )


def test_requester_who_is_not_the_author_is_invalid() -> None:
    decision = decide_access(
        [access_policy()],
        requests=[request(requester="mallory")],
        pull_request=access_facts(reviews=approvals("alice")),
    )
    assert decision.state is DecisionState.INVALID
    assert any("spec.requester: 'mallory' is not the author" in r for r in decision.reasons)


def test_requester_matches_the_author_case_insensitively() -> None:
    decision = decide_access(
        [access_policy()],
        requests=[request(requester="Dev1")],
        pull_request=access_facts(reviews=approvals("alice")),
    )
    assert decision.state is DecisionState.APPROVED


def test_duration_over_max_duration_is_invalid_and_names_the_policy() -> None:
    decision = decide_access(
        [access_policy(max_duration=timedelta(hours=1)), access_policy("loose")],
        pull_request=access_facts(reviews=approvals("alice")),
    )
    assert decision.state is DecisionState.INVALID
    (reason,) = [r for r in decision.reasons if "maxDuration" in r]
    assert "2h is longer than the 1h policy 'prod-access' allows" in reason


def test_duration_at_max_duration_is_allowed() -> None:
    decision = decide_access(
        [access_policy(max_duration=timedelta(hours=2))],
        pull_request=access_facts(reviews=approvals("alice")),
    )
    assert decision.state is DecisionState.APPROVED


def test_critical_secret_is_judged_at_its_stored_tier() -> None:
    standard_only = access_policy("easy", tiers=(Tier.STANDARD, Tier.SENSITIVE))
    strict = access_policy("strict", tiers=(Tier.CRITICAL,), teams=("acme/security",))
    decision = decide_access(
        [standard_only, strict],
        pull_request=access_facts(
            reviews=approvals("alice"),
            current_tiers={"production/payments/stripe": Tier.CRITICAL},
        ),
    )
    assert decision.tiers == {"production/payments/stripe": Tier.CRITICAL}
    assert {s.policy for s in decision.steps} == {"strict"}
    assert decision.state is DecisionState.PENDING


def test_tier_floor_raises_an_access_request() -> None:
    floored = dataclasses.replace(env(), tier_floors=(TierFloor(("payments/*",), Tier.CRITICAL),))
    decision = decide_access(
        [access_policy(tiers=(Tier.CRITICAL,))],
        environments={"production": floored},
        pull_request=access_facts(reviews=approvals("alice")),
    )
    assert decision.tiers == {"production/payments/stripe": Tier.CRITICAL}
    assert decision.state is DecisionState.APPROVED


def test_strictest_of_all_matching_policies_applies() -> None:
    one = access_policy("one")
    two = access_policy("two", required=2, teams=("acme/security",))
    decision = decide_access(
        [one, two], pull_request=access_facts(reviews=approvals("alice", "sam"))
    )
    assert decision.state is DecisionState.PENDING
    assert any("Policy 'two'" in r and "1 of 2" in r for r in decision.reasons)


def test_unmatched_access_is_denied_by_default() -> None:
    decision = decide_access([])
    assert decision.state is DecisionState.INVALID
    assert any("denies unmatched requests" in r for r in decision.reasons)


def test_unmatched_access_is_allowed_where_the_environment_says_so() -> None:
    decision = decide_access([], environments={"production": env(unmatched=Unmatched.ALLOW)})
    assert decision.state is DecisionState.APPROVED
    assert decision.reasons[0] == (
        "Approved: no policy applies and every environment allows unmatched access requests."
    )
    assert any("allows unmatched requests" in r for r in decision.reasons)


def test_author_cannot_approve_their_own_access() -> None:
    decision = decide_access(
        [access_policy(teams=("acme/oncall",))],
        pull_request=access_facts(reviews=approvals("dev1")),
    )
    assert decision.state is not DecisionState.APPROVED


def test_access_pull_request_expires_like_a_change() -> None:
    decision = decide_access(
        [access_policy(expires_after=timedelta(minutes=30))],
        pull_request=access_facts(reviews=approvals("alice")),
    )
    assert decision.state is DecisionState.EXPIRED


def test_access_files_without_requests_are_invalid() -> None:
    decision = decide_access([access_policy()], requests=[])
    assert decision.state is DecisionState.INVALID
    assert any("carries no access request" in r for r in decision.reasons)


# ------------------------------------------------------------------ /sealgate approve-for


def test_approve_for_parses_one_duration() -> None:
    assert parse_command("/sealgate approve-for 1h") is not None
    assert parse_approve_for("90m") == timedelta(minutes=90)
    assert parse_approve_for("1h please") is None
    assert parse_approve_for("0h") is None
    assert parse_approve_for("") is None


def test_approve_for_by_an_approver_shortens_the_grant() -> None:
    decision = decide_access(
        [access_policy()],
        pull_request=access_facts(
            reviews=approvals("alice"), comments=[comment("alice", "/sealgate approve-for 30m")]
        ),
    )
    assert decision.state is DecisionState.APPROVED
    assert decision.granted_duration == timedelta(minutes=30)
    assert any("shortens the grant to 30m" in r for r in decision.reasons)


def test_shortest_counted_approve_for_wins() -> None:
    decision = decide_access(
        [access_policy(required=2)],
        pull_request=access_facts(
            reviews=approvals("alice", "bob"),
            comments=[
                comment("alice", "/sealgate approve-for 1h", minute=5),
                comment("bob", "/sealgate approve-for 45m", minute=6),
            ],
        ),
    )
    assert decision.granted_duration == timedelta(minutes=45)


def test_approve_for_by_a_non_approver_is_ignored() -> None:
    decision = decide_access(
        [access_policy()],
        pull_request=access_facts(
            reviews=approvals("alice"),
            comments=[comment("mallory", "/sealgate approve-for 1m")],
        ),
    )
    assert decision.granted_duration == timedelta(hours=2)
    assert any(
        "approve-for comment by mallory" in r and "was ignored" in r for r in decision.reasons
    )


def test_approve_for_by_an_eligible_person_who_has_not_approved_is_ignored() -> None:
    decision = decide_access(
        [access_policy()],
        pull_request=access_facts(
            reviews=approvals("alice"), comments=[comment("bob", "/sealgate approve-for 1m")]
        ),
    )
    assert decision.granted_duration == timedelta(hours=2)


def test_edited_approve_for_is_ignored() -> None:
    decision = decide_access(
        [access_policy()],
        pull_request=access_facts(
            reviews=approvals("alice"),
            comments=[comment("alice", "/sealgate approve-for 10m", edited_minute=9)],
        ),
    )
    assert decision.granted_duration == timedelta(hours=2)
    assert any("approve-for" in r and "was edited" in r for r in decision.reasons)


def test_quoted_approve_for_is_not_a_command() -> None:
    decision = decide_access(
        [access_policy()],
        pull_request=access_facts(
            reviews=approvals("alice"), comments=[comment("alice", "> /sealgate approve-for 1m")]
        ),
    )
    assert decision.granted_duration == timedelta(hours=2)


def test_longer_approve_for_does_not_lengthen() -> None:
    decision = decide_access(
        [access_policy()],
        pull_request=access_facts(
            reviews=approvals("alice"), comments=[comment("alice", "/sealgate approve-for 1w")]
        ),
    )
    assert decision.granted_duration == timedelta(hours=2)
    assert any("does not shorten" in r for r in decision.reasons)


def test_malformed_approve_for_is_ignored_with_a_reason() -> None:
    decision = decide_access(
        [access_policy()],
        pull_request=access_facts(
            reviews=approvals("alice"), comments=[comment("alice", "/sealgate approve-for soon")]
        ),
    )
    assert decision.granted_duration == timedelta(hours=2)
    assert any("needs one duration" in r for r in decision.reasons)


def test_changes_have_no_granted_duration() -> None:
    decision = evaluate(
        environments=ENVIRONMENTS,
        policies=[policy()],
        changes=[change()],
        facts=facts(
            reviews=approvals("alice"), comments=[comment("alice", "/sealgate approve-for 1h")]
        ),
    )
    assert decision.granted_duration is None
    assert decision.access is False


def test_grant_duration_of_each_request() -> None:
    assert grant_duration(request(), timedelta(hours=1)) == timedelta(hours=1)
    assert grant_duration(request(duration=timedelta(minutes=5)), timedelta(hours=1)) == (
        timedelta(minutes=5)
    )
    assert grant_duration(request(), None) == timedelta(hours=2)


# ------------------------------------------------------------------ replies to approve-for


def _reply(decision: Decision, pr: PullRequestFacts, policies: Sequence[Policy]) -> CommandReply:
    (found,) = command_replies(
        pr, decision, applicable_policies(decision, policies), PassOutcome(), bot="sealgate[bot]"
    )
    return found


def test_reply_to_an_approvers_approve_for_says_how_long_the_grant_lasts() -> None:
    pr = access_facts(
        reviews=approvals("alice"), comments=[comment("alice", "/sealgate approve-for 30m")]
    )
    policies = [access_policy()]
    reply = _reply(decide_access(policies, pull_request=pr), pr, policies)
    assert reply.kind is ReplyKind.DONE
    assert "the grant lasts 30m" in reply.text


def test_reply_to_an_approve_for_before_the_approval_says_it_needs_one() -> None:
    pr = access_facts(comments=[comment("alice", "/sealgate approve-for 30m")])
    policies = [access_policy()]
    reply = _reply(decide_access(policies, pull_request=pr), pr, policies)
    assert reply.kind is ReplyKind.NOT_COUNTED
    assert "counts together with your approval" in reply.text


def test_reply_to_approve_for_on_a_change() -> None:
    pr = facts(comments=[comment("alice", "/sealgate approve-for 30m")])
    policies = [policy()]
    decision = evaluate(environments=ENVIRONMENTS, policies=policies, changes=[change()], facts=pr)
    reply = _reply(decision, pr, policies)
    assert reply.kind is ReplyKind.WRONG_STATE
    assert "asks for no access" in reply.text


def test_approve_for_after_the_decision_time_is_ignored() -> None:
    # A merged pull request is judged as of its merge: a later comment changes nothing.
    decision = decide_access(
        [access_policy()],
        pull_request=access_facts(
            reviews=approvals("alice"),
            comments=[comment("alice", "/sealgate approve-for 30m", minute=90)],
        ),
    )
    assert decision.granted_duration == timedelta(hours=2)
    assert any("made after the decision" in r for r in decision.reasons)


def test_one_uncovered_secret_makes_the_request_invalid() -> None:
    decision = decide_access(
        [access_policy(secrets=("payments/*",))],
        requests=[request(secrets=("payments/stripe", "web/session"))],
        pull_request=access_facts(reviews=approvals("alice")),
    )
    assert decision.state is DecisionState.INVALID
    (reason,) = [r for r in decision.reasons if "covered by no policy" in r]
    assert "access to production/web/session (tier sensitive)" in reason
    assert decision.tiers == {
        "production/payments/stripe": Tier.SENSITIVE,
        "production/web/session": Tier.SENSITIVE,
    }
