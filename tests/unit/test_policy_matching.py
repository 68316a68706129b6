"""Placing approvers on steps: one step per person, earlier steps filled first."""

from __future__ import annotations

import pytest

from controller.policy.matching import assign_to_steps

F = frozenset

CASES = [
    # (id, eligible per step, required per step, approvers, expected sizes per step)
    ("single step", [F("ab")], [2], F("ab"), [2]),
    ("capped at required", [F("abc")], [2], F("abc"), [2]),
    ("flexible person moves", [F("ab"), F("a")], [1, 1], F("ab"), [1, 1]),
    ("both only fit step one", [F("ab"), F("ab")], [2, 1], F("ab"), [2, 0]),
    ("chain of moves", [F("abc"), F("bc"), F("c")], [1, 1, 1], F("abc"), [1, 1, 1]),
    ("nobody eligible", [F("a")], [1], F("z"), [0]),
    ("earlier step first", [F("a"), F("a")], [1, 1], F("a"), [1, 0]),
]


@pytest.mark.parametrize(
    ("eligible", "required", "approvers", "sizes"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_assignment(
    eligible: list[frozenset[str]], required: list[int], approvers: frozenset[str], sizes: list[int]
) -> None:
    placed = assign_to_steps(eligible, required, approvers)
    assert [len(members) for members in placed] == sizes
    everyone = [person for members in placed for person in members]
    assert len(everyone) == len(set(everyone)), "a person counted toward two steps"
    for members, step_eligible in zip(placed, eligible, strict=True):
        assert members <= step_eligible & approvers


def test_flexible_approver_lands_where_the_policy_can_be_satisfied() -> None:
    # "a" is tried first for step one but only "a" can serve step two: "a" must move there.
    placed = assign_to_steps([F("ab"), F("a")], [1, 1], F("ab"))
    assert placed == [F("b"), F("a")]
