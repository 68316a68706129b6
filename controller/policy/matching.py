"""Place approvers on the steps of one policy: each person counts toward at most one step.

Steps are filled in order by augmenting paths (bipartite matching with step capacities):
filling step k may move an approver already placed on an earlier step to another step
they are also eligible for, but never empties a filled place. So every earlier step holds
as many approvers as it possibly can, and a person eligible for several steps lands where
the policy can still be satisfied rather than where they happened to be tried first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence


def assign_to_steps(
    eligible: Sequence[frozenset[str]], required: Sequence[int], approvers: frozenset[str]
) -> list[frozenset[str]]:
    """For each step, the approvers counted toward it (at most ``required[i]`` each)."""
    candidates = [sorted(step_eligible & approvers) for step_eligible in eligible]
    members: list[set[str]] = [set() for _ in eligible]
    placed: dict[str, int] = {}
    for step, needed in enumerate(required):
        while len(members[step]) < needed and _augment(step, candidates, members, placed):
            pass
    return [frozenset(step_members) for step_members in members]


def _augment(
    start: int, candidates: Sequence[list[str]], members: list[set[str]], placed: dict[str, int]
) -> bool:
    """Give ``start`` one more approver, shifting others along a path; False if impossible."""
    # came_from[t] = (s, person): step s takes person out of step t, so t needs a replacement.
    came_from: dict[int, tuple[int, str] | None] = {start: None}
    queue = deque([start])
    while queue:
        step = queue.popleft()
        for person in candidates[step]:
            current = placed.get(person)
            if current is None:
                _shift(step, person, came_from, members, placed)
                return True
            if current != step and current not in came_from:
                came_from[current] = (step, person)
                queue.append(current)
    return False


def _shift(
    step: int,
    person: str,
    came_from: dict[int, tuple[int, str] | None],
    members: list[set[str]],
    placed: dict[str, int],
) -> None:
    while True:
        members[step].add(person)
        placed[person] = step
        link = came_from[step]
        if link is None:
            return
        previous, moved = link
        members[step].discard(moved)
        step, person = previous, moved
