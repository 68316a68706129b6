"""Team memberships read again right before a merge.

Snapshots take memberships from a short-lived cache: cheap, and right within a minute. A
merge is the one step that cannot be taken back, so it must not rest on someone removed
from a team since the cache was filled. The teams the applicable policies name are read
fresh and the decision is made again on them; only a decision still approved merges.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from controller.model import frozen_map
from controller.policy import evaluate, teams_referenced
from controller.reconciler.evaluation import Evaluation


def relied_on(evaluation: Evaluation) -> tuple[str, ...]:
    """The teams whose members could have counted: those the applicable policies name."""
    return tuple(sorted(teams_referenced(evaluation.policies)))


def with_teams(evaluation: Evaluation, teams: Mapping[str, frozenset[str]]) -> Evaluation:
    """``evaluation`` decided again with ``teams`` in place of the memberships it had."""
    facts = dataclasses.replace(
        evaluation.facts, teams=frozen_map({**evaluation.facts.teams, **teams})
    )
    decision = evaluate(
        environments=evaluation.rules.environments,
        policies=evaluation.rules.policies,
        changes=evaluation.changes,
        facts=facts,
        problems=evaluation.problems,
        access_requests=evaluation.access_requests,
    )
    return dataclasses.replace(evaluation, facts=facts, decision=decision)
