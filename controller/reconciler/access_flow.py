"""The access half of the pipeline: what an approved, merged access request becomes.

A change request ends in the store and the clusters (``delivery``); an access request ends
in a grant (``grants.GrantKeeper``). Everything before that (documents, policy, reports,
the merge guarded by the decided head) is the one pipeline both share; this module holds
only what differs after the merge:

- record the grants of the merged pull request and deliver the ``kubernetes`` ones;
- apply ``/sealgate revoke`` comments on every later pass over it;
- the ``sealgate/sync`` check that says what was granted, so the pull request counts as
  finished once its grants are recorded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from controller.github.records import MergedPull, SyncCheck
from controller.github.summary_access import duration_text
from controller.model import Grant, ReviewState
from controller.policy.text import timestamp
from controller.reconciler.evaluation import Evaluation
from controller.reconciler.grants import ClustersOf, GrantKeeper
from controller.reconciler.provenance import origin_of
from controller.reconciler.revoking import RevokePass, revoke_from_comments
from controller.store.types import WITHHELD_QUOTED


def approval_time(evaluation: Evaluation, fallback: datetime) -> datetime:
    """When the request was approved: the latest approving review of a person whose approval
    counted. The activation window and revocations count from it; a request merged with no
    counted review (``unmatched: allow``) was approved when it merged."""
    counted = {p.casefold() for step in evaluation.decision.steps for p in step.approved_by}
    times = [
        review.submitted_at
        for review in evaluation.facts.reviews
        if review.state is ReviewState.APPROVED and review.user.casefold() in counted
    ]
    return max(times, default=fallback)


def with_grants(evaluation: Evaluation, keeper: GrantKeeper | None) -> Evaluation:
    """``evaluation`` carrying the grants the store holds for its pull request."""
    if keeper is None or not evaluation.decision.access:
        return evaluation
    snapshot = evaluation.snapshot
    grants = tuple(keeper.of_pull(snapshot.repo, snapshot.facts.number))
    return dataclasses.replace(evaluation, grants=grants, grants_read_at=keeper.now())


def grant_merged(
    keeper: GrantKeeper,
    evaluation: Evaluation,
    merge: MergedPull,
    *,
    bot_login: str,
    clusters_of: ClustersOf,
) -> Evaluation:
    """Record (idempotently) and deliver the grants of a merged, approved access request;
    the evaluation with them."""
    snapshot, decision = evaluation.snapshot, evaluation.decision
    approvers = sorted({login for step in decision.steps for login in step.approved_by})
    # A reason the summary withheld (it quotes a value the store holds) must not reach the
    # grant file, its audit record or the store commit either.
    requests = [
        dataclasses.replace(request, reason=WITHHELD_QUOTED)
        if request.source in evaluation.reasons_withheld
        else request
        for request in evaluation.access_requests
    ]
    keeper.grant(
        requests,
        decision,
        repo=snapshot.repo,
        number=snapshot.facts.number,
        approved_at=approval_time(evaluation, merge.merged_at),
        approvers=approvers,
        tiers=decision.tiers,
        clusters=clusters_of,
        origin=origin_of(snapshot, decision, merge, bot=bot_login),
    )
    return with_grants(evaluation, keeper)


def revoke_commented(
    keeper: GrantKeeper, evaluation: Evaluation, *, bot_login: str, clusters_of: ClustersOf
) -> RevokePass:
    """Apply the pull request's ``/sealgate revoke`` comments to its grants."""
    if not evaluation.grants:
        return RevokePass()
    return revoke_from_comments(
        keeper,
        evaluation.grants,
        evaluation.facts.comments,
        evaluation.decision,
        bot_login=bot_login,
        clusters_of=clusters_of,
    )


def granted_check(grants: Sequence[Grant]) -> SyncCheck:
    """``sealgate/sync`` of an access request: what was granted, until when; never a value."""
    if not grants:
        return SyncCheck(
            "no grant recorded",
            "The request was merged but no grant could be recorded; see the summary.",
            "failure",
        )
    lines = [
        "| grant | requester | secrets | delivery | duration | use by |",
        "|---|---|---|---|---|---|",
    ]
    for grant in grants:
        secrets = ", ".join(
            f"`{item.secret}`" + (f" ({', '.join(item.keys)})" if item.keys else "")
            for item in grant.secrets
        )
        delivery = ", ".join(sorted(d.value for d in grant.deliver))
        lines.append(
            f"| `{grant.id}` | {grant.requester} | {secrets} | {delivery} |"
            f" {duration_text(grant.duration)} | {timestamp(grant.activate_by)} |"
        )
    title = "access granted" if len(grants) == 1 else f"{len(grants)} access grants recorded"
    return SyncCheck(title, "\n".join(lines), "success")
