"""``AccessStatus``: where one access request of a pull request stands, for the status API.

Who asks, for which secrets and keys, and the grant's clock: names, logins, times and counts,
never a value and never the reason (the summary shows it, withheld where needed; a status
poller has no use for it). The grant's state is read when the document is served, not when
the pass ran: an approved grant lapses with no event to mark it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from controller.model import (
    AccessDelivery,
    AccessRequest,
    Decision,
    Grant,
    KubernetesSubject,
    SecretAccess,
)

PENDING = "pending"
"""No grant recorded (yet): the request waits for approval, the merge, or was refused."""
STATES = (PENDING, "approved", "active", "lapsed", "ended", "revoked")


@dataclass(frozen=True, slots=True)
class AccessStatus:
    request_id: str
    environment: str
    requester: str
    secrets: tuple[SecretAccess, ...]
    deliver: frozenset[AccessDelivery]
    duration: timedelta
    """Requested."""
    activate_within: timedelta
    granted_duration: timedelta | None = None
    """What approvers granted (``/sealgate approve-for``), when the decision says."""
    kubernetes_subject: KubernetesSubject | None = None
    grant: Grant | None = None

    @classmethod
    def of(
        cls, request: AccessRequest, decision: Decision, grant: Grant | None = None
    ) -> AccessStatus:
        granted = decision.granted_duration
        return cls(
            request_id=request.request_id,
            environment=request.environment,
            requester=request.requester,
            secrets=request.secrets,
            deliver=request.deliver,
            duration=request.duration,
            activate_within=request.activate_within,
            granted_duration=None if granted is None else min(granted, request.duration),
            kubernetes_subject=request.kubernetes_subject,
            grant=grant,
        )

    def matches(self, grant: Grant) -> bool:
        return (grant.environment, grant.request_id) == (self.environment, self.request_id)

    def state(self, now: datetime) -> str:
        return PENDING if self.grant is None else self.grant.state(now).value

    def to_json(self, now: datetime) -> dict[str, Any]:
        grant = self.grant
        duration = grant.duration if grant is not None else self.granted_duration
        subject = self.kubernetes_subject
        return {
            "requestId": self.request_id,
            "environment": self.environment,
            "requester": self.requester,
            "secrets": [{"secret": s.secret, "keys": list(s.keys)} for s in self.secrets],
            "deliver": sorted(d.value for d in self.deliver),
            "kubernetesSubject": None
            if subject is None
            else {"kind": subject.kind, "name": subject.name, "namespace": subject.namespace},
            "durationSeconds": _seconds(self.duration),
            "activateWithinSeconds": _seconds(self.activate_within),
            "grantedDurationSeconds": None if duration is None else _seconds(duration),
            "state": self.state(now),
            "grantId": grant.id if grant else None,
            "approvers": list(grant.approvers) if grant else [],
            "approvedAt": _iso(grant.approved_at if grant else None),
            "activateBy": _iso(grant.activate_by if grant else None),
            "firstUsedAt": _iso(grant.first_used_at if grant else None),
            "endsAt": _iso(grant.ends_at if grant else None),
            "uses": grant.uses if grant else 0,
            "revokedAt": _iso(grant.revoked_at if grant else None),
            "revokedBy": grant.revoked_by if grant else None,
        }


def access_statuses(
    requests: Sequence[AccessRequest], decision: Decision, grants: Sequence[Grant] = ()
) -> tuple[AccessStatus, ...]:
    """One status per request, sorted, each with its grant when one is recorded."""
    out = []
    for request in sorted(requests, key=lambda r: (r.environment, r.request_id)):
        status = AccessStatus.of(request, decision)
        grant = next((g for g in grants if status.matches(g)), None)
        out.append(AccessStatus.of(request, decision, grant))
    return tuple(out)


def _seconds(span: timedelta) -> int:
    return int(span.total_seconds())


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
