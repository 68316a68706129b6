"""Break-glass: only the author, a bypasser of every applicable soft policy, with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from controller.model import Comment, DecisionState, Enforcement, Policy, Review, ReviewState
from tests.unit.policy_fixtures import (
    AUTHOR,
    T0,
    approvals,
    change,
    comment,
    decide,
    facts,
    policy,
    review,
)

SOFT = policy(
    "oncall",
    required=1,
    secrets=("oncall/**",),
    enforcement=Enforcement.SOFT,
    bypass_teams=("acme/oncall",),
)
SOFT_BY_USER = policy(
    "oncall-user",
    required=1,
    enforcement=Enforcement.SOFT,
    bypass_users=(AUTHOR,),
)
SOFT_OTHERS = policy(
    "soft-others", required=1, enforcement=Enforcement.SOFT, bypass_users=("olga",)
)
HARD = policy("hard", required=1)
PAGER = [change("oncall/pager")]
REASON = "/sealgate bypass pager tokens leaked, rotating now"


@dataclass(frozen=True)
class Case:
    id: str
    policies: list[Policy]
    comments: tuple[Comment, ...]
    expected: DecisionState
    bypassed: bool
    says: str = ""
    reviews: tuple[Review, ...] = ()
    days_later: int = 0


CASES = [
    Case(
        "author bypasser under soft",
        [SOFT],
        (comment(AUTHOR, REASON),),
        DecisionState.APPROVED,
        True,
    ),
    Case(
        "listed as user", [SOFT_BY_USER], (comment(AUTHOR, REASON),), DecisionState.APPROVED, True
    ),
    Case(
        "several soft policies all listing the author",
        [SOFT, SOFT_BY_USER],
        (comment(AUTHOR, REASON),),
        DecisionState.APPROVED,
        True,
    ),
    Case(
        "not the author",
        [SOFT],
        (comment("olga", REASON),),
        DecisionState.PENDING,
        False,
        "only the pull request's author (dev1) may bypass",
    ),
    Case(
        "author not a bypasser",
        [SOFT_OTHERS],
        (comment(AUTHOR, REASON),),
        DecisionState.PENDING,
        False,
        "dev1 is not a listed bypasser of soft-others",
    ),
    Case(
        "one applicable policy is hard",
        [SOFT, HARD],
        (comment(AUTHOR, REASON),),
        DecisionState.PENDING,
        False,
        "hard enforcement cannot be bypassed (hard)",
    ),
    Case(
        "bypasser of only some policies",
        [SOFT, SOFT_OTHERS],
        (comment(AUTHOR, REASON),),
        DecisionState.PENDING,
        False,
        "not a listed bypasser of soft-others",
    ),
    Case(
        "reason too short",
        [SOFT],
        (comment(AUTHOR, "/sealgate bypass db down"),),
        DecisionState.PENDING,
        False,
        "at least 10 characters",
    ),
    Case(
        "blank padding does not lengthen a reason",
        [SOFT],
        (comment(AUTHOR, "/sealgate bypass    short    "),),
        DecisionState.PENDING,
        False,
        "at least 10 characters",
    ),
    Case(
        "exactly ten characters",
        [SOFT],
        (comment(AUTHOR, "/sealgate bypass 0123456789"),),
        DecisionState.APPROVED,
        True,
    ),
    Case(
        "quoted command is not a command",
        [SOFT],
        (comment(AUTHOR, "> " + REASON),),
        DecisionState.PENDING,
        False,
    ),
    Case(
        "bypass overrides a change request",
        [SOFT],
        (comment(AUTHOR, REASON),),
        DecisionState.APPROVED,
        True,
        reviews=(review("alice", ReviewState.CHANGES_REQUESTED),),
    ),
    Case(
        "bypass cannot rescue an expired request",
        [SOFT],
        (comment(AUTHOR, REASON),),
        DecisionState.EXPIRED,
        False,
        "cannot rescue a pull request that is expired",
        days_later=30,
    ),
    Case(
        "bypass not needed when approved",
        [SOFT],
        (comment(AUTHOR, REASON),),
        DecisionState.APPROVED,
        False,
        "was not needed",
        reviews=approvals("alice"),
    ),
    Case(
        "failed attempt then a valid one",
        [SOFT],
        (comment(AUTHOR, "/sealgate bypass now", minute=5), comment(AUTHOR, REASON, minute=6)),
        DecisionState.APPROVED,
        True,
        "at least 10 characters",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bypass(case: Case) -> None:
    pull_request = facts(
        comments=case.comments,
        reviews=case.reviews,
        now=T0 + timedelta(hours=1, days=case.days_later),
    )
    decision = decide(case.policies, pull_request=pull_request, changes=PAGER)
    assert decision.state is case.expected, decision.reasons
    assert decision.bypassed is case.bypassed
    assert case.says in "\n".join(decision.reasons)


def test_bypass_fields() -> None:
    decision = decide(
        [SOFT], pull_request=facts(comments=(comment(AUTHOR, REASON),)), changes=PAGER
    )
    assert decision.bypassed_by == AUTHOR
    assert decision.bypass_reason == "pager tokens leaked, rotating now"
    assert decision.reasons[0].startswith(
        "Approved by break-glass: dev1 bypassed review under soft policies oncall"
    )
    # The steps stay as they are: the audit trail shows what was bypassed.
    assert not decision.steps[0].satisfied


def test_bypass_cannot_rescue_invalid() -> None:
    impossible = policy(
        "impossible", required=5, enforcement=Enforcement.SOFT, bypass_users=(AUTHOR,)
    )
    decision = decide(
        [impossible], pull_request=facts(comments=(comment(AUTHOR, REASON),)), changes=PAGER
    )
    assert decision.state is DecisionState.INVALID
    assert not decision.bypassed
    assert any("cannot rescue a pull request that is invalid" in r for r in decision.reasons)
