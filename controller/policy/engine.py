"""``evaluate``: documents + pull-request facts -> decision. Pure and deterministic.

Precedence of states: invalid > expired > rejected > pending > approved. Every input
sequence is sorted first, so the decision does not depend on the order reviews, policies
or changes were fetched in. Reasons are grouped in that same precedence, so the first
reason always explains the state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from controller.errors import Problem
from controller.model import (
    AccessRequest,
    Decision,
    DecisionState,
    Environment,
    Policy,
    PullRequestFacts,
    Review,
    ReviewState,
    SecretChange,
    StepResult,
    frozen_map,
)
from controller.policy.approve_for import granted_duration
from controller.policy.bypass import BypassGrant, find_bypass
from controller.policy.classify import PullScope, classify
from controller.policy.commands import commands_on_head
from controller.policy.contributors import contributors, unverified_commits
from controller.policy.judge import PolicyStanding, judge_policy
from controller.policy.people import Directory, latest_votes, login_key
from controller.policy.text import duration, names, short_sha, timestamp

# Break-glass overrides missing or objecting reviews, never broken input or a lapsed request.
_BYPASSABLE = frozenset({DecisionState.PENDING, DecisionState.REJECTED})


@dataclass(slots=True)
class _Reasons:
    invalid: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def state(self) -> DecisionState:
        for state, reasons in (
            (DecisionState.INVALID, self.invalid),
            (DecisionState.EXPIRED, self.expired),
            (DecisionState.REJECTED, self.rejected),
            (DecisionState.PENDING, self.pending),
        ):
            if reasons:
                return state
        return DecisionState.APPROVED

    def ordered(self) -> tuple[str, ...]:
        return (*self.invalid, *self.expired, *self.rejected, *self.pending, *self.notes)


def evaluate(
    *,
    environments: Mapping[str, Environment],
    policies: Sequence[Policy],
    changes: Sequence[SecretChange],
    facts: PullRequestFacts,
    problems: Sequence[Problem] = (),
    access_requests: Sequence[AccessRequest] = (),
) -> Decision:
    """Decide a pull request. ``problems`` are input errors found while loading its files.
    ``access_requests``: its ``AccessRequest`` documents (a pull request asks for access or
    changes secrets, never both)."""
    reasons = _Reasons()
    reasons.invalid.extend(
        str(p) for p in sorted(problems, key=lambda p: (p.file, p.line or 0, p.field, p.message))
    )
    ordered_policies = sorted(policies, key=lambda p: (p.name, p.source))
    ordered_changes = sorted(changes, key=lambda c: (c.path, c.source, c.document_index, c.name))
    ordered_requests = sorted(access_requests, key=lambda r: (r.source, r.document_index, r.name))
    _check_unique_names(ordered_policies, reasons)

    scope = classify(environments, ordered_policies, ordered_changes, ordered_requests, facts)
    reasons.invalid.extend(scope.invalid)
    reasons.notes.extend(scope.notes)
    directory = Directory.of(facts)
    votes = latest_votes(facts.reviews)
    standings = [judge_policy(p, facts, votes, directory) for p in scope.applicable]
    for standing in standings:
        _report_standing(standing, votes, reasons)
    _report_ignored_votes(standings, votes, facts, directory, reasons)
    _report_contributors(scope.applicable, facts, reasons)
    steps = tuple(step for standing in standings for step in standing.steps)
    granted = granted_duration(ordered_requests if scope.access else (), steps, facts)
    reasons.notes.extend(granted.notes)

    expires_at = _expiry(scope.applicable, facts, reasons)
    outcome = find_bypass(facts, scope.applicable, directory)
    reasons.notes.extend(outcome.ignored)
    reviewed = reasons.state()
    grant = outcome.grant if reviewed in _BYPASSABLE else None
    if outcome.grant is not None and grant is None:
        reasons.notes.append(_bypass_unused(outcome.grant, reviewed))

    merger: str | None = None
    if not all(policy.auto_merge for policy in scope.applicable):
        approved_at = _last_counted_approval(standings, votes)
        merger = _merge_command(facts, scope.applicable, directory, reasons, approved_at)

    headline: tuple[str, ...] = ()
    if grant is not None:
        headline = (_bypass_headline(grant, scope.applicable),)
    elif reviewed is DecisionState.APPROVED:
        headline = (_approved_headline(scope),)
    return Decision(
        state=DecisionState.APPROVED if grant is not None else reviewed,
        reasons=headline + reasons.ordered(),
        steps=steps,
        bypassed=grant is not None,
        bypassed_by=grant.user if grant is not None else None,
        bypass_reason=grant.reason if grant is not None else None,
        merge_requested_by=merger,
        expires_at=expires_at,
        head_sha=facts.head_sha,
        governance=scope.governance,
        auto_merge=all(policy.auto_merge for policy in scope.applicable),
        tiers=frozen_map(scope.tiers),
        access=scope.access,
        granted_duration=granted.duration,
    )


def applicable_policies(decision: Decision, policies: Iterable[Policy]) -> tuple[Policy, ...]:
    """The policies ``decision`` was judged by (those its steps name), e.g. for
    ``can_merge_command`` or for choosing whom to notify."""
    named = {step.policy for step in decision.steps}
    return tuple(sorted((p for p in policies if p.name in named), key=lambda p: p.name))


def _check_unique_names(policies: Sequence[Policy], reasons: _Reasons) -> None:
    counts = Counter(policy.name for policy in policies)
    for name in sorted(n for n, count in counts.items() if count > 1):
        sources = names((p.source or "?" for p in policies if p.name == name), empty="?")
        reasons.invalid.append(
            f"Policy name '{name}' is used by more than one policy ({sources}); give each"
            " policy a unique metadata.name."
        )


def _report_standing(
    standing: PolicyStanding, votes: Mapping[str, Review], reasons: _Reasons
) -> None:
    name = standing.policy.name
    reasons.invalid.extend(standing.impossible)
    for person in standing.blocking:
        reasons.rejected.append(_blocking(name, person, votes[person]))
    for person in sorted(standing.eligible.intersection(votes)):
        vote = votes[person]
        lifted = standing.policy.changes_requested_blocks and person not in standing.blocking
        if vote.state is ReviewState.DISMISSED and lifted:
            reasons.notes.append(
                f"Policy '{name}': the change request by {person} was dismissed by"
                f" {login_key(vote.dismissed_by or '')}, an approver of this policy who did"
                " not contribute to the pull request, so it no longer blocks."
            )
    for step in standing.steps:
        if step.satisfied:
            reasons.notes.append(
                f"Policy '{name}', step '{step.step}': satisfied, approved by"
                f" {names(step.approved_by)} ({step.required} required)."
            )
        elif step.waiting_on_earlier_step:
            reasons.pending.append(
                f"Policy '{name}', step '{step.step}': waits for the earlier steps; approvals"
                f" already given ({names(step.approved_by, empty='none')}) count once they"
                " are satisfied."
            )
        else:
            reasons.pending.append(_pending_step(name, step))


def _blocking(policy: str, person: str, vote: Review) -> str:
    lift = f"{person} or an approver of this policy who did not contribute to the pull request"
    if vote.state is not ReviewState.DISMISSED:
        return (
            f"Policy '{policy}': {person} requested changes, which blocks the pull request"
            f" until {person} approves it or the review is dismissed by {lift}."
        )
    if vote.dismissed_by is None:
        dismissed = "was dismissed, but GitHub does not say by whom"
    else:
        dismissed = f"was dismissed by {login_key(vote.dismissed_by)}"
    if vote.dismissed_state is None:
        dismissed += " (nor what the review was, so it counts as a change request)"
    return (
        f"Policy '{policy}': the change request by {person} {dismissed}, and only {lift}"
        f" can lift it; it still blocks the pull request until {person} approves it or"
        " reviews it again."
    )


def _pending_step(policy: str, step: StepResult) -> str:
    return (
        f"Policy '{policy}', step '{step.step}': {len(step.approved_by)} of {step.required}"
        f" approval(s) ({names(step.approved_by, empty='none yet')}); can still approve:"
        f" {names(step.eligible_remaining)}."
    )


def _report_ignored_votes(
    standings: Sequence[PolicyStanding],
    votes: Mapping[str, Review],
    facts: PullRequestFacts,
    directory: Directory,
    reasons: _Reasons,
) -> None:
    """Say why an approval or change request does not count, so nobody is misled by it."""
    eligible_anywhere = frozenset().union(*(s.eligible for s in standings))
    listed_anywhere = frozenset().union(
        *(directory.listed(step.users, step.teams) for s in standings for step in s.policy.steps)
    )
    for person in sorted(votes):
        vote = votes[person]
        verb = "approval" if vote.state is ReviewState.APPROVED else "change request"
        if vote.state is ReviewState.DISMISSED and person not in eligible_anywhere:
            continue  # a dismissed review of someone with no say: nothing to explain
        if person not in eligible_anywhere:
            if person in listed_anywhere and person in directory.excluded:
                why = (
                    "they opened or pushed to the pull request, or authored, committed or"
                    " co-authored one of its commits, and the policies that list them do"
                    " not allow self-approval"
                )
            else:
                why = "they are not a listed user or team member of any applicable policy"
            reasons.notes.append(f"The {verb} by {person} does not count: {why}.")
            continue
        stale_in = [s.policy.name for s in standings if person in s.stale]
        if stale_in:
            reasons.notes.append(
                f"The approval by {person} was given on commit {short_sha(vote.commit_id)}, not"
                f" the head {short_sha(facts.head_sha)}; policies that invalidate approvals on"
                f" push ({names(stale_in)}) need a fresh approval."
            )


def _report_contributors(
    applicable: Sequence[Policy], facts: PullRequestFacts, reasons: _Reasons
) -> None:
    """Unknown contributors block policies that exclude contributors; unsigned commits make
    a pull request invalid under policies that require signatures (only a new push helps)."""
    for policy in applicable:
        refused = unverified_commits(policy, facts)
        if refused is not None:
            reasons.invalid.append(refused)
    excluding = [p.name for p in applicable if not p.allow_self_approval]
    if not excluding:
        return
    for why in contributors(facts).unknown:
        reasons.pending.append(
            f"Approvals cannot count under {names(excluding)}, whose approvers may not have"
            f" contributed to the pull request: {why}."
        )


def _last_counted_approval(
    standings: Sequence[PolicyStanding], votes: Mapping[str, Review]
) -> datetime | None:
    """When the latest approval that counts toward a step was given."""
    times = [
        votes[person].submitted_at
        for standing in standings
        for step in standing.steps
        for person in step.approved_by
        if person in votes
    ]
    return max(times, default=None)


def _merge_command(
    facts: PullRequestFacts,
    applicable: Sequence[Policy],
    directory: Directory,
    reasons: _Reasons,
    approved_at: datetime | None,
) -> str | None:
    """The first ``/sealgate merge`` that counts: on this head, after the last approval that
    counts (a merge asked for before the approvals were in is a merge nobody reviewed the
    timing of: ``autoMerge: false`` means someone decides once it is approved), by the
    author or someone who could approve under an applicable policy (so a passer-by cannot
    trigger it)."""
    given, ignored = commands_on_head(facts, "merge")
    reasons.notes.extend(ignored)
    merger: str | None = None
    for found in given:
        user = login_key(found.comment.user)
        allowed = directory.may_merge(applicable, facts.author, user)
        # Same second refused too: GitHub's times have one-second precision.
        if approved_at is not None and found.comment.created_at <= approved_at:
            reasons.notes.append(
                f"The /sealgate merge comment by {user} at"
                f" {timestamp(found.comment.created_at)} was ignored: it was made before the"
                f" last approval ({timestamp(approved_at)}); ask again now that it is approved."
            )
        elif not allowed:
            reasons.notes.append(
                f"The /sealgate merge comment by {user} at"
                f" {timestamp(found.comment.created_at)} was ignored: only the author or"
                " an eligible approver may ask to merge."
            )
        elif merger is None:
            merger = user
    return merger


def _expiry(
    applicable: Sequence[Policy], facts: PullRequestFacts, reasons: _Reasons
) -> datetime | None:
    if not applicable:
        return None
    shortest = min(policy.expires_after for policy in applicable)
    expires_at = facts.created_at + shortest
    if facts.now >= expires_at:
        strictest = [p.name for p in applicable if p.expires_after == shortest]
        reasons.expired.append(
            f"The pull request expired at {timestamp(expires_at)}, {duration(shortest)} after it"
            f" was opened (expiresAfter of {names(strictest)}); open a new pull request."
        )
    return expires_at


def _bypass_unused(grant: BypassGrant, state: DecisionState) -> str:
    if state is DecisionState.APPROVED:
        return (
            f"The /sealgate bypass by {grant.user} was not needed: reviews already approve the"
            " pull request."
        )
    return f"The /sealgate bypass by {grant.user} cannot rescue a pull request that is {state}."


def _bypass_headline(grant: BypassGrant, applicable: Sequence[Policy]) -> str:
    return (
        f"Approved by break-glass: {grant.user} bypassed review under soft policies"
        f" {names(p.name for p in applicable)} at {timestamp(grant.comment.created_at)};"
        " approvers are notified and the audit log records the reason."
    )


def _approved_headline(scope: PullScope) -> str:
    if not scope.applicable:
        what = "access requests" if scope.access else "changes"
        return f"Approved: no policy applies and every environment allows unmatched {what}."
    return (
        "Approved: every applicable policy is satisfied"
        f" ({names(p.name for p in scope.applicable)})."
    )
