"""What a notification says: a typed event, built by the reconciler, rendered per channel.

A notification carries metadata only (environment, secret paths, keys, fingerprints, the
decision, people and links). There is deliberately no field that could hold a secret value.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class NotificationKind(enum.StrEnum):
    WAITING = "waiting"
    """A request needs approval: ``approvers_needed`` names who can give it."""
    APPROVED = "approved"
    REJECTED = "rejected"
    BYPASSED = "bypassed"
    """Merged under break-glass without the required approvals: every approver is told."""
    APPLIED = "applied"
    FAILED = "failed"
    EXPIRED = "expired"
    REMINDER = "reminder"
    """Still waiting for approval: an escalation reminder."""


@dataclass(frozen=True, slots=True)
class Notification:
    kind: NotificationKind
    repository: str
    """``owner/name`` of the requests repository."""
    pull_request: int
    url: str
    """The pull request's page, the one link a person needs to act."""
    title: str
    environment: str
    secrets: tuple[str, ...]
    """Secret paths (``<env>/<namespace>/<name>``) the request touches."""
    requester: str
    approvers_needed: tuple[str, ...] = ()
    """Who can (still) approve; for ``bypassed``, every approver of the applicable policies."""
    actor: str | None = None
    """Who caused this event: the approver, the rejecter, the bypasser, the merger."""
    reason: str | None = None
    """Why: the bypass reason, the failure's cause, the rejection's reason."""
    details: tuple[str, ...] = ()
    """Extra lines for a human: per-key operations and fingerprints, per-cluster outcomes."""

    @property
    def reference(self) -> str:
        """``owner/name#42``: how people name a pull request in chat."""
        return f"{self.repository}#{self.pull_request}"
