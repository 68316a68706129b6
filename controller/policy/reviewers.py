"""Whom to ask for a review: the people and teams who can still approve. Pure.

Only a pending pull request asks. For each step not yet satisfied: the step's listed users
who may still approve it (``eligible_remaining``: never a contributor unless self-approval
is allowed, never someone whose approval already counts), and the step's teams that have a
member who may still approve it. A team is asked as a team, so its members are not asked
one by one. The author is never asked (GitHub refuses it), nor sealgate itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controller.model import Decision, DecisionState, Policy, PullRequestFacts
from controller.policy.people import Directory, login_key


@dataclass(frozen=True, slots=True)
class ReviewAsk:
    users: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    """``org/slug``, lower case."""

    def __bool__(self) -> bool:
        return bool(self.users or self.teams)


def wanted_reviewers(
    decision: Decision, policies: Sequence[Policy], facts: PullRequestFacts, *, bot: str
) -> ReviewAsk:
    if decision.state is not DecisionState.PENDING:
        return ReviewAsk()
    directory = Directory.of(facts)
    author = facts.author
    by_name = {p.name: p for p in policies}
    never = {login_key(author), login_key(bot)}
    users: set[str] = set()
    teams: set[str] = set()
    for result in decision.steps:
        policy = by_name.get(result.policy)
        if result.satisfied or policy is None:
            continue
        step = next((s for s in policy.steps if s.name == result.step), None)
        if step is None:
            continue
        remaining = {login_key(login) for login in result.eligible_remaining}
        users.update(login_key(u) for u in step.users if login_key(u) in remaining)
        # A team none of whose members may still approve (all contributors, or all in)
        # would only be noise.
        teams.update(
            login_key(t)
            for t in step.teams
            if remaining & directory.listed(frozenset(), frozenset({t}))
        )
    return ReviewAsk(users=tuple(sorted(users - never)), teams=tuple(sorted(teams)))
