"""Who voted what, and who may approve: votes, self-exclusion, team membership.

GitHub logins and organisation names are case-insensitive, and policies are typed by
people, so every login and team is compared (and reported) in lower case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controller.model import ApprovalStep, Bypassers, Policy, PullRequestFacts, Review, ReviewState
from controller.policy.contributors import contributors

_VOTES = frozenset({ReviewState.APPROVED, ReviewState.CHANGES_REQUESTED})


def login_key(login: str) -> str:
    return login.casefold()


def latest_votes(reviews: Iterable[Review]) -> dict[str, Review]:
    """Each person's standing vote: their latest APPROVED or CHANGES_REQUESTED review.

    COMMENTED and PENDING reviews leave the vote as it was. A DISMISSED review removes the
    vote entirely, so dismissing a change request never brings an earlier approval back.
    Order is by submission time, then review id, so the result does not depend on the
    order the reviews were fetched in.
    """
    votes: dict[str, Review] = {}
    for review in sorted(reviews, key=_review_order):
        person = login_key(review.user)
        if review.state in _VOTES:
            votes[person] = review
        elif review.state is ReviewState.DISMISSED:
            votes.pop(person, None)
    return votes


def _review_order(review: Review) -> tuple[object, ...]:
    # Every field takes part, so even duplicate timestamps and ids sort the same way always.
    return (review.submitted_at, review.id, review.state.value, review.commit_id, review.user)


def self_excluded(facts: PullRequestFacts) -> frozenset[str]:
    """Everyone who put content into the pull request (see ``contributors``)."""
    return contributors(facts).people


def normalized_teams(teams: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    return {
        login_key(team): frozenset(login_key(member) for member in members)
        for team, members in teams.items()
    }


@dataclass(frozen=True, slots=True)
class Directory:
    """Team memberships and self-exclusions of one pull request, normalised once."""

    teams: Mapping[str, frozenset[str]]
    excluded: frozenset[str]

    @classmethod
    def of(cls, facts: PullRequestFacts) -> Directory:
        return cls(teams=normalized_teams(facts.teams), excluded=self_excluded(facts))

    _memo: dict[tuple[frozenset[str], frozenset[str]], frozenset[str]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """Many policies name the same users and teams: resolve each combination once."""

    def listed(self, users: frozenset[str], teams: frozenset[str]) -> frozenset[str]:
        """Listed users plus members of listed teams; a team the facts lack has no members."""
        found = self._memo.get((users, teams))
        if found is None:
            people = {login_key(user) for user in users}
            for team in teams:
                people |= self.teams.get(login_key(team), frozenset())
            found = self._memo[users, teams] = frozenset(people)
        return found

    def unknown_teams(self, teams: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted({login_key(t) for t in teams} - self.teams.keys()))

    def step_eligible(self, policy: Policy, step: ApprovalStep) -> frozenset[str]:
        listed = self.listed(step.users, step.teams)
        return listed if policy.allow_self_approval else listed - self.excluded

    def is_bypasser(self, bypassers: Bypassers, login: str) -> bool:
        return login_key(login) in self.listed(bypassers.users, bypassers.teams)


def teams_referenced(policies: Iterable[Policy]) -> frozenset[str]:
    """Every ``org/slug`` whose members the facts must carry to judge these policies."""
    teams: set[str] = set()
    for policy in policies:
        for step in policy.steps:
            teams.update(login_key(team) for team in step.teams)
        teams.update(login_key(team) for team in policy.bypassers.teams)
    return frozenset(teams)


def can_merge_command(policies: Iterable[Policy], facts: PullRequestFacts, user: str) -> bool:
    """Whether a ``/sealgate merge`` comment by ``user`` counts.

    ``policies`` are the policies that apply to the pull request (those named in the
    decision's steps). The author may always ask to merge their own approved request;
    otherwise only someone who could approve it under one of those policies may, so a
    passer-by cannot trigger the merge of a request that waits for an explicit one.
    """
    if login_key(user) == login_key(facts.author):
        return True
    directory = Directory.of(facts)
    person = login_key(user)
    return any(
        person in directory.step_eligible(policy, step)
        for policy in policies
        for step in policy.steps
    )
