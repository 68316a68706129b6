"""How one policy stands: its steps, who approved, who blocks, and whether it can ever pass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from controller.model import Policy, PullRequestFacts, Review, ReviewState, StepResult
from controller.policy.matching import assign_to_steps
from controller.policy.people import Directory
from controller.policy.text import names


@dataclass(frozen=True, slots=True)
class PolicyStanding:
    policy: Policy
    steps: tuple[StepResult, ...]
    eligible: frozenset[str]
    """Everyone who may approve some step of this policy for this pull request."""
    stale: frozenset[str]
    """Eligible people whose approval is of an older head and no longer counts."""
    blocking: tuple[str, ...]
    impossible: tuple[str, ...]
    """Reasons the policy can never be satisfied for this pull request."""


def judge_policy(
    policy: Policy, facts: PullRequestFacts, votes: Mapping[str, Review], directory: Directory
) -> PolicyStanding:
    eligible = [directory.step_eligible(policy, step) for step in policy.steps]
    anyone = frozenset().union(*eligible)
    required = [step.required for step in policy.steps]

    approvers: set[str] = set()
    stale: set[str] = set()
    requesters: set[str] = set()
    for person in anyone.intersection(votes):
        vote = votes[person]
        if vote.state is ReviewState.DISMISSED:
            # Dismissed by someone other than the reviewer (see ``latest_votes``): it
            # still objects unless that someone may lift objections under this policy.
            if not directory.may_lift(policy, vote.dismissed_by):
                requesters.add(person)
        elif vote.state is ReviewState.CHANGES_REQUESTED:
            requesters.add(person)
        elif policy.invalidate_on_push and vote.commit_id != facts.head_sha:
            stale.add(person)
        else:
            approvers.add(person)

    counted = assign_to_steps(eligible, required, frozenset(approvers))
    # Approvers beyond what the steps need are shown on the first step they could serve.
    surplus = approvers - frozenset().union(*counted)
    shown = [set(members) for members in counted]
    for person in sorted(surplus):
        first = next(i for i, step_eligible in enumerate(eligible) if person in step_eligible)
        shown[first].add(person)

    steps: list[StepResult] = []
    earlier_satisfied = True
    for index, step in enumerate(policy.steps):
        full = len(counted[index]) >= step.required
        steps.append(
            StepResult(
                policy=policy.name,
                step=step.name,
                required=step.required,
                approved_by=tuple(sorted(shown[index])),
                eligible_remaining=tuple(sorted(eligible[index] - approvers)),
                changes_requested_by=tuple(sorted(eligible[index] & requesters)),
                satisfied=earlier_satisfied and full,
                waiting_on_earlier_step=not earlier_satisfied,
            )
        )
        earlier_satisfied = earlier_satisfied and full

    blocking = tuple(sorted(requesters)) if policy.changes_requested_blocks else ()
    return PolicyStanding(
        policy=policy,
        steps=tuple(steps),
        eligible=anyone,
        stale=frozenset(stale),
        blocking=blocking,
        impossible=_impossible_steps(policy, eligible, directory),
    )


def _impossible_steps(
    policy: Policy, eligible: list[frozenset[str]], directory: Directory
) -> tuple[str, ...]:
    """Steps that stay short even if every eligible person approved."""
    if len(eligible) == 1:
        best = eligible  # a single step can take every eligible person: no matching needed
    else:
        required = [step.required for step in policy.steps]
        best = assign_to_steps(eligible, required, frozenset().union(*eligible))
    reasons: list[str] = []
    for index, step in enumerate(policy.steps):
        if len(best[index]) >= step.required:
            continue
        people = names(eligible[index])
        why = []
        if not policy.allow_self_approval:
            why.append(
                "the author and commit authors of the pull request, and its pushers,"
                " cannot approve it"
            )
        unknown = directory.unknown_teams(step.teams)
        if unknown:
            why.append(f"team(s) {', '.join(unknown)} have no known members")
        if len(eligible[index]) >= step.required:
            why.append("people eligible for several steps count toward only one of them")
        detail = f" ({'; '.join(why)})" if why else ""
        reasons.append(
            f"Policy '{policy.name}', step '{step.name}': requires {step.required} approval(s)"
            f" but at most {len(best[index])} can be given for this pull request by eligible"
            f" people ({people}){detail}; add approvers to the policy or lower its required"
            " count in a governance pull request."
        )
    return tuple(reasons)
