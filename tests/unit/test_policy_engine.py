"""The approval rules, one table per rule, on literal documents and facts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from controller.errors import Problem
from controller.model import (
    Commit,
    DecisionState,
    Policy,
    PullRequestFacts,
    Review,
    ReviewState,
    SecretChange,
    Tier,
    Unmatched,
)
from tests.unit.policy_fixtures import (
    AUTHOR,
    ENVIRONMENTS,
    HEAD,
    OLD,
    SECURITY,
    SRE,
    T0,
    approvals,
    change,
    decide,
    dismissed,
    env,
    facts,
    policy,
    review,
    step,
)

APPROVED = DecisionState.APPROVED
PENDING = DecisionState.PENDING
REJECTED = DecisionState.REJECTED
EXPIRED = DecisionState.EXPIRED
INVALID = DecisionState.INVALID
CR = ReviewState.CHANGES_REQUESTED


@dataclass(frozen=True)
class Case:
    id: str
    policies: list[Policy]
    reviews: tuple[Review, ...] = ()
    changes: list[SecretChange] | None = None
    expected: DecisionState = APPROVED
    says: tuple[str, ...] = ()
    """Fragments that must appear in the reasons."""
    pull_request: Mapping[str, Any] = field(default_factory=dict)
    """Overrides of the default facts."""


def run(case: Case) -> None:
    pull_request = facts(reviews=case.reviews, **case.pull_request)
    decision = decide(case.policies, changes=case.changes, pull_request=pull_request)
    assert decision.state is case.expected, decision.reasons
    text = "\n".join(decision.reasons)
    for fragment in case.says:
        assert fragment in text


def table(cases: list[Case]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("case", cases, ids=[c.id for c in cases])


# ------------------------------------------------------------------ which policies apply

APPLICABILITY = [
    Case("matching policy applies", [policy(required=1)], expected=PENDING, says=("'prod'",)),
    Case("satisfied", [policy(required=1)], approvals("alice")),
    Case(
        "every matching policy must be satisfied (strictest wins)",
        [policy("one", required=1), policy("two", required=2)],
        approvals("alice"),
        expected=PENDING,
        says=("Policy 'two', step 'approvals': 1 of 2",),
    ),
    Case(
        "strictest satisfied",
        [policy("one", required=1), policy("two", required=2)],
        approvals("alice", "bob"),
    ),
    Case(
        "policy of another environment does not apply",
        [policy(required=1), policy("stg", required=3, environments=("staging",))],
        approvals("alice"),
    ),
    Case(
        "star environment applies",
        [policy("all", required=2, environments=("*",))],
        approvals("alice"),
        expected=PENDING,
        says=("'all'",),
    ),
    Case(
        "secret glob outside does not apply",
        [policy(required=1), policy("billing", required=3, secrets=("billing/*",))],
        approvals("alice"),
    ),
    Case(
        "secret glob inside applies",
        [policy(required=1), policy("pay", required=2, secrets=("payments/*",))],
        approvals("alice"),
        expected=PENDING,
        says=("'pay'",),
    ),
    Case(
        "tier filter outside does not apply",
        [policy(required=1), policy("crit", required=3, tiers=(Tier.CRITICAL,))],
        approvals("alice"),
    ),
    Case(
        "a policy matching one change applies to the whole pull request",
        [policy(required=1), policy("pay", required=2, secrets=("payments/*",))],
        approvals("alice"),
        changes=[change("web/session", name="a"), change("payments/stripe", name="b")],
        expected=PENDING,
        says=("'pay'",),
    ),
]


@table(APPLICABILITY)
def test_applicability(case: Case) -> None:
    run(case)


def test_governance_policy_with_star_never_judges_governance_changes() -> None:
    star = policy("all", required=1, environments=("*",))
    decision = decide([star], changes=[], pull_request=facts(changed_files=("policies/x.yaml",)))
    assert decision.state is INVALID
    assert decision.steps == ()
    assert "no policy lists the 'governance' environment" in decision.reasons[0]


# ----------------------------------------------------------------------- unmatched changes

UNMATCHED = [
    Case(
        "deny: uncovered change is invalid and names the change",
        [policy(required=1, secrets=("billing/*",))],
        approvals("alice"),
        expected=INVALID,
        says=("production/payments/stripe", "add a policy"),
    ),
    Case(
        "deny: one uncovered change invalidates the pull request",
        [policy(required=1, secrets=("payments/*",))],
        approvals("alice"),
        changes=[change("payments/stripe", name="a"), change("web/session", name="b")],
        expected=INVALID,
        says=("production/web/session",),
    ),
    Case(
        "unknown environment is invalid",
        [policy(required=1)],
        approvals("alice"),
        changes=[change(environment="prod")],
        expected=INVALID,
        says=("changes/prod/rotate.yaml", "environment 'prod' does not exist"),
    ),
    Case(
        "reserved governance environment is invalid for a change",
        [policy(required=1, environments=("governance",))],
        approvals("alice"),
        changes=[change(environment="governance")],
        expected=INVALID,
        says=("reserved",),
    ),
    Case(
        "no changes at all is invalid",
        [policy(required=1)],
        approvals("alice"),
        changes=[],
        expected=INVALID,
        says=("nothing to approve",),
    ),
]


@table(UNMATCHED)
def test_unmatched(case: Case) -> None:
    run(case)


def test_unmatched_allow_needs_no_approval() -> None:
    environments = {"production": env(unmatched=Unmatched.ALLOW)}
    decision = decide([], environments=environments)
    assert decision.state is APPROVED
    assert decision.expires_at is None
    assert any("allows unmatched changes" in reason for reason in decision.reasons)


def test_unmatched_allow_does_not_waive_other_changes() -> None:
    environments = {"production": env(unmatched=Unmatched.ALLOW)}
    decision = decide(
        [policy(required=1, secrets=("payments/*",))],
        changes=[change("payments/stripe", name="a"), change("web/session", name="b")],
        environments=environments,
    )
    assert decision.state is PENDING


# ---------------------------------------------------------------------------- eligibility

ELIGIBILITY = [
    Case(
        "author cannot approve",
        [policy(required=1, users=(AUTHOR,), teams=(SRE,))],
        approvals(AUTHOR),
        expected=PENDING,
        says=("approval by dev1 does not count", "authored"),
    ),
    Case(
        "author can approve with allowSelfApproval",
        [policy(required=1, users=(AUTHOR,), allow_self_approval=True)],
        approvals(AUTHOR),
    ),
    Case(
        "author is matched case-insensitively",
        [policy(required=1, users=("Dev1",), teams=())],
        approvals("DEV1"),
        expected=INVALID,
        says=("requires 1 approval",),
    ),
    Case(
        "commit author cannot approve",
        [policy(required=1)],
        approvals("alice"),
        pull_request={"commits": (Commit(HEAD, "alice", AUTHOR),)},
        expected=PENDING,
        says=("approval by alice does not count",),
    ),
    Case(
        "committer cannot approve",
        [policy(required=1)],
        approvals("bob"),
        pull_request={"commits": (Commit(HEAD, AUTHOR, "bob"),)},
        expected=PENDING,
    ),
    Case(
        "an unlinked commit identity blocks approval: it could be anyone, an approver too",
        [policy(required=1)],
        approvals("bob"),
        pull_request={"commits": (Commit(HEAD, None, None),)},
        expected=PENDING,
        says=("linked to no GitHub account", "link that email"),
    ),
    Case(
        "an unlinked commit identity does not matter when self-approval is allowed",
        [policy(required=1, allow_self_approval=True)],
        approvals("bob"),
        pull_request={"commits": (Commit(HEAD, None, None),)},
    ),
    Case(
        "commit author may approve with allowSelfApproval",
        [policy(required=1, allow_self_approval=True)],
        approvals("alice"),
        pull_request={"commits": (Commit(HEAD, "alice", "alice"),)},
    ),
    Case(
        "non-member cannot approve",
        [policy(required=1)],
        approvals("mallory"),
        expected=PENDING,
        says=("mallory does not count", "not a listed user or team member"),
    ),
    Case(
        "listed user can approve", [policy(required=1, users=("uma",), teams=())], approvals("uma")
    ),
    Case(
        "team absent from facts has no known members",
        [policy(required=1, users=("uma",), teams=("acme/ghost",))],
        approvals("uma"),
    ),
    Case(
        "login case does not matter",
        [policy(required=1, users=("Uma",), teams=())],
        approvals("uMA"),
    ),
]


@table(ELIGIBILITY)
def test_eligibility(case: Case) -> None:
    run(case)


# --------------------------------------------------------------------- invalidate on push

PUSH = [
    Case(
        "stale approval does not count",
        [policy(required=1)],
        (review("alice", commit=OLD),),
        expected=PENDING,
        says=("given on commit c1, not the head c2",),
    ),
    Case("head approval counts", [policy(required=1)], (review("alice", commit=HEAD),)),
    Case(
        "stale approval counts without invalidateOnPush",
        [policy(required=1, invalidate_on_push=False)],
        (review("alice", commit=OLD),),
    ),
    Case(
        "re-approval on head counts",
        [policy(required=1)],
        (review("alice", commit=OLD, minute=1), review("alice", commit=HEAD, minute=2)),
    ),
    Case(
        "stale in one policy, fresh in another",
        [policy("strict", required=1), policy("loose", required=1, invalidate_on_push=False)],
        (review("alice", commit=OLD),),
        expected=PENDING,
        says=("policies that invalidate approvals on push (strict)",),
    ),
]


@table(PUSH)
def test_invalidate_on_push(case: Case) -> None:
    run(case)


# ------------------------------------------------------------------------ change requests

CHANGE_REQUESTS = [
    Case(
        "eligible change request rejects",
        [policy(required=1)],
        (review("alice"), review("bob", CR, minute=2)),
        expected=REJECTED,
        says=("bob requested changes", "until bob approves it or the review is dismissed"),
    ),
    Case(
        "change request on an old commit still rejects",
        [policy(required=1)],
        (review("alice"), review("bob", CR, commit=OLD, minute=2)),
        expected=REJECTED,
    ),
    Case(
        "later approval by the same person lifts it",
        [policy(required=1)],
        (review("bob", CR, minute=1), review("bob", minute=2)),
    ),
    Case(
        "comment after change request keeps it",
        [policy(required=1)],
        (
            review("alice"),
            review("bob", CR, minute=2),
            review("bob", ReviewState.COMMENTED, minute=3),
        ),
        expected=REJECTED,
    ),
    Case(
        "change request dismissed by the reviewer lifts it",
        [policy(required=1)],
        (review("alice", minute=1), dismissed("bob", by="bob")),
    ),
    Case(
        "change request dismissed by an eligible non-contributor lifts it",
        [policy(required=1)],
        (review("alice", minute=1), dismissed("bob", by="carol")),
        says=("change request by bob was dismissed by carol", "no longer blocks"),
    ),
    Case(
        "change request dismissed by the author keeps blocking",
        [policy(required=1)],
        (review("alice", minute=1), dismissed("bob", by=AUTHOR)),
        expected=REJECTED,
        says=(f"change request by bob was dismissed by {AUTHOR}", "until bob approves it"),
    ),
    Case(
        "change request dismissed by someone not listed keeps blocking",
        [policy(required=1)],
        (review("alice", minute=1), dismissed("bob", by="erin")),
        expected=REJECTED,
    ),
    Case(
        "dismissal by an unknown actor keeps blocking",
        [policy(required=1)],
        (review("alice", minute=1), dismissed("bob", by=None)),
        expected=REJECTED,
        says=("GitHub does not say by whom",),
    ),
    Case(
        "dismissal of an unknown kind keeps blocking",
        [policy(required=1)],
        (review("alice", minute=1), dismissed("bob", by="erin", was=None)),
        expected=REJECTED,
        says=("counts as a change request",),
    ),
    Case(
        "an approval dismissed by anyone is just gone",
        [policy(required=2)],
        (review("alice", minute=1), dismissed("bob", by=AUTHOR, was=ReviewState.APPROVED)),
        expected=PENDING,
    ),
    Case(
        "ineligible change request does not block",
        [policy(required=1)],
        (review("alice", minute=1), review("mallory", CR, minute=2)),
        says=("change request by mallory does not count",),
    ),
    Case(
        "change request does not block without changesRequestedBlocks",
        [policy(required=1, changes_requested_blocks=False)],
        (review("alice", minute=1), review("bob", CR, minute=2)),
    ),
    Case(
        "change request blocks even when other policies are satisfied",
        [policy("a", required=1), policy("b", required=1, changes_requested_blocks=False)],
        (review("alice", minute=1), review("bob", CR, minute=2)),
        expected=REJECTED,
        says=("Policy 'a': bob requested changes",),
    ),
]


@table(CHANGE_REQUESTS)
def test_change_requests(case: Case) -> None:
    run(case)


def test_change_request_is_reported_on_the_step() -> None:
    decision = decide([policy(required=1)], pull_request=facts(reviews=(review("bob", CR),)))
    assert decision.steps[0].changes_requested_by == ("bob",)


# ------------------------------------------------------------------------------------ steps

SRE_THEN_SECURITY = policy(
    "crit",
    steps=(step("sre", 1, teams=(SRE,)), step("security", 1, teams=(SECURITY,))),
)
SHARED = policy(
    "shared",
    steps=(step("first", 1, users=("alice", "bob")), step("second", 1, users=("alice",))),
)

STEPS = [
    Case("both steps", [SRE_THEN_SECURITY], approvals("alice", "sam")),
    Case(
        "second step waits for the first",
        [SRE_THEN_SECURITY],
        approvals("sam"),
        expected=PENDING,
        says=("step 'security': waits for the earlier steps", "(sam) count once"),
    ),
    Case(
        "first step alone is not enough",
        [SRE_THEN_SECURITY],
        approvals("alice"),
        expected=PENDING,
        says=("step 'security': 0 of 1",),
    ),
    Case(
        "person eligible for two steps is placed where it helps",
        [SHARED],
        approvals("alice", "bob"),
    ),
    Case(
        "one person counts toward one step only",
        [SHARED],
        approvals("alice"),
        expected=PENDING,
        says=("step 'second'",),
    ),
    Case(
        "the same person counts for different policies",
        [policy("a", required=1), policy("b", required=1)],
        approvals("alice"),
    ),
]


@table(STEPS)
def test_steps(case: Case) -> None:
    run(case)


def test_step_results_report_placement_and_waiting() -> None:
    decision = decide([SHARED], pull_request=facts(reviews=approvals("alice", "bob")))
    first, second = decision.steps
    assert (first.approved_by, second.approved_by) == (("bob",), ("alice",))
    assert first.satisfied
    assert second.satisfied

    waiting = decide([SRE_THEN_SECURITY], pull_request=facts(reviews=approvals("sue")))
    sre, security = waiting.steps
    assert not sre.satisfied
    assert not sre.waiting_on_earlier_step
    assert sre.eligible_remaining == ("alice", "bob", "carol")
    assert security.waiting_on_earlier_step
    assert not security.satisfied
    assert security.approved_by == ("sue",)
    assert security.eligible_remaining == ("sam",)


def test_surplus_approvers_are_shown() -> None:
    decision = decide(
        [policy(required=2)], pull_request=facts(reviews=approvals("alice", "bob", "carol"))
    )
    assert decision.steps[0].approved_by == ("alice", "bob", "carol")
    assert decision.steps[0].eligible_remaining == ()


# -------------------------------------------------------------------- impossible policies

IMPOSSIBLE = [
    Case(
        "required exceeds eligible people",
        [policy(required=4)],
        approvals("alice", "bob", "carol"),
        expected=INVALID,
        says=("Policy 'prod', step 'approvals': requires 4", "at most 3"),
    ),
    Case(
        "author does not count toward what is possible",
        [policy(required=3, users=(AUTHOR,), teams=("acme/security",))],
        expected=INVALID,
        says=("at most 2", "author and commit authors"),
    ),
    Case(
        "unknown team is named",
        [policy(required=1, teams=("acme/ghost",))],
        expected=INVALID,
        says=("acme/ghost have no known members",),
    ),
    Case(
        "steps competing for the same people",
        [policy("shared", steps=(step("a", 2, users=("x", "y")), step("b", 1, users=("x", "y"))))],
        expected=INVALID,
        says=("Policy 'shared', step 'b'", "count toward only one"),
    ),
    Case(
        "possible with allowSelfApproval",
        [policy(required=1, users=(AUTHOR,), teams=(), allow_self_approval=True)],
        expected=PENDING,
    ),
]


@table(IMPOSSIBLE)
def test_impossible_policies(case: Case) -> None:
    run(case)


# ------------------------------------------------------------------------------------ tiers

CRITICAL_ONLY = policy("crit", required=1, users=("sam",), teams=(), tiers=(Tier.CRITICAL,))
BASE = policy(required=1)
CRITICAL_PATH = {"production/payments/stripe": Tier.CRITICAL}

TIERS = [
    Case("new secret takes the default tier", [BASE, CRITICAL_ONLY], approvals("alice")),
    Case(
        "raising the tier is judged at the new tier",
        [BASE, CRITICAL_ONLY],
        approvals("alice"),
        changes=[change(tier=Tier.CRITICAL)],
        expected=PENDING,
        says=("'crit'",),
    ),
    Case(
        "current critical tier applies",
        [BASE, CRITICAL_ONLY],
        approvals("alice"),
        pull_request={"current_tiers": CRITICAL_PATH},
        expected=PENDING,
    ),
    Case(
        "lowering a tier is judged at the old tier",
        [BASE, CRITICAL_ONLY],
        approvals("alice"),
        changes=[change(tier=Tier.STANDARD)],
        pull_request={"current_tiers": CRITICAL_PATH},
        expected=PENDING,
        says=("'crit'",),
    ),
    Case(
        "lowering needs the higher tier's approvals",
        [BASE, CRITICAL_ONLY],
        approvals("alice", "sam"),
        changes=[change(tier=Tier.STANDARD)],
        pull_request={"current_tiers": CRITICAL_PATH},
    ),
    Case(
        "a standard-only policy does not cover a critical secret",
        [policy("std", required=1, tiers=(Tier.STANDARD,))],
        approvals("alice"),
        changes=[change(tier=Tier.STANDARD)],
        pull_request={"current_tiers": CRITICAL_PATH},
        expected=INVALID,
        says=("tier critical", "covered by no policy"),
    ),
]


@table(TIERS)
def test_tiers(case: Case) -> None:
    run(case)


def test_effective_tiers_are_reported() -> None:
    decision = decide(
        [BASE],
        changes=[
            change("payments/stripe", tier=Tier.STANDARD, name="a"),
            change("web/session", name="b"),
        ],
        pull_request=facts(current_tiers=CRITICAL_PATH, reviews=approvals("alice")),
    )
    assert dict(decision.tiers) == {
        "production/payments/stripe": Tier.CRITICAL,
        "production/web/session": Tier.SENSITIVE,
    }


def test_environment_default_tier_is_used() -> None:
    environments = {"production": env(default_tier=Tier.CRITICAL)}
    decision = decide([BASE, CRITICAL_ONLY], environments=environments)
    assert decision.tiers["production/payments/stripe"] is Tier.CRITICAL
    assert {s.policy for s in decision.steps} == {"crit", "prod"}


# ----------------------------------------------------------------------------------- expiry

EXPIRY = [
    Case(
        "past expiry",
        [policy(required=1, expires_after=timedelta(hours=72))],
        approvals("alice"),
        pull_request={"now": T0 + timedelta(hours=73)},
        expected=EXPIRED,
        says=("expired at 2026-11-23T10:00:00Z", "72h", "open a new pull request"),
    ),
    Case(
        "exactly at expiry",
        [policy(required=1, expires_after=timedelta(hours=72))],
        approvals("alice"),
        pull_request={"now": T0 + timedelta(hours=72)},
        expected=EXPIRED,
    ),
    Case(
        "just before expiry",
        [policy(required=1, expires_after=timedelta(hours=72))],
        approvals("alice"),
        pull_request={"now": T0 + timedelta(hours=72) - timedelta(seconds=1)},
    ),
    Case(
        "shortest expiry of several policies applies",
        [
            policy("a", required=1, expires_after=timedelta(days=7)),
            policy("b", required=1, expires_after=timedelta(days=1)),
        ],
        approvals("alice"),
        pull_request={"now": T0 + timedelta(days=2)},
        expected=EXPIRED,
        says=("expiresAfter of b",),
    ),
]


@table(EXPIRY)
def test_expiry(case: Case) -> None:
    run(case)


def test_expires_at_is_reported() -> None:
    decision = decide(
        [
            policy("a", expires_after=timedelta(days=7)),
            policy("b", expires_after=timedelta(hours=24)),
        ]
    )
    assert decision.expires_at == T0 + timedelta(hours=24)


# ------------------------------------------------------------------------------- governance

GOVERNANCE_POLICY = policy(
    "governance",
    required=2,
    teams=("acme/platform-leads",),
    environments=("governance",),
    secrets=("nothing/*",),
)
RULE_FILES = {"changed_files": ("policies/prod.yaml",)}

GOVERNANCE = [
    Case(
        "governance change is judged by the governance policy",
        [policy(required=1), GOVERNANCE_POLICY],
        approvals("alice"),
        changes=[],
        pull_request=RULE_FILES,
        expected=PENDING,
        says=("Policy 'governance', step 'approvals': 0 of 2",),
    ),
    Case(
        "governance approvals approve a governance change",
        [policy(required=1), GOVERNANCE_POLICY],
        approvals("lena", "luis"),
        changes=[],
        pull_request=RULE_FILES,
    ),
    Case(
        "environment files are governance",
        [GOVERNANCE_POLICY],
        approvals("lena", "luis"),
        changes=[],
        pull_request={"changed_files": ("environments/production.yaml",)},
    ),
    Case(
        "files outside changes/ are governance",
        [policy(required=1), GOVERNANCE_POLICY],
        approvals("alice"),
        changes=[],
        pull_request={"changed_files": (".github/workflows/ci.yaml",)},
        expected=PENDING,
        says=("'governance'",),
    ),
    Case(
        "no governance policy fails closed",
        [policy(required=1)],
        approvals("alice"),
        changes=[],
        pull_request=RULE_FILES,
        expected=INVALID,
        says=("no policy lists the 'governance' environment",),
    ),
    Case(
        "mixing governance files and change files is invalid",
        [policy(required=1), GOVERNANCE_POLICY],
        approvals("alice", "lena", "luis"),
        changes=[],
        pull_request={"changed_files": ("policies/prod.yaml", "changes/production/rotate.yaml")},
        expected=INVALID,
        says=("split it",),
    ),
    Case(
        "mixing governance files and parsed changes is invalid",
        [policy(required=1), GOVERNANCE_POLICY],
        approvals("alice", "lena", "luis"),
        pull_request=RULE_FILES,
        expected=INVALID,
        says=("split it",),
    ),
]


@table(GOVERNANCE)
def test_governance(case: Case) -> None:
    run(case)


def test_governance_decision_fields() -> None:
    decision = decide(
        [policy(required=1), GOVERNANCE_POLICY],
        changes=[],
        pull_request=facts(changed_files=("policies/prod.yaml",)),
    )
    assert decision.governance
    assert [s.policy for s in decision.steps] == ["governance"]
    assert dict(decision.tiers) == {}


# ------------------------------------------------------------------------------- precedence

PRECEDENCE = [
    Case(
        "invalid beats expired",
        [policy(required=1, expires_after=timedelta(hours=1))],
        changes=[change(name="a"), change(environment="prod", name="b")],
        pull_request={"now": T0 + timedelta(days=30)},
        expected=INVALID,
    ),
    Case(
        "expired beats rejected",
        [policy(required=1, expires_after=timedelta(hours=1))],
        (review("alice", CR),),
        pull_request={"now": T0 + timedelta(days=30)},
        expected=EXPIRED,
    ),
    Case(
        "rejected beats pending",
        [policy(required=2)],
        (review("alice", CR),),
        expected=REJECTED,
    ),
    Case(
        "pending beats approved",
        [policy("a", required=1), policy("b", required=2)],
        approvals("alice"),
        expected=PENDING,
    ),
]


@table(PRECEDENCE)
def test_precedence(case: Case) -> None:
    run(case)


def test_problems_make_the_decision_invalid_with_their_text() -> None:
    problem = Problem(
        "changes/production/rotate.yaml", "spec.set.DB-PASS", "key must match [-._a-zA-Z0-9]+", 7
    )
    decision = decide(
        [policy(required=1)], pull_request=facts(reviews=approvals("alice")), problems=[problem]
    )
    assert decision.state is INVALID
    assert decision.reasons[0] == str(problem)


def test_duplicate_policy_names_are_invalid() -> None:
    decision = decide(
        [policy("same", required=1), policy("same", required=1)],
        pull_request=facts(reviews=approvals("alice")),
    )
    assert decision.state is INVALID
    assert "Policy name 'same' is used by more than one policy" in decision.reasons[0]


# --------------------------------------------------------------------------- decision fields


def test_decision_fields_are_filled() -> None:
    decision = decide(
        [
            policy("a", required=1, auto_merge=False, expires_after=timedelta(hours=48)),
            policy("b", required=1),
        ],
        pull_request=facts(reviews=approvals("alice")),
    )
    assert decision.state is APPROVED
    assert decision.reasons[0] == "Approved: every applicable policy is satisfied (a, b)."
    assert decision.head_sha == HEAD
    assert decision.expires_at == T0 + timedelta(hours=48)
    assert not decision.governance
    assert not decision.auto_merge
    assert not decision.bypassed
    assert decision.bypassed_by is None
    assert decision.bypass_reason is None
    assert [(s.policy, s.step, s.required, s.approved_by, s.satisfied) for s in decision.steps] == [
        ("a", "approvals", 1, ("alice",), True),
        ("b", "approvals", 1, ("alice",), True),
    ]


def test_auto_merge_when_every_policy_auto_merges() -> None:
    assert decide([policy("a"), policy("b")]).auto_merge


def test_pending_reason_names_who_can_still_approve() -> None:
    decision = decide([policy(required=2)], pull_request=facts(reviews=approvals("alice")))
    assert decision.reasons[0] == (
        "Policy 'prod', step 'approvals': 1 of 2 approval(s) (alice);"
        " can still approve: bob, carol."
    )


def test_reasons_never_contain_a_sealed_value() -> None:
    sealed = "sg1:k1:CANARY-sealed-payload"
    leaky = SecretChange(
        name="rotate",
        environment="nowhere",
        secret="payments/stripe",
        reason="rotation",
        set={"API_KEY": sealed},
        source="changes/nowhere/rotate.yaml",
    )
    decision = decide(
        [policy(required=1)], changes=[leaky], pull_request=facts(reviews=approvals("alice"))
    )
    assert decision.state is INVALID
    assert not any("CANARY" in reason for reason in decision.reasons)


def test_facts_default_world_is_consistent() -> None:
    # Guards the fixtures the tables rely on: the head commit is c2, authored by dev1.
    pull_request: PullRequestFacts = facts()
    assert pull_request.head_sha == HEAD
    assert ENVIRONMENTS["production"].default_tier is Tier.SENSITIVE
