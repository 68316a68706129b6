"""``/sealgate approve-for <duration>``: an approver grants less time than was asked.

The command only shortens. It counts when the comment counts as a command for this head
(plain text, never edited, made after the head was pushed: ``commands``) and its author is
someone whose approving review counts toward a step of an applicable policy. The approval
is what grants; the comment only narrows it, so nobody who could not approve can shorten
(or, by shortening to a minute, sabotage) a grant, and approving without the comment
grants the requested duration. Order does not matter: the comment may come before or
after the approval, but since an approval can complete the decision and merge at once, an
approver who wants less time comments first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from controller.model import AccessRequest, PullRequestFacts, StepResult
from controller.policy.commands import commands_on_head
from controller.policy.people import login_key
from controller.policy.text import duration, timestamp

_DURATION = re.compile(r"([1-9][0-9]{0,5})([mhdw])")
_UNITS = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


@dataclass(frozen=True, slots=True)
class GrantedDuration:
    duration: timedelta | None
    """The shortest of the longest requested duration and every counted approve-for; None
    when there is no access request."""
    notes: tuple[str, ...]
    """One sentence per approve-for that does not count or does not shorten, and per one
    that does."""


def parse_approve_for(argument: str) -> timedelta | None:
    """``2h`` -> 2 hours; None for anything else (the whole argument must be one duration)."""
    found = _DURATION.fullmatch(argument.strip())
    if found is None:
        return None
    return int(found.group(1)) * _UNITS[found.group(2)]


def granted_duration(
    requests: Sequence[AccessRequest], steps: Iterable[StepResult], facts: PullRequestFacts
) -> GrantedDuration:
    """How long the pull request's access is granted for (see the module docstring).

    A pull request may hold several requests; each grant lasts the shorter of its own
    duration and this one (``grant_duration``)."""
    if not requests:
        return GrantedDuration(None, ())
    requested = max(request.duration for request in requests)
    counted_approvers = {login_key(person) for step in steps for person in step.approved_by}
    given, ignored = commands_on_head(facts, "approve-for")
    notes = list(ignored)
    granted = requested
    for found in given:
        user = login_key(found.comment.user)
        at = timestamp(found.comment.created_at)
        asked = parse_approve_for(found.command.argument)
        prefix = f"The /sealgate approve-for comment by {user} at {at}"
        if found.comment.created_at > facts.now:
            # A merged pull request is judged again as of its merge: a comment after it
            # came too late to shape the grant that merge recorded.
            notes.append(
                f"{prefix} was ignored: it was made after the decision ({timestamp(facts.now)})."
            )
        elif asked is None:
            notes.append(
                f"{prefix} was ignored: it needs one duration such as 30m, 2h or 1d"
                " (`/sealgate approve-for 2h`)."
            )
        elif user not in counted_approvers:
            notes.append(
                f"{prefix} was ignored: only someone whose approving review counts under an"
                " applicable policy may shorten the grant; approve the pull request as well."
            )
        elif asked >= requested:
            notes.append(
                f"{prefix} ({duration(asked)}) does not shorten the {duration(requested)}"
                " asked for: approve-for can only shorten a grant."
            )
        else:
            granted = min(granted, asked)
            notes.append(f"{prefix} shortens the grant to {duration(asked)}.")
    if granted < requested:
        notes.append(
            f"Access is granted for {duration(granted)} (asked for: {duration(requested)}),"
            " the shortest approve-for of an approver."
        )
    return GrantedDuration(granted, tuple(notes))


def grant_duration(request: AccessRequest, granted: timedelta | None) -> timedelta:
    """The duration of the grant of ``request``, given ``Decision.granted_duration``."""
    return request.duration if granted is None else min(request.duration, granted)
