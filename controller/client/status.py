"""The status document of an access request (``GET /v1/access-requests/<id>``), typed.

Parsing is strict about what the client relies on (``id``, ``status``) and lenient about the
rest, so a server that adds fields, or leaves an optional one out, does not break an agent
that was installed earlier.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controller.client.errors import ProtocolError
from controller.model import SecretAccess


class RequestState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    ACTIVE = "active"
    DENIED = "denied"
    EXPIRED = "expired"
    LAPSED = "lapsed"
    ENDED = "ended"
    REVOKED = "revoked"


GRANTED = frozenset({RequestState.APPROVED, RequestState.ACTIVE})
"""The values may be opened."""
CLOSED = frozenset(set(RequestState) - GRANTED - {RequestState.PENDING})
"""Over for good: waiting longer changes nothing."""


@dataclass(frozen=True, slots=True)
class PullRequestRef:
    number: int
    url: str


@dataclass(frozen=True, slots=True)
class GrantInfo:
    id: str
    ends_at: datetime | None
    activate_by: datetime | None
    first_used_at: datetime | None
    uses: int


@dataclass(frozen=True, slots=True)
class AccessRequestStatus:
    """Where one access request stands. Holds names, counts and times, never a value."""

    id: str
    state: RequestState
    requester: str
    environment: str
    secrets: tuple[SecretAccess, ...]
    tier: str | None
    required_approvals: int
    current_approvals: int
    approvers: tuple[str, ...]
    can_approve: tuple[str, ...]
    reason: str
    denial_reason: str | None
    expires_at: datetime | None
    created_at: datetime | None
    resolved_at: datetime | None
    pull_request: PullRequestRef | None
    auto_approved: bool
    grant: GrantInfo | None
    etag: str | None = None

    @property
    def is_pending(self) -> bool:
        return self.state is RequestState.PENDING

    @property
    def is_granted(self) -> bool:
        """Approved or active: ``open`` hands out the values."""
        return self.state in GRANTED

    @property
    def is_closed(self) -> bool:
        return self.state in CLOSED

    @property
    def pull_request_url(self) -> str | None:
        return self.pull_request.url if self.pull_request is not None else None

    def to_json(self) -> dict[str, Any]:
        """The document again, camelCase as the API writes it (for ``-o json``)."""
        grant = self.grant
        return {
            "id": self.id,
            "status": self.state.value,
            "requester": self.requester,
            "environment": self.environment,
            "secrets": [{"secret": s.secret, "keys": list(s.keys)} for s in self.secrets],
            "tier": self.tier,
            "requiredApprovals": self.required_approvals,
            "currentApprovals": self.current_approvals,
            "approvers": list(self.approvers),
            "canApprove": list(self.can_approve),
            "reason": self.reason,
            "denialReason": self.denial_reason,
            "expiresAt": _time_text(self.expires_at),
            "createdAt": _time_text(self.created_at),
            "resolvedAt": _time_text(self.resolved_at),
            "pullRequest": (
                {"number": self.pull_request.number, "url": self.pull_request.url}
                if self.pull_request is not None
                else None
            ),
            "autoApproved": self.auto_approved,
            "grant": (
                {
                    "id": grant.id,
                    "endsAt": _time_text(grant.ends_at),
                    "activateBy": _time_text(grant.activate_by),
                    "firstUsedAt": _time_text(grant.first_used_at),
                    "uses": grant.uses,
                }
                if grant is not None
                else None
            ),
        }


def parse_status(document: Any, *, etag: str | None = None) -> AccessRequestStatus:
    """The typed status; ``ProtocolError`` when ``id`` or ``status`` is missing or unknown."""
    if not isinstance(document, Mapping):
        raise ProtocolError("the status answer is not a JSON object; is this a sealgate?")
    request_id = document.get("id")
    if not isinstance(request_id, str) or not request_id:
        raise ProtocolError("the status answer has no id; is this a sealgate?")
    try:
        state = RequestState(str(document.get("status")))
    except ValueError as exc:
        raise ProtocolError(
            f"access request {request_id}: unknown status {str(document.get('status'))[:40]!r};"
            " a newer server? upgrade the client"
        ) from exc
    return AccessRequestStatus(
        id=request_id,
        state=state,
        requester=_str(document.get("requester")),
        environment=_str(document.get("environment")),
        secrets=_secrets(document.get("secrets")),
        tier=_optional_str(document.get("tier")),
        required_approvals=_int(document.get("requiredApprovals")),
        current_approvals=_int(document.get("currentApprovals")),
        approvers=_strings(document.get("approvers")),
        can_approve=_strings(document.get("canApprove")),
        reason=_str(document.get("reason")),
        denial_reason=_optional_str(document.get("denialReason")),
        expires_at=_time(document.get("expiresAt")),
        created_at=_time(document.get("createdAt")),
        resolved_at=_time(document.get("resolvedAt")),
        pull_request=_pull(document.get("pullRequest")),
        auto_approved=document.get("autoApproved") is True,
        grant=_grant(document.get("grant")),
        etag=etag,
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _time_text(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _secrets(value: Any) -> tuple[SecretAccess, ...]:
    if not isinstance(value, list):
        return ()
    found = []
    for item in value:
        if isinstance(item, Mapping) and isinstance(item.get("secret"), str):
            found.append(SecretAccess(item["secret"], _strings(item.get("keys"))))
    return tuple(found)


def _pull(value: Any) -> PullRequestRef | None:
    if not isinstance(value, Mapping):
        return None
    return PullRequestRef(number=_int(value.get("number")), url=_str(value.get("url")))


def _grant(value: Any) -> GrantInfo | None:
    if not isinstance(value, Mapping) or not isinstance(value.get("id"), str):
        return None
    return GrantInfo(
        id=value["id"],
        ends_at=_time(value.get("endsAt")),
        activate_by=_time(value.get("activateBy")),
        first_used_at=_time(value.get("firstUsedAt")),
        uses=_int(value.get("uses")),
    )
