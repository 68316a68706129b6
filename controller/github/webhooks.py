"""GitHub webhooks: signature check, delivery de-duplication, and small typed events.

Nothing here evaluates anything: an event only says *which* pull request to look at again.
The snapshot taken afterwards is the truth, so a payload is trusted for routing only and
its details (review state, comment text) are never used to decide.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.github.cache import LruCache

SIGNATURE_HEADER = "X-Hub-Signature-256"
LEGACY_SIGNATURE_HEADER = "X-Hub-Signature"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
SIGNATURE_PREFIX = "sha256="
COMMAND_PREFIX = "/sealgate"

# Actions that can change a decision. Label changes are left out on purpose: sealgate's own
# labels would otherwise wake it again after every report.
RELEVANT_ACTIONS: Mapping[str, frozenset[str]] = {
    "pull_request": frozenset(
        {"opened", "reopened", "synchronize", "edited", "closed", "ready_for_review"}
    ),
    "pull_request_review": frozenset({"submitted", "edited", "dismissed"}),
    "issue_comment": frozenset({"created", "edited", "deleted"}),
    "check_run": frozenset({"rerequested", "requested_action"}),
}
SUBSCRIBED_EVENTS = frozenset(RELEVANT_ACTIONS) | {"ping"}


class MalformedPayload(ValueError):
    """The body is not the JSON shape GitHub sends for the named event."""


def signature_for(secret: bytes, body: bytes) -> str:
    return SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """Constant-time check of ``X-Hub-Signature-256`` over the raw body."""
    if not secret:
        raise ValueError("a webhook secret is required")
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    return hmac.compare_digest(signature_for(secret, body).encode(), header.strip().encode())


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    kind: str
    """The ``X-GitHub-Event`` name, e.g. ``pull_request_review``."""
    action: str
    repo: str
    """``owner/name``."""
    number: int
    """The pull request; 0 for a ``ping``."""
    delivery_id: str
    sender: str = ""
    head_sha: str = ""
    received_at: float = field(default=0.0, compare=False)
    """``time.monotonic()`` when the receiver accepted it: the start of decision latency."""


def _get(payload: Mapping[str, Any], *path: str) -> Any:
    node: Any = payload
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            raise MalformedPayload(f"payload lacks {'.'.join(path)}")
        node = node[key]
    return node


def _int(payload: Mapping[str, Any], *path: str) -> int:
    value = _get(payload, *path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedPayload(f"{'.'.join(path)} is not a number")
    return value


def _str(payload: Mapping[str, Any], *path: str) -> str:
    value = _get(payload, *path)
    if not isinstance(value, str):
        raise MalformedPayload(f"{'.'.join(path)} is not a string")
    return value


def _mentions_command(body: object) -> bool:
    if not isinstance(body, str):
        return False
    return any(line.strip().startswith(COMMAND_PREFIX) for line in body.splitlines())


def parse_event(
    kind: str, delivery_id: str, payload: Any, *, received_at: float | None = None
) -> WebhookEvent | None:
    """The event to enqueue, or None when it cannot change any decision.

    Raises :class:`MalformedPayload` when a relevant event lacks the fields GitHub always
    sends.
    """
    if not isinstance(payload, Mapping):
        raise MalformedPayload("payload is not a JSON object")
    at = time.monotonic() if received_at is None else received_at
    if kind == "ping":
        return None
    relevant = RELEVANT_ACTIONS.get(kind)
    if relevant is None:
        return None
    action = _str(payload, "action")
    if action not in relevant:
        return None
    repo = _str(payload, "repository", "full_name")
    sender = payload.get("sender")
    sender_login = str(sender.get("login", "")) if isinstance(sender, Mapping) else ""
    head_sha = ""
    if kind in ("pull_request", "pull_request_review"):
        number = _int(payload, "pull_request", "number")
        head_sha = _str(payload, "pull_request", "head", "sha")
    elif kind == "issue_comment":
        issue = _get(payload, "issue")
        if not isinstance(issue, Mapping) or "pull_request" not in issue:
            return None  # a comment on a plain issue
        if not _mentions_command(_get(payload, "comment", "body")):
            return None  # only commands in comments change a decision
        number = _int(payload, "issue", "number")
    else:  # check_run
        head_sha = _str(payload, "check_run", "head_sha")
        pulls = _get(payload, "check_run", "pull_requests")
        if not isinstance(pulls, list) or not pulls or not isinstance(pulls[0], Mapping):
            return None  # a run on a commit no pull request in this repository points at
        number = _int(pulls[0], "number")
    return WebhookEvent(
        kind=kind,
        action=action,
        repo=repo,
        number=number,
        delivery_id=delivery_id,
        sender=sender_login,
        head_sha=head_sha,
        received_at=at,
    )


class DeliveryLog:
    """Delivery ids already accepted, bounded (GitHub redelivers by the same id)."""

    def __init__(self, maxsize: int = 10_000) -> None:
        self._seen: LruCache[str, None] = LruCache(maxsize)

    def first_time(self, delivery_id: str) -> bool:
        """Record ``delivery_id``; True only the first time it is seen."""
        return self._seen.add_if_absent(delivery_id, None)

    def forget(self, delivery_id: str) -> None:
        """Undo a record, so a delivery that could not be queued is accepted when retried."""
        self._seen.discard(delivery_id)
