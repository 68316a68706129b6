"""``/sealgate revoke <reason>``: ending an approved access grant early, from its pull request.

A revocation counts like every command (see ``controller.policy.commands``): on a plain
line (not quoted, not code), in a comment never edited, and not by sealgate itself. It is
not tied to a head: a grant rests on the merged request, not on a commit. It also must:

- come from the requester (handing back access no longer needed) or from someone eligible
  to approve the request under the policies that judged it;
- be made after the grant was approved (an earlier one was about something else: the
  request before it was granted);
- give a reason, which the audit log keeps, and which must hold no credential (checked
  like ``spec.reason``): a reason quoting one is refused, never stored nor repeated.

Who is eligible comes from the decision that granted access (:func:`eligible_revokers`:
every step's ``approved_by`` and ``eligible_remaining``), not from a ``Directory`` built
again later. The grant rests on that decision: its steps name exactly the people the
granting policies accepted, with teams resolved and contributors excluded as of approval.
A ``Directory`` would need the policies and team memberships fetched again, and the
policies at the tip may since have changed (a later governance change), so it would judge
the grant by rules it was not granted under. The cost is that someone who left a team
after the approval can still revoke: revoking only takes access away, so that errs safe.

Ignored comments are explained in one sentence each (for the reply), never quoting the
reason.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from controller.model import Comment, Decision
from controller.policy.commands import plain_lines
from controller.policy.people import login_key
from controller.policy.text import timestamp

_PREFIX = "/sealgate"
_WORD = "revoke"
MAX_REASON_LENGTH = 500
"""The audit log keeps every reason whole; a comment line can be 64 KiB."""


@dataclass(frozen=True, slots=True)
class Revocation:
    user: str
    """Who revoked (lower case)."""
    reason: str
    comment_id: int
    at: datetime
    """When the comment was made."""


@dataclass(frozen=True, slots=True)
class RevocationOutcome:
    revocations: tuple[Revocation, ...]
    """Every revocation that counts, oldest first (revoking is idempotent: the first ends
    the grant, the others change nothing)."""
    ignored: tuple[str, ...]
    """One sentence per ``/sealgate revoke`` comment that does not count, saying why."""
    ignored_by_comment: tuple[tuple[int, str], ...] = ()
    """(comment id, why) of each comment that does not count: what its reply says."""


def parse_revoke(body: str) -> str | None:
    """The reason of the first plain line starting ``/sealgate revoke`` ("" when none is
    given), or None when no plain line gives the command."""
    for line in plain_lines(body):
        words = line.strip().split(maxsplit=2)
        if len(words) >= 2 and words[0] == _PREFIX and words[1] == _WORD:
            return words[2].strip() if len(words) == 3 else ""
    return None


def eligible_revokers(decision: Decision) -> frozenset[str]:
    """Everyone the decision's policies accepted as an approver (see the module's notes)."""
    people: set[str] = set()
    for step in decision.steps:
        people.update(login_key(p) for p in (*step.approved_by, *step.eligible_remaining))
    return frozenset(people)


def revocations(
    comments: Iterable[Comment],
    *,
    requester: str,
    eligible: Collection[str],
    bot_login: str,
    after: datetime,
    credential_in: Callable[[str], str | None],
) -> RevocationOutcome:
    """Which ``/sealgate revoke`` comments count against a grant approved at ``after``.

    ``credential_in`` is ``controller.documents.reason_check.credential_in`` (the kind of
    credential a text seems to hold, or None), passed in because the policy core and the
    documents core do not import each other."""
    me = login_key(bot_login)
    allowed = {login_key(p) for p in eligible} | {login_key(requester)}
    counted: list[Revocation] = []
    ignored: list[str] = []
    by_comment: list[tuple[int, str]] = []
    for comment in sorted(comments, key=lambda c: (c.created_at, c.id, c.user, c.body)):
        user = login_key(comment.user)
        if user == me:
            continue  # sealgate's own replies quote commands; they are never one
        reason = parse_revoke(comment.body)
        if reason is None:
            continue
        why = _void(
            comment,
            user=user,
            reason=reason,
            allowed=allowed,
            requester=login_key(requester),
            after=after,
            credential_in=credential_in,
        )
        if why is None:
            counted.append(Revocation(user, reason, comment.id, comment.created_at))
        else:
            ignored.append(
                f"The /sealgate revoke comment by {user} at {timestamp(comment.created_at)}"
                f" was {why}."
            )
            by_comment.append((comment.id, why))
    return RevocationOutcome(tuple(counted), tuple(ignored), tuple(by_comment))


def _void(
    comment: Comment,
    *,
    user: str,
    reason: str,
    allowed: Collection[str],
    requester: str,
    after: datetime,
    credential_in: Callable[[str], str | None],
) -> str | None:
    if comment.edited:
        return (
            "ignored: the comment was edited, and anyone with write access can edit another"
            " person's comment; post the command in a new comment"
        )
    # Same-second comments are refused too: GitHub's times have one-second precision.
    if comment.created_at <= after:
        return (
            f"ignored: it was made before the grant was approved at {timestamp(after)};"
            " comment again to revoke it"
        )
    if user not in allowed:
        return (
            f"ignored: only the requester ({requester}) or someone eligible to approve the"
            " request may revoke its access"
        )
    if not reason:
        return "ignored: a reason is required: write /sealgate revoke <why access ends now>"
    if len(reason) > MAX_REASON_LENGTH:
        return (
            f"ignored: the reason is longer than {MAX_REASON_LENGTH} characters; give a"
            " shorter one (a ticket or an incident link says the rest)"
        )
    kind = credential_in(reason)
    if kind is not None:
        return (
            f"refused: its reason looks like it holds {kind}, which is not shown here; the"
            " reason of a revocation is kept in the audit log, so it must not hold a"
            " credential: delete that comment, rotate the credential (it was posted on"
            " GitHub) and revoke again in a new comment"
        )
    return None
