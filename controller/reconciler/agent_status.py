"""The status document of one agent request (``GET /v1/access-requests/<id>``).

Built from three sources, each the authority on its part: the store's agent-request record
(who asked, what, when; denied or expired), the reconciler's latest pass over its pull
request (approvals and expiry) and the store's grant (approved, active, lapsed, ended,
revoked: read when the document is served, since a grant lapses with no event to mark it).
Names, logins, counts and times only: never a value, never a token.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from controller.documents import parse_located
from controller.errors import DocumentError
from controller.model import AccessRequest, Grant, grant_id_for
from controller.reconciler.status import RequestStatus, Status
from controller.store.agent_records import AgentRequestRecord


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _request(record: AgentRequestRecord) -> AccessRequest | None:
    try:
        (located,) = parse_located(record.path, record.content, ("AccessRequest",))
    except (DocumentError, ValueError):
        return None
    document = located.document
    return document if isinstance(document, AccessRequest) else None


def grant_id_of(record: AgentRequestRecord) -> str | None:
    if record.pull_number is None:
        return None
    return grant_id_for(record.environment, record.pull_number, record.id)


def status_document(
    record: AgentRequestRecord,
    passed: RequestStatus | None,
    grant: Grant | None,
    now: datetime,
) -> dict[str, Any]:
    request = _request(record)
    steps = passed.steps if passed is not None else ()
    state = "pending"
    denial: str | None = None
    resolved = record.resolved_at
    if grant is not None:
        state = grant.state(now).value
        resolved = grant.approved_at
    elif record.state is not None:
        state = record.state
        denial = record.resolution if record.state == "denied" else None
    elif passed is not None and passed.status is Status.INVALID:
        # Invalid after it was asked (the rules changed, or someone wrote to its branch):
        # nothing will grant it as it stands.
        state = "denied"
        denial = "invalid: " + (passed.messages[0] if passed.messages else "see the pull request")
    return {
        "id": record.id,
        "status": state,
        "requester": record.requester,
        "environment": record.environment,
        "secrets": [
            {"secret": item.secret, "keys": list(item.keys)}
            for item in (request.secrets if request is not None else ())
        ],
        "tier": record.tier or None,
        "requiredApprovals": sum(s.required for s in steps),
        "currentApprovals": sum(min(len(s.approved_by), s.required) for s in steps),
        "approvers": sorted({login for s in steps for login in s.approved_by}),
        "canApprove": list(passed.eligible_approvers) if passed is not None else [],
        "reason": request.reason if request is not None else "",
        "denialReason": denial,
        "expiresAt": _time(passed.expires_at if passed is not None else None),
        "createdAt": _time(record.created_at),
        "resolvedAt": _time(resolved) if state != "pending" else None,
        "pullRequest": (
            {"number": record.pull_number, "url": record.pull_url}
            if record.pull_number is not None
            else None
        ),
        "autoApproved": grant is not None and not grant.approvers,
        "grant": (
            {
                "id": grant.id,
                "endsAt": _time(grant.ends_at),
                "activateBy": _time(grant.activate_by),
                "firstUsedAt": _time(grant.first_used_at),
                "uses": grant.uses,
            }
            if grant is not None
            else None
        ),
    }


def etag_of(document: dict[str, Any]) -> str:
    """A strong ETag: the hash of the document as served."""
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    return f'"{digest[:32]}"'
