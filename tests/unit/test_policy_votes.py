"""One vote per person: the latest APPROVED / CHANGES_REQUESTED counts; a dismissal removes
it unless it was someone else's dismissal of a change request (the policy judges that)."""

from __future__ import annotations

import pytest

from controller.model import Review, ReviewState
from controller.policy.people import latest_votes
from tests.unit.policy_fixtures import review

A = ReviewState.APPROVED
CR = ReviewState.CHANGES_REQUESTED
C = ReviewState.COMMENTED
D = ReviewState.DISMISSED
P = ReviewState.PENDING

# GitHub turns a dismissed review's own state into DISMISSED; the timeline says who
# dismissed it and what it was. Each kind of dismissal, as review() keyword arguments:
# (what the review was, who dismissed it)
DISMISSED_KINDS: dict[str, tuple[ReviewState | None, str | None]] = {
    "DA": (A, "erin"),  # an approval, by anyone
    "DS": (CR, "alice"),  # the reviewer's own change request
    "DX": (CR, "mallory"),  # a change request, by someone else
    "DU": (None, None),  # neither the kind nor who dismissed it is known
}

CASES: list[tuple[str, list[tuple[ReviewState | str, int, int]], ReviewState | None]] = [
    # (id, [(state or dismissal kind, minute, review id)], expected standing vote)
    ("approve", [(A, 1, 1)], A),
    ("comment is no vote", [(C, 1, 1)], None),
    ("pending is no vote", [(P, 1, 1)], None),
    ("latest wins", [(A, 1, 1), (CR, 2, 2)], CR),
    ("approval after change request", [(CR, 1, 1), (A, 2, 2)], A),
    ("comment keeps approval", [(A, 1, 1), (C, 2, 2)], A),
    ("comment keeps change request", [(CR, 1, 1), (C, 2, 2)], CR),
    ("dismissed approval", [("DA", 1, 1)], None),
    ("own dismissed change request does not resurrect approval", [(A, 1, 1), ("DS", 2, 2)], None),
    # Whether someone else's dismissal lifts the change request is the policy's to judge.
    ("change request dismissed by another stays a vote", [(A, 1, 1), ("DX", 2, 2)], D),
    ("dismissal of an unknown kind stays a vote", [("DU", 1, 1)], D),
    ("vote after dismissal", [("DX", 1, 1), (A, 2, 2)], A),
    ("same time: higher id wins", [(CR, 1, 2), (A, 1, 1)], CR),
    ("order of input does not matter", [(CR, 3, 3), (A, 1, 1), (C, 2, 2)], CR),
]


def _review(state: ReviewState | str, minute: int, review_id: int) -> Review:
    if isinstance(state, ReviewState):
        return review("alice", state, minute=minute, review_id=review_id)
    was, by = DISMISSED_KINDS[state]
    return review(
        "alice", D, minute=minute, review_id=review_id, dismissed_by=by, dismissed_state=was
    )


@pytest.mark.parametrize(("reviews", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_latest_vote(
    reviews: list[tuple[ReviewState | str, int, int]], expected: ReviewState | None
) -> None:
    votes = latest_votes(_review(s, m, i) for s, m, i in reviews)
    assert (votes["alice"].state if "alice" in votes else None) == expected


def test_own_dismissal_is_recognised_whatever_the_case_of_the_login() -> None:
    dismissed = review("Alice", D, minute=2, dismissed_by="ALICE", dismissed_state=CR)
    assert latest_votes([review("alice", A), dismissed]) == {}


def test_logins_are_case_insensitive() -> None:
    votes = latest_votes([review("Alice", A, minute=1), review("alice", CR, minute=2)])
    assert list(votes) == ["alice"]
    assert votes["alice"].state is CR
