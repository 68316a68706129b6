"""Literal builders for policy-engine tests: small defaults, every field overridable.

The world they describe: environments ``production`` and ``staging``; author ``dev1``
pushed commits ``c1`` and the head ``c2`` at ``T0``; team ``acme/sre`` is alice, bob and carol, team
``acme/security`` is sam and sue; the pull request was opened at ``T0`` and is judged an
hour later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from controller.errors import Problem
from controller.model import (
    ApprovalStep,
    Bypassers,
    Comment,
    Commit,
    Decision,
    Enforcement,
    Environment,
    Policy,
    PullRequestFacts,
    Push,
    Review,
    ReviewState,
    SealingKey,
    SecretChange,
    Tier,
    Unmatched,
    frozen_map,
)
from controller.policy import evaluate

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
HEAD = "c2"
OLD = "c1"
AUTHOR = "dev1"
SRE = "acme/sre"
SECURITY = "acme/security"
TEAMS: Mapping[str, frozenset[str]] = {
    SRE: frozenset({"alice", "bob", "carol"}),
    SECURITY: frozenset({"sam", "sue"}),
    "acme/oncall": frozenset({"dev1", "olga"}),
    "acme/platform-leads": frozenset({"lena", "luis"}),
}
KEY = SealingKey(id="k1", public_key="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")


def env(
    name: str = "production",
    *,
    default_tier: Tier = Tier.SENSITIVE,
    unmatched: Unmatched = Unmatched.DENY,
) -> Environment:
    return Environment(
        name=name,
        sealing_keys=(KEY,),
        default_tier=default_tier,
        unmatched=unmatched,
        source=f"environments/{name}.yaml",
    )


ENVIRONMENTS: Mapping[str, Environment] = {"production": env(), "staging": env("staging")}


def step(
    name: str = "approvals",
    required: int = 1,
    *,
    users: Iterable[str] = (),
    teams: Iterable[str] = (),
) -> ApprovalStep:
    return ApprovalStep(
        name=name, required=required, users=frozenset(users), teams=frozenset(teams)
    )


def policy(
    name: str = "prod",
    *,
    required: int = 1,
    users: Iterable[str] = (),
    teams: Iterable[str] = (SRE,),
    steps: Sequence[ApprovalStep] | None = None,
    environments: Sequence[str] = ("production",),
    secrets: Sequence[str] = ("**",),
    tiers: Iterable[Tier] = tuple(Tier),
    allow_self_approval: bool = False,
    invalidate_on_push: bool = True,
    changes_requested_blocks: bool = True,
    enforcement: Enforcement = Enforcement.HARD,
    bypass_users: Iterable[str] = (),
    bypass_teams: Iterable[str] = (),
    expires_after: timedelta = timedelta(days=7),
    auto_merge: bool = True,
) -> Policy:
    return Policy(
        name=name,
        steps=tuple(steps)
        if steps is not None
        else (step(required=required, users=users, teams=teams),),
        environments=tuple(environments),
        secrets=tuple(secrets),
        tiers=frozenset(tiers),
        allow_self_approval=allow_self_approval,
        invalidate_on_push=invalidate_on_push,
        changes_requested_blocks=changes_requested_blocks,
        enforcement=enforcement,
        bypassers=Bypassers(users=frozenset(bypass_users), teams=frozenset(bypass_teams)),
        expires_after=expires_after,
        auto_merge=auto_merge,
        source=f"policies/{name}.yaml",
    )


def change(
    path: str = "payments/stripe",
    environment: str = "production",
    *,
    tier: Tier | None = None,
    name: str = "rotate",
) -> SecretChange:
    return SecretChange(
        name=name,
        environment=environment,
        secret=path,
        reason="quarterly rotation",
        set=frozen_map({"API_KEY": "sg1:k1:AAAA"}),
        tier=tier,
        source=f"changes/{environment}/{name}.yaml",
    )


def review(
    user: str,
    state: ReviewState = ReviewState.APPROVED,
    *,
    commit: str = HEAD,
    minute: int = 1,
    review_id: int = 0,
    dismissed_by: str | None = None,
    dismissed_state: ReviewState | None = None,
) -> Review:
    return Review(
        user=user,
        state=state,
        commit_id=commit,
        submitted_at=T0 + timedelta(minutes=minute),
        id=review_id,
        dismissed_by=dismissed_by,
        dismissed_state=dismissed_state,
    )


def dismissed(
    user: str,
    *,
    by: str | None,
    was: ReviewState | None = ReviewState.CHANGES_REQUESTED,
    minute: int = 2,
    commit: str = HEAD,
) -> Review:
    """``user``'s review as GitHub lists it once dismissed: DISMISSED, with who dismissed it
    and what it was as the issue timeline reports them (None: the timeline did not say)."""
    return review(
        user,
        ReviewState.DISMISSED,
        commit=commit,
        minute=minute,
        dismissed_by=by,
        dismissed_state=was,
    )


def comment(
    user: str, body: str, *, minute: int = 5, comment_id: int = 0, edited_minute: int | None = None
) -> Comment:
    created = T0 + timedelta(minutes=minute)
    edited = None if edited_minute is None else T0 + timedelta(minutes=edited_minute)
    return Comment(user=user, body=body, created_at=created, id=comment_id, updated_at=edited)


def facts(
    *,
    reviews: Sequence[Review] = (),
    comments: Sequence[Comment] = (),
    author: str = AUTHOR,
    commits: Sequence[Commit] = (Commit(OLD, AUTHOR, AUTHOR), Commit(HEAD, AUTHOR, AUTHOR)),
    teams: Mapping[str, frozenset[str]] = TEAMS,
    current_tiers: Mapping[str, Tier] | None = None,
    changed_files: Sequence[str] = ("changes/production/rotate.yaml",),
    now: datetime = T0 + timedelta(hours=1),
    pushes: Sequence[Push] = (Push(OLD, AUTHOR, T0), Push(HEAD, AUTHOR, T0)),
) -> PullRequestFacts:
    return PullRequestFacts(
        number=7,
        author=author,
        head_sha=HEAD,
        created_at=T0,
        now=now,
        commits=tuple(commits),
        reviews=tuple(reviews),
        teams=frozen_map(teams),
        comments=tuple(comments),
        current_tiers=frozen_map(current_tiers or {}),
        changed_files=tuple(changed_files),
        base_sha="b0",
        pushes=tuple(pushes),
    )


def decide(
    policies: Sequence[Policy],
    *,
    changes: Sequence[SecretChange] | None = None,
    pull_request: PullRequestFacts | None = None,
    environments: Mapping[str, Environment] = ENVIRONMENTS,
    problems: Sequence[Problem] = (),
) -> Decision:
    return evaluate(
        environments=environments,
        policies=policies,
        changes=[change()] if changes is None else changes,
        facts=pull_request or facts(),
        problems=problems,
    )


def approvals(*users: str) -> tuple[Review, ...]:
    return tuple(review(user, minute=index + 1) for index, user in enumerate(users))
