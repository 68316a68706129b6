"""``/sealgate revoke`` comments on an access pull request, applied to its grants.

A revocation ends every grant the pull request gave (one request, one reason to stop: a
partial revocation would be a new request). Each grant is judged with its own requester and
approval time (``controller.policy.revocations``); a grant already revoked or whose end is
recorded is left alone, so running this on every pass is free once done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controller.documents.reason_check import credential_in
from controller.model import Comment, Decision, Grant
from controller.policy.revocations import eligible_revokers, revocations
from controller.reconciler.grants import ClustersOf, GrantKeeper


@dataclass(frozen=True, slots=True)
class RevokePass:
    revoked: tuple[Grant, ...] = ()
    """Grants revoked by this pass (their end is recorded unless a cluster was down)."""
    notes: tuple[str, ...] = ()
    """Why ``/sealgate revoke`` comments were ignored or refused, once each, for replies."""


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
        if not outcome.revocations or grant.revoked_at is not None or grant.ended_recorded:
            continue
        first = outcome.revocations[0]
        revoked.append(
            keeper.revoke(grant.id, actor=first.user, reason=first.reason, clusters_of=clusters_of)
        )
    return RevokePass(tuple(revoked), tuple(notes))
