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
_NO_VOTE = frozenset({ReviewState.COMMENTED, ReviewState.PENDING})


def login_key(login: str) -> str:
    return login.casefold()


def latest_votes(reviews: Iterable[Review]) -> dict[str, Review]:
    """Each person's standing vote: their latest APPROVED or CHANGES_REQUESTED review.

    COMMENTED and PENDING reviews leave the vote as it was. Dismissing an approval, or a
    reviewer dismissing their own change request, removes the vote entirely, so an earlier
    approval never comes back. Any other dismissed review stays as the vote: anyone with
    write access can dismiss, so whether that dismissal lifts a change request depends on
    who dismissed it and under which policy (``Directory.may_lift``); a review whose kind
    or dismisser is unknown is treated as a change request that was not lifted.
    Order is by submission time, then review id, so the result does not depend on the
    order the reviews were fetched in.
    """
    votes: dict[str, Review] = {}
    for review in sorted(reviews, key=_review_order):
        person = login_key(review.user)
        if review.state in _VOTES:
            votes[person] = review
        elif review.state is ReviewState.DISMISSED:
            if review.dismissed_state in _NO_VOTE:
                continue
            own = review.dismissed_by is not None and login_key(review.dismissed_by) == person
            if own or review.dismissed_state is ReviewState.APPROVED:
                votes.pop(person, None)
            else:
                votes[person] = review
    return votes


def standing_objection(review: Review) -> bool:
    """Whether this vote objects: a change request, or one dismissed by someone else."""
    return review.state in (ReviewState.CHANGES_REQUESTED, ReviewState.DISMISSED)


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
    contributors_known: bool = True
    """False when some contributor cannot be known (see ``contributors``)."""

    @classmethod
    def of(cls, facts: PullRequestFacts) -> Directory:
        found = contributors(facts)
        return cls(
            teams=normalized_teams(facts.teams),
            excluded=found.people,
            contributors_known=not found.unknown,
        )

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

    def may_lift(self, policy: Policy, login: str | None) -> bool:
        """Whether ``login``'s dismissal lifts a change request under ``policy``: someone
        listed by one of its steps who did not contribute to the pull request, even where
        the policy allows self-approval (an author must not clear objections to their own
        change). None (unknown) never does, nor anyone while a contributor is unknown."""
        if login is None or not self.contributors_known:
            return False
        person = login_key(login)
        return person not in self.excluded and any(
            person in self.listed(step.users, step.teams) for step in policy.steps
        )

    def may_merge(self, policies: Iterable[Policy], author: str, user: str) -> bool:
        """The author, or someone who could approve under one of ``policies``."""
        person = login_key(user)
        return person == login_key(author) or any(
            person in self.step_eligible(policy, step)
            for policy in policies
            for step in policy.steps
        )

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
    return Directory.of(facts).may_merge(policies, facts.author, user)
