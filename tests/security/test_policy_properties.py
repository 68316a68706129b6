"""Properties of the policy engine over generated policies, changes, reviews and comments."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.model import (
    ApprovalStep,
    Bypassers,
    Comment,
    Decision,
    DecisionState,
    Enforcement,
    Policy,
    PullRequestFacts,
    Review,
    ReviewState,
    SecretChange,
    Tier,
)
from tests.unit.policy_fixtures import (
    AUTHOR,
    ENVIRONMENTS,
    HEAD,
    OLD,
    T0,
    TEAMS,
    change,
    decide,
    facts,
)

PEOPLE = ["alice", "bob", "carol", "sam", "sue", "olga", "lena", AUTHOR]
OUTSIDER = "zed"
"""Listed by no generated policy and in no team."""
SECRETS = ["payments/stripe", "web/session", "oncall/pager"]
GLOBS = ["**", "payments/*", "web/*", "oncall/**", "*/session"]
WORSENESS = {
    DecisionState.APPROVED: 0,
    DecisionState.PENDING: 1,
    DecisionState.REJECTED: 2,
    DecisionState.EXPIRED: 3,
    DecisionState.INVALID: 4,
}
EXAMPLES = settings(max_examples=75, deadline=None)


def subset(items: list[str], *, min_size: int = 0) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(items), min_size=min_size, max_size=len(items))


@st.composite
def steps(draw: st.DrawFn) -> tuple[ApprovalStep, ...]:
    count = draw(st.integers(1, 3))
    return tuple(
        ApprovalStep(
            name=f"step-{index}",
            required=draw(st.integers(1, 2)),
            users=draw(subset(PEOPLE, min_size=2)),
            teams=draw(subset(sorted(TEAMS))),
        )
        for index in range(count)
    )


@st.composite
def policies(draw: st.DrawFn) -> list[Policy]:
    count = draw(st.integers(1, 4))
    # Often one policy covers everything, so that many worlds get past "no policy covers".
    catch_all = draw(st.booleans())
    return [
        Policy(
            name=f"policy-{index}",
            steps=draw(steps()),
            environments=("*",)
            if catch_all and index == 0
            else tuple(sorted(draw(subset(["production", "staging", "*"], min_size=1)))),
            secrets=("**",)
            if catch_all and index == 0
            else tuple(sorted(draw(subset(GLOBS, min_size=1)))),
            tiers=frozenset(Tier)
            if catch_all and index == 0
            else draw(st.frozensets(st.sampled_from(list(Tier)), min_size=1)),
            allow_self_approval=draw(st.booleans()),
            invalidate_on_push=draw(st.booleans()),
            changes_requested_blocks=draw(st.booleans()),
            enforcement=draw(st.sampled_from(list(Enforcement))),
            bypassers=Bypassers(users=draw(subset(PEOPLE)), teams=draw(subset(sorted(TEAMS)))),
            expires_after=timedelta(hours=draw(st.integers(2, 240))),
            auto_merge=draw(st.booleans()),
        )
        for index in range(count)
    ]


@st.composite
def changes(draw: st.DrawFn) -> list[SecretChange]:
    count = draw(st.integers(1, 3))
    return [
        change(
            draw(st.sampled_from(SECRETS)),
            draw(st.sampled_from(["production", "staging"])),
            tier=draw(st.none() | st.sampled_from(list(Tier))),
            name=f"change-{index}",
        )
        for index in range(count)
    ]


def reviews_by(users: st.SearchStrategy[str]) -> st.SearchStrategy[Review]:
    return st.builds(
        Review,
        user=users,
        state=st.sampled_from([ReviewState.APPROVED] * 3 + list(ReviewState)),
        commit_id=st.sampled_from([OLD, HEAD, HEAD]),
        submitted_at=st.integers(0, 120).map(lambda m: T0 + timedelta(minutes=m)),
        id=st.integers(0, 5),
    )


COMMENTS = st.builds(
    Comment,
    user=st.sampled_from([AUTHOR, "olga"]),
    body=st.sampled_from(
        ["/sealgate bypass paging is down, rotating", "/sealgate bypass short", "looks good"]
    ),
    created_at=st.integers(0, 120).map(lambda m: T0 + timedelta(minutes=m)),
    id=st.integers(0, 3),
)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Policy], list[SecretChange], PullRequestFacts]:
    tiers = draw(
        st.dictionaries(
            st.sampled_from([f"{e}/{s}" for e in ENVIRONMENTS for s in SECRETS]),
            st.sampled_from(list(Tier)),
            max_size=3,
        )
    )
    governance = draw(st.booleans()) and draw(st.booleans())
    pull_request = facts(
        reviews=draw(st.lists(reviews_by(st.sampled_from(PEOPLE)), max_size=16)),
        comments=draw(st.lists(COMMENTS, max_size=3)),
        current_tiers=tiers,
        changed_files=("policies/x.yaml",) if governance else ("changes/production/x.yaml",),
        now=T0 + timedelta(hours=draw(st.integers(1, 3) | st.integers(1, 300))),
    )
    drawn_policies = draw(policies())
    if governance:
        # Governance pull requests carry no changes; give some of them a governance policy.
        if draw(st.booleans()):
            governing = dataclasses.replace(drawn_policies[0], environments=("governance",))
            drawn_policies = [governing, *drawn_policies[1:]]
        return drawn_policies, [], pull_request
    return drawn_policies, draw(changes()), pull_request


def with_reviews(pull_request: PullRequestFacts, *extra: Review) -> PullRequestFacts:
    return dataclasses.replace(pull_request, reviews=pull_request.reviews + extra)


def without_reasons(decision: Decision) -> Decision:
    return dataclasses.replace(decision, reasons=())


@EXAMPLES
@given(worlds(), st.lists(reviews_by(st.just(OUTSIDER)), min_size=1, max_size=3))
def test_ineligible_reviews_never_change_the_decision(
    world: tuple[list[Policy], list[SecretChange], PullRequestFacts], extra: list[Review]
) -> None:
    rules, proposed, pull_request = world
    before = decide(rules, changes=proposed, pull_request=pull_request)
    after = decide(rules, changes=proposed, pull_request=with_reviews(pull_request, *extra))
    assert without_reasons(after) == without_reasons(before)
    # The only difference allowed is a note saying why the outsider's vote does not count.
    assert set(before.reasons) <= set(after.reasons)
    assert all(OUTSIDER in r for r in set(after.reasons) - set(before.reasons))


@EXAMPLES
@given(worlds(), st.integers(0, 200))
def test_author_approval_never_counts_without_self_approval(
    world: tuple[list[Policy], list[SecretChange], PullRequestFacts], minute: int
) -> None:
    rules, proposed, pull_request = world
    rules = [dataclasses.replace(p, allow_self_approval=False) for p in rules]
    own = Review(AUTHOR, ReviewState.APPROVED, HEAD, T0 + timedelta(minutes=minute), 99)
    decision = decide(rules, changes=proposed, pull_request=with_reviews(pull_request, own))
    assert all(AUTHOR not in step.approved_by for step in decision.steps)
    baseline = decide(rules, changes=proposed, pull_request=pull_request)
    assert without_reasons(decision) == without_reasons(baseline)


@EXAMPLES
@given(worlds(), st.randoms(use_true_random=False))
def test_evaluation_is_deterministic_under_permutation(
    world: tuple[list[Policy], list[SecretChange], PullRequestFacts],
    shuffler: random.Random,
) -> None:
    rules, proposed, pull_request = world
    before = decide(rules, changes=proposed, pull_request=pull_request)
    reviews = list(pull_request.reviews)
    comments = list(pull_request.comments)
    for items in (rules, proposed, reviews, comments):
        shuffler.shuffle(items)
    shuffled = dataclasses.replace(pull_request, reviews=tuple(reviews), comments=tuple(comments))
    assert decide(rules, changes=proposed, pull_request=shuffled) == before


@EXAMPLES
@given(worlds(), st.sampled_from(PEOPLE))
def test_an_eligible_approval_never_makes_a_decision_worse(
    world: tuple[list[Policy], list[SecretChange], PullRequestFacts], person: str
) -> None:
    rules, proposed, pull_request = world
    before = decide(rules, changes=proposed, pull_request=pull_request)
    approval = Review(person, ReviewState.APPROVED, HEAD, T0 + timedelta(days=1), 1000)
    after = decide(rules, changes=proposed, pull_request=with_reviews(pull_request, approval))
    assert WORSENESS[after.state] <= WORSENESS[before.state]
    before_counts = [len(step.approved_by) for step in before.steps if step.satisfied]
    assert sum(s.satisfied for s in after.steps) >= len(before_counts)
