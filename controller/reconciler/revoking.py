"""``/sealgate revoke`` comments on an access pull request, applied to its grants.

A revocation ends every grant the pull request gave (one request, one reason to stop: a
partial revocation would be a new request). Each grant is judged with its own requester and
approval time (``controller.policy.revocations``); a grant already revoked or whose end is
recorded is left alone, so running this on every pass is free once done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from controller.documents.reason_check import credential_in
from controller.model import Comment, Decision, Grant
from controller.policy.people import login_key
from controller.policy.revocations import Revocation, eligible_revokers, revocations
from controller.policy.text import timestamp
from controller.reconciler.grants import ClustersOf, GrantKeeper


@dataclass(frozen=True, slots=True)
class RevokePass:
    revoked: tuple[Grant, ...] = ()
    """Grants revoked by this pass (their end is recorded unless a cluster was down)."""
    notes: tuple[str, ...] = ()
    """Why ``/sealgate revoke`` comments were ignored or refused, once each, for replies."""
    replies: Mapping[int, tuple[str, str]] = field(default_factory=dict)
    """Comment id -> (``done`` or ``not-allowed``, the reply's text), for every
    ``/sealgate revoke`` comment: what was done with it."""


def revoke_from_comments(
    keeper: GrantKeeper,
    grants: Sequence[Grant],
    comments: Sequence[Comment],
    decision: Decision,
    *,
    bot_login: str,
    clusters_of: ClustersOf,
) -> RevokePass:
    """Revoke ``grants`` (one pull request's, see ``GrantKeeper.of_pull``) for the first
    counting ``/sealgate revoke`` in ``comments``; ``decision`` is the one that granted them
    (its steps say who may revoke)."""
    eligible = eligible_revokers(decision)
    revoked: list[Grant] = []
    notes: dict[str, None] = {}
    replies: dict[int, tuple[str, str]] = {}
    for grant in grants:
        outcome = revocations(
            comments,
            requester=grant.requester,
            eligible=eligible,
            bot_login=bot_login,
            after=grant.approved_at,
            credential_in=credential_in,
        )
        notes.update(dict.fromkeys(outcome.ignored))
        for comment_id, why in outcome.ignored_by_comment:
            replies.setdefault(comment_id, ("not-allowed", f"**Not revoked:** {why}."))
        if not outcome.revocations:
            continue
        first = outcome.revocations[0]
        now = grant
        if grant.revoked_at is None and not grant.ended_recorded:
            now = keeper.revoke(
                grant.id, actor=first.user, reason=first.reason, clusters_of=clusters_of
            )
            revoked.append(now)
        for counted in outcome.revocations:
            replies[counted.comment_id] = ("done", _revoked_text(now, counted.comment_id, first))
    return RevokePass(tuple(revoked), tuple(notes), replies)


def _revoked_text(grant: Grant, comment_id: int, first: Revocation) -> str:
    if grant.revoked_at is not None and grant.revoked_by is not None:
        if comment_id == first.comment_id and login_key(grant.revoked_by) == first.user:
            return (
                f"**Revoked:** grant `{grant.id}` of {grant.requester} ended at"
                f" {timestamp(grant.revoked_at)}; sealgate removes its access and the audit"
                " log keeps who revoked it and why."
            )
        return (
            f"**Already revoked:** grant `{grant.id}` was revoked by {grant.revoked_by} at"
            f" {timestamp(grant.revoked_at)}."
        )
    return f"**Nothing to revoke:** grant `{grant.id}` has already ended."
