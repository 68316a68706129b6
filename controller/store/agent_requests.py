"""Agents' access requests in the store: the durable intent, written before anything acts.

An agent asks over HTTP; the controller then opens a pull request for it. The record is
committed first (with its ``agent-request`` audit record), so a crash between the two is
finished by the next pass or a retry with the same idempotency key, and the policy engine
can tell the controller's own file from one someone else wrote: the record pins the file's
path, its bytes' digest and the requester. Each later step (the pull request opened, the
request denied or expired) is one more commit with its audit record.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from controller.errors import InputError, IntegrityError, Problem
from controller.store.agent_records import REQUEST_ID, AgentRequestRecord
from controller.store.audit_log import AuditLog
from controller.store.gitobjects import GitObjects
from controller.store.grant_checks import safe_reason
from controller.store.layout import META, commit_message

_log = logging.getLogger(__name__)

AGENT_REQUESTS_ROOT = f"{META}/agent-requests"
CREATED_EVENT = "agent-request"
OPENED_EVENT = "agent-request-opened"
RESOLVED_EVENT = "agent-request-resolved"
REFUSED_EVENT = "agent-request-refused"
RESOLUTIONS = frozenset({"denied", "expired"})


def record_path(request_id: str) -> str:
    return f"{AGENT_REQUESTS_ROOT}/{request_id}.json"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _encode(record: AgentRequestRecord) -> bytes:
    body = {
        "id": record.id,
        "environment": record.environment,
        "requester": record.requester,
        "path": record.path,
        "content": base64.b64encode(record.content).decode(),
        "digest": record.digest,
        "createdAt": _iso(record.created_at),
        "idempotency": record.idempotency,
        "tier": record.tier,
        "pullRequest": record.pull_number,
        "pullUrl": record.pull_url,
        "state": record.state,
        "resolution": record.resolution,
        "resolvedAt": _iso(record.resolved_at),
    }
    return json.dumps(body, sort_keys=True).encode()


def _decode(data: bytes, where: str) -> AgentRequestRecord:
    try:
        body: dict[str, Any] = json.loads(data)
        content = base64.b64decode(body["content"], validate=True)
        record = AgentRequestRecord(
            id=str(body["id"]),
            environment=str(body["environment"]),
            requester=str(body["requester"]),
            path=str(body["path"]),
            content=content,
            created_at=datetime.fromisoformat(body["createdAt"]),
            idempotency=body.get("idempotency"),
            tier=str(body.get("tier") or ""),
            pull_number=body.get("pullRequest"),
            pull_url=body.get("pullUrl"),
            state=body.get("state"),
            resolution=body.get("resolution"),
            resolved_at=(
                datetime.fromisoformat(body["resolvedAt"]) if body.get("resolvedAt") else None
            ),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"{where}: not an agent request record the controller wrote") from exc
    if body.get("digest") != record.digest or not REQUEST_ID.fullmatch(record.id):
        raise IntegrityError(f"{where}: its content does not match its digest or its id")
    return record


def _problem(request_id: str, message: str) -> InputError:
    return InputError([Problem(f"agent request {request_id}", "id", message)])


class AgentRequests:
    """The agent-request half of ``controller.store.Store`` (which delegates here)."""

    def __init__(
        self,
        git: GitObjects,
        audit_log: AuditLog,
        clock: Callable[[], datetime],
        push: Callable[[], None],
    ) -> None:
        self._git = git
        self._audit = audit_log
        self._clock = clock
        self._push = push

    def record(self, record: AgentRequestRecord, *, actor: str) -> AgentRequestRecord:
        """Write the intent; an id already recorded returns what was recorded."""
        if not REQUEST_ID.fullmatch(record.id):
            raise _problem(record.id, "an agent request id is agent-<12 base32 characters>")
        with self._git.writer_lock():
            head, tree = self._head()
            found = self._read(tree, record.id)
            if found is not None:
                return found
            event = {
                "id": record.id,
                "environment": record.environment,
                "requester": record.requester,
                "path": record.path,
                "digest": record.digest,
                "idempotency": record.idempotency,
                "actor": actor,
            }
            subject = f"Agent request {record.id} in {record.environment} by {record.requester}"
            self._commit(
                head=head,
                tree=tree,
                record=record,
                kind=CREATED_EVENT,
                event=event,
                subject=subject,
                actor=actor,
            )
        self._push()
        return record

    def opened(self, request_id: str, number: int, url: str, *, actor: str) -> AgentRequestRecord:
        """Its pull request exists (idempotent)."""
        with self._git.writer_lock():
            head, tree = self._head()
            record = self._existing(tree, request_id)
            if record.pull_number == number:
                return record
            record = dataclasses.replace(record, pull_number=number, pull_url=url)
            event = {"id": request_id, "pullRequest": number, "actor": actor}
            subject = f"Agent request {request_id}: pull request #{number}"
            self._commit(
                head=head,
                tree=tree,
                record=record,
                kind=OPENED_EVENT,
                event=event,
                subject=subject,
                actor=actor,
            )
        self._push()
        return record

    def resolve(
        self, request_id: str, state: str, reason: str, *, at: datetime, actor: str
    ) -> AgentRequestRecord:
        """Denied or expired, once: the first resolution stays."""
        if state not in RESOLUTIONS:
            raise ValueError(f"an agent request is resolved as one of {sorted(RESOLUTIONS)}")
        text, withheld = safe_reason(reason)
        with self._git.writer_lock():
            head, tree = self._head()
            record = self._existing(tree, request_id)
            if record.state is not None:
                return record
            record = dataclasses.replace(record, state=state, resolution=text, resolved_at=at)
            event = {
                "id": request_id,
                "state": state,
                "reason": text,
                "reasonWithheld": withheld,
                "actor": actor,
            }
            subject = f"Agent request {request_id} {state}"
            self._commit(
                head=head,
                tree=tree,
                record=record,
                kind=RESOLVED_EVENT,
                event=event,
                subject=subject,
                actor=actor,
            )
        self._push()
        return record

    def refuse(
        self, *, at: datetime, actor: str, environment: str, code: str, message: str
    ) -> None:
        """Audit a refused call (``agent-request-refused``): who (as far as known), the
        stable code and the message it was told. Never the token or the body."""
        text, withheld = safe_reason(message)
        event = {
            "actor": actor,
            "environment": environment,
            "code": code,
            "reason": text,
            "reasonWithheld": withheld,
            "at": _iso(at),
        }
        with self._git.writer_lock():
            head, tree = self._head()
            subject = f"Agent request refused ({code}): {actor}"
            self._write(
                head=head,
                tree=tree,
                contents={},
                kind=REFUSED_EVENT,
                event=event,
                subject=subject,
                trailers=[("Actor", actor)],
            )
        self._push()

    def get(self, request_id: str) -> AgentRequestRecord | None:
        if not REQUEST_ID.fullmatch(request_id):
            return None
        return self._read(self._head()[1], request_id)

    def all(self) -> list[AgentRequestRecord]:
        tree = self._head()[1]
        entry = self._git.lookup(tree, AGENT_REQUESTS_ROOT)
        if entry is None:
            return []
        found = []
        for name in sorted(self._git.tree_entries(entry[0])):
            request_id = name.removesuffix(".json")
            if name.endswith(".json") and REQUEST_ID.fullmatch(request_id):
                record = self._read(tree, request_id)
                if record is not None:
                    found.append(record)
        return sorted(found, key=lambda r: (r.created_at, r.id))

    def _head(self) -> tuple[str | None, bytes | None]:
        head = self._git.head()
        return head, (self._git.commit_tree(head) if head else None)

    def _read(self, tree: bytes | None, request_id: str) -> AgentRequestRecord | None:
        path = record_path(request_id)
        data = self._git.read_path(tree, path)
        return None if data is None else _decode(data, path)

    def _existing(self, tree: bytes | None, request_id: str) -> AgentRequestRecord:
        record = self._read(tree, request_id)
        if record is None:
            raise _problem(request_id, "no such agent request in the store")
        return record

    def _commit(
        self,
        *,
        head: str | None,
        tree: bytes | None,
        record: AgentRequestRecord,
        kind: str,
        event: dict[str, Any],
        subject: str,
        actor: str,
    ) -> None:
        trailers = [("Actor", actor), ("Agent-Request", record.id)]
        self._write(
            head=head,
            tree=tree,
            contents={record_path(record.id): _encode(record)},
            kind=kind,
            event=event,
            subject=subject,
            trailers=trailers,
        )
        _log.info("agent request %s: %s", record.id, kind)

    def _write(
        self,
        *,
        head: str | None,
        tree: bytes | None,
        contents: dict[str, bytes],
        kind: str,
        event: dict[str, Any],
        subject: str,
        trailers: list[tuple[str, str]],
    ) -> None:
        now = self._clock()
        audit_path, audit_content, audit_head = self._audit.append(tree, [(kind, event)], now)
        contents = {**contents, audit_path: audit_content}
        paths = sorted(contents)
        shas = self._git.write_blobs([contents[p] for p in paths])
        new_tree = self._git.update_tree(tree, dict(zip(paths, shas, strict=True)))
        message = commit_message(subject, [*trailers, ("Audit-Head", audit_head)])
        commit = self._git.write_commit(new_tree, message, head, now)
        self._git.advance(commit, head)
