"""``RequestStatus``: where one pull request stands, for the request-status API.

Only names, counts, logins, versions and outcomes: never a value, sealed or plain.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.kube.results import SyncReport
from controller.model import Decision, Grant, StepResult
from controller.reconciler.status_access import AccessStatus


class Status(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    INVALID = "invalid"
    MERGED = "merged"
    APPLIED = "applied"
    SYNCED = "synced"
    GRANTED = "granted"
    """An access request's grants are recorded (``access`` says how each stands)."""
    FAILED = "failed"
    CLOSED = "closed"
    """Closed without merging: sealgate ignores it."""


@dataclass(frozen=True, slots=True)
class StepStatus:
    policy: str
    step: str
    required: int
    approved_by: tuple[str, ...]
    eligible: tuple[str, ...]
    """Who can still approve this step."""
    satisfied: bool

    @classmethod
    def of(cls, step: StepResult) -> StepStatus:
        return cls(
            policy=step.policy,
            step=step.step,
            required=step.required,
            approved_by=step.approved_by,
            eligible=step.eligible_remaining,
            satisfied=step.satisfied,
        )


@dataclass(frozen=True, slots=True)
class SyncRow:
    """One Secret or one workload in one cluster."""

    cluster: str
    kind: str
    """``Secret`` or the workload kind."""
    namespace: str
    name: str
    outcome: str
    message: str = ""


def sync_rows(report: SyncReport) -> tuple[SyncRow, ...]:
    secrets = (
        SyncRow(s.cluster, "Secret", s.namespace, s.name, s.outcome.value, s.message)
        for s in report.secrets
    )
    workloads = (
        SyncRow(w.cluster, w.kind, w.namespace, w.name, w.outcome.value, w.message)
        for w in report.workloads
    )
    return (*secrets, *workloads)


@dataclass(frozen=True, slots=True)
class RequestStatus:
    repo: str
    number: int
    status: Status
    decision: str
    """The decision's state (``pending``...), or empty when none was made."""
    head_sha: str
    updated_at: datetime
    steps: tuple[StepStatus, ...] = ()
    eligible_approvers: tuple[str, ...] = ()
    expires_at: datetime | None = None
    change_ids: tuple[str, ...] = ()
    versions: tuple[tuple[str, int], ...] = ()
    """``(<env>/<namespace>/<name>, store version)`` this request produced."""
    sync: tuple[SyncRow, ...] = ()
    messages: tuple[str, ...] = ()
    access: tuple[AccessStatus, ...] = ()
    """For an access pull request: each request and its grant (``access_statuses``)."""

    @classmethod
    def from_decision(
        cls,
        repo: str,
        number: int,
        status: Status,
        decision: Decision,
        *,
        updated_at: datetime,
        head_sha: str = "",
        change_ids: tuple[str, ...] = (),
        versions: tuple[tuple[str, int], ...] = (),
        sync: tuple[SyncRow, ...] = (),
        messages: tuple[str, ...] | None = None,
        access: tuple[AccessStatus, ...] = (),
    ) -> RequestStatus:
        eligible = sorted(
            {login for s in decision.steps if not s.satisfied for login in s.eligible_remaining}
        )
        return cls(
            repo=repo,
            number=number,
            status=status,
            decision=decision.state.value,
            head_sha=head_sha or decision.head_sha,
            updated_at=updated_at,
            steps=tuple(StepStatus.of(s) for s in decision.steps),
            eligible_approvers=tuple(eligible),
            expires_at=decision.expires_at,
            change_ids=change_ids,
            versions=versions,
            sync=sync,
            messages=decision.reasons if messages is None else messages,
            access=access,
        )

    def with_grants(self, grants: Sequence[Grant]) -> RequestStatus:
        """The same status with its requests' grants as ``grants`` (all the store's, say)
        has them now: uses and activation happen through the open endpoint, between
        reconciler passes."""
        if not self.access:
            return self
        # A request id names a file, and a later pull request may reuse it: only this pull
        # request's grants are its own.
        repo = self.repo.casefold()
        own = [g for g in grants if g.repo.casefold() == repo and g.pull_request == self.number]
        access = tuple(
            dataclasses.replace(a, grant=next((g for g in own if a.matches(g)), a.grant))
            for a in self.access
        )
        return dataclasses.replace(self, access=access)

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        """A JSON-ready dict: what ``GET /v1/requests/<owner>/<repo>/<number>`` serves.
        ``now`` reads the grants' states (default: the wall clock, as the API answers)."""
        at = now or datetime.now(UTC)
        return {
            "repository": self.repo,
            "number": self.number,
            "status": self.status.value,
            "decision": self.decision or None,
            "headSha": self.head_sha,
            "updatedAt": self.updated_at.isoformat(),
            "expiresAt": self.expires_at.isoformat() if self.expires_at else None,
            "approvals": [
                {
                    "policy": s.policy,
                    "step": s.step,
                    "required": s.required,
                    "current": len(s.approved_by),
                    "approvedBy": list(s.approved_by),
                    "eligible": list(s.eligible),
                    "satisfied": s.satisfied,
                }
                for s in self.steps
            ],
            "eligibleApprovers": list(self.eligible_approvers),
            "changeIds": list(self.change_ids),
            "versions": dict(self.versions),
            "sync": [
                {
                    "cluster": r.cluster,
                    "kind": r.kind,
                    "namespace": r.namespace,
                    "name": r.name,
                    "outcome": r.outcome,
                    "message": r.message,
                }
                for r in self.sync
            ],
            "messages": list(self.messages),
            "access": [a.to_json(at) for a in self.access],
        }
