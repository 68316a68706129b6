"""One vote per person: the latest APPROVED / CHANGES_REQUESTED counts; DISMISSED removes it."""

from __future__ import annotations

import pytest

from controller.model import ReviewState
from controller.policy.people import latest_votes
from tests.unit.policy_fixtures import review

A = ReviewState.APPROVED
CR = ReviewState.CHANGES_REQUESTED
C = ReviewState.COMMENTED
D = ReviewState.DISMISSED
P = ReviewState.PENDING

CASES: list[tuple[str, list[tuple[ReviewState, int, int]], ReviewState | None]] = [
    # (id, [(state, minute, review id)], expected standing vote)
    ("approve", [(A, 1, 1)], A),
    ("comment is no vote", [(C, 1, 1)], None),
    ("pending is no vote", [(P, 1, 1)], None),
    ("latest wins", [(A, 1, 1), (CR, 2, 2)], CR),
    ("approval after change request", [(CR, 1, 1), (A, 2, 2)], A),
    ("comment keeps approval", [(A, 1, 1), (C, 2, 2)], A),
    ("comment keeps change request", [(CR, 1, 1), (C, 2, 2)], CR),
    ("dismissed approval", [(D, 1, 1)], None),
    # GitHub turns a dismissed review's own state into DISMISSED: here the change request.
    ("dismissed change request does not resurrect approval", [(A, 1, 1), (D, 2, 2)], None),
    ("vote after dismissal", [(D, 1, 1), (A, 2, 2)], A),
    ("same time: higher id wins", [(CR, 1, 2), (A, 1, 1)], CR),
    ("order of input does not matter", [(CR, 3, 3), (A, 1, 1), (C, 2, 2)], CR),
]


@pytest.mark.parametrize(("reviews", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_latest_vote(
    reviews: list[tuple[ReviewState, int, int]], expected: ReviewState | None
) -> None:
    votes = latest_votes(review("alice", s, minute=m, review_id=i) for s, m, i in reviews)
    assert (votes["alice"].state if "alice" in votes else None) == expected


def test_logins_are_case_insensitive() -> None:
    votes = latest_votes([review("Alice", A, minute=1), review("alice", CR, minute=2)])
    assert list(votes) == ["alice"]
    assert votes["alice"].state is CR
