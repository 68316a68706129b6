"""Break-glass: ``/sealgate bypass <reason>`` by an author who may bypass every policy.

It is deliberately narrow. The comment must come from the pull request's author (a bypass
is a person taking responsibility for their own change, not a way to push someone else's
through), every applicable policy must be soft and list that person as a bypasser, and the
reason must say something. Every ignored attempt is reported, so a failed break-glass in
an incident is explained rather than silent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controller.model import Comment, Enforcement, Policy, PullRequestFacts
from controller.policy.commands import commands_on_head
from controller.policy.people import Directory, login_key
from controller.policy.text import names, timestamp

MIN_REASON_LENGTH = 10


@dataclass(frozen=True, slots=True)
class BypassGrant:
    user: str
    reason: str
    comment: Comment


@dataclass(frozen=True, slots=True)
class BypassOutcome:
    grant: BypassGrant | None
    ignored: tuple[str, ...]
    """One sentence per ignored bypass comment, saying why."""


def find_bypass(
    facts: PullRequestFacts, applicable: Sequence[Policy], directory: Directory
) -> BypassOutcome:
    """The first valid bypass comment (by time, then id), and why any others were ignored.

    Only comments that count for the current head are considered (``commands_on_head``):
    a bypass is given on the content its author saw, and a later push voids it.
    """
    grant: BypassGrant | None = None
    given, voided = commands_on_head(facts, "bypass")
    ignored = list(voided)
    for found in given:
        comment, command = found.comment, found.command
        user = login_key(comment.user)
        failures = _failures(user, command.argument, facts, applicable, directory)
        if failures:
            ignored.append(
                f"The /sealgate bypass comment by {user} at {timestamp(comment.created_at)}"
                f" was ignored: {'; '.join(failures)}."
            )
        elif grant is None:
            grant = BypassGrant(user=user, reason=command.argument, comment=comment)
    return BypassOutcome(grant=grant, ignored=tuple(ignored))


def _failures(
    user: str,
    reason: str,
    facts: PullRequestFacts,
    applicable: Sequence[Policy],
    directory: Directory,
) -> list[str]:
    failures: list[str] = []
    if user != login_key(facts.author):
        failures.append(f"only the pull request's author ({login_key(facts.author)}) may bypass")
    if not applicable:
        failures.append("no policy applies, so there is nothing to bypass")
    hard = [p.name for p in applicable if p.enforcement is Enforcement.HARD]
    if hard:
        failures.append(f"policies with hard enforcement cannot be bypassed ({names(hard)})")
    not_listed = [p.name for p in applicable if not directory.is_bypasser(p.bypassers, user)]
    if not_listed:
        failures.append(f"{user} is not a listed bypasser of {names(not_listed)}")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        failures.append(
            f"the reason must be at least {MIN_REASON_LENGTH} characters"
            " (write /sealgate bypass <why this cannot wait>)"
        )
    return failures


def bypass_refusals(
    user: str, reason: str, facts: PullRequestFacts, applicable: Sequence[Policy]
) -> tuple[str, ...]:
    """Why a ``/sealgate bypass`` by ``user`` with ``reason`` would not be accepted."""
    return tuple(_failures(login_key(user), reason, facts, applicable, Directory.of(facts)))
