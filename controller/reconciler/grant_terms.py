"""The grants an approved access decision gives: pure arithmetic of ids, durations, tiers
and deadlines, shared by the grant keeper and anything that previews a grant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from controller.errors import InputError, Problem
from controller.model import (
    AccessDelivery,
    AccessRequest,
    Decision,
    DecisionState,
    Grant,
    Tier,
    grant_id_for,
)


def new_grants(
    requests: Sequence[AccessRequest],
    decision: Decision,
    *,
    repo: str,
    number: int,
    approved_at: datetime,
    approvers: Sequence[str],
    tiers: Mapping[str, Tier] | None = None,
) -> list[Grant]:
    """The grants an approved access decision gives, one per request. Pure.

    The duration is the decision's ``granted_duration`` (approvers may shorten it with
    ``/sealgate approve-for``) but never longer than the request asked for, so one
    ``granted_duration`` shared by several requests cannot lengthen the shorter ones. The
    tier is the highest of the request's secrets in ``tiers`` (``<env>/<ns>/<name>``), else
    in the decision's ``tiers``; a secret in neither counts as ``sensitive``, the model's
    default for a grant. Refuses (``InputError``) a decision that is not an approved access
    decision, a request naming no secret, a ``kubernetes`` delivery with no subject to bind,
    and two requests that would share one grant id (the store keeps the first of a grant
    id, so the second would silently be granted nothing, or the first's terms).
    """
    if decision.state is not DecisionState.APPROVED or not decision.access:
        raise InputError(
            [
                Problem(
                    f"{repo}#{number}",
                    "decision",
                    "only an approved access request gives grants; this decision is"
                    f" {decision.state.value}{'' if decision.access else ' and not for access'}",
                )
            ]
        )
    problems = _problems(requests, number)
    if problems:
        raise InputError(problems)
    made: list[Grant] = []
    for request in requests:
        duration = request.duration
        if decision.granted_duration is not None:
            duration = min(duration, decision.granted_duration)
        made.append(
            Grant(
                id=grant_id_for(request.environment, number, request.request_id),
                environment=request.environment,
                repo=repo,
                pull_request=number,
                request_id=request.request_id,
                requester=request.requester,
                secrets=request.secrets,
                deliver=request.deliver,
                approvers=tuple(sorted({a.casefold() for a in approvers})),
                approved_at=approved_at,
                duration=duration,
                activate_by=approved_at + request.activate_within,
                reason=request.reason,
                tier=Tier.highest(*(_tier(p, tiers, decision) for p in request.paths)),
                kubernetes_subject=request.kubernetes_subject,
            )
        )
    return made


def _tier(path: str, tiers: Mapping[str, Tier] | None, decision: Decision) -> Tier:
    found = (tiers or {}).get(path) or decision.tiers.get(path)
    return found if found is not None else Tier.SENSITIVE


def _problems(requests: Sequence[AccessRequest], number: int) -> list[Problem]:
    problems: list[Problem] = []
    first: dict[str, AccessRequest] = {}
    for r in requests:
        where = r.source or r.name
        if not r.secrets:
            problems.append(Problem(where, "spec.secrets", "names no secret: list at least one"))
        if AccessDelivery.KUBERNETES in r.deliver and r.kubernetes_subject is None:
            problems.append(
                Problem(
                    where,
                    "spec.kubernetesSubject",
                    "delivery kubernetes needs a subject to bind: add spec.kubernetesSubject"
                    " (kind User, Group or ServiceAccount, and a name)",
                )
            )
        grant_id = grant_id_for(r.environment, number, r.request_id)
        earlier = first.setdefault(grant_id, r)
        if earlier is not r:
            problems.append(
                Problem(
                    where,
                    "metadata.name",
                    f"gives the same grant id as {earlier.source or earlier.name}"
                    f" ({grant_id}): put each access request in a file of its own name",
                )
            )
    return problems
