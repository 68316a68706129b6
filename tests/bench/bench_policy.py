"""Policy engine speed: one pull request with 20 changes, 50 policies and 200 reviews.

Figure: ``policy_eval_us_per_change``, the median time of one ``evaluate`` call divided by
the number of changes, in microseconds.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from controller.model import (
    ApprovalStep,
    Commit,
    Environment,
    Policy,
    PullRequestFacts,
    Push,
    Review,
    ReviewState,
    SealingKey,
    SecretChange,
    Tier,
    frozen_map,
)
from controller.policy import evaluate

CHANGES = 20
POLICIES = 50
REVIEWS = 200
RUNS = 30
T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
NAMESPACES = ["payments", "identity", "web", "data", "oncall"]
PEOPLE = [f"user{index}" for index in range(40)]
TEAMS = {f"acme/team{index}": frozenset(PEOPLE[index * 8 : index * 8 + 12]) for index in range(5)}


def _environments() -> dict[str, Environment]:
    key = SealingKey(id="k1", public_key="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
    return {name: Environment(name=name, sealing_keys=(key,)) for name in ("production", "staging")}


def _policies() -> list[Policy]:
    policies = []
    for index in range(POLICIES):
        namespace = NAMESPACES[index % len(NAMESPACES)]
        steps = tuple(
            ApprovalStep(
                name=f"step-{number}",
                required=1 + (index + number) % 2,
                users=frozenset(PEOPLE[index % 40 : index % 40 + 3]),
                teams=frozenset({f"acme/team{(index + number) % 5}"}),
            )
            for number in range(1 + index % 3)
        )
        policies.append(
            Policy(
                name=f"policy-{index:02d}",
                steps=steps,
                environments=("production",) if index % 2 else ("*",),
                secrets=(f"{namespace}/*", f"{namespace}/db-*") if index % 4 else ("**",),
                tiers=frozenset(list(Tier)[index % 3 :]),
            )
        )
    return policies


def _changes() -> list[SecretChange]:
    return [
        SecretChange(
            name=f"change-{index}",
            environment="production" if index % 3 else "staging",
            secret=f"{NAMESPACES[index % len(NAMESPACES)]}/secret-{index}",
            reason="rotation",
            set=frozen_map({"KEY": "sg1:k1:AAAA"}),
            tier=list(Tier)[index % 3],
            source=f"changes/production/change-{index}.yaml",
        )
        for index in range(CHANGES)
    ]


def _facts() -> PullRequestFacts:
    states = [ReviewState.APPROVED, ReviewState.COMMENTED, ReviewState.CHANGES_REQUESTED]
    reviews = tuple(
        Review(
            user=PEOPLE[index % len(PEOPLE)],
            state=ReviewState.APPROVED if index >= 160 else states[index % 3],
            commit_id="c2" if index % 5 else "c1",
            submitted_at=T0 + timedelta(minutes=index),
            id=index,
        )
        for index in range(REVIEWS)
    )
    return PullRequestFacts(
        number=7,
        author="dev1",
        head_sha="c2",
        created_at=T0,
        now=T0 + timedelta(hours=5),
        commits=(Commit("c1", "dev1", "dev1"), Commit("c2", "dev1", "web-flow")),
        reviews=reviews,
        teams=frozen_map(TEAMS),
        changed_files=tuple(f"changes/production/change-{index}.yaml" for index in range(CHANGES)),
        pushes=(Push("c1", "dev1", T0), Push("c2", "dev1", T0)),
    )


def run() -> dict[str, float]:
    environments, policies, changes, facts = _environments(), _policies(), _changes(), _facts()
    decision = evaluate(environments=environments, policies=policies, changes=changes, facts=facts)
    # Guard the scenario itself: most policies must apply, or the figure measures nothing.
    assert len({step.policy for step in decision.steps}) >= POLICIES // 2, decision.reasons
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        evaluate(environments=environments, policies=policies, changes=changes, facts=facts)
        timings.append(time.perf_counter() - started)
    return {"policy_eval_us_per_change": statistics.median(timings) / CHANGES * 1e6}
