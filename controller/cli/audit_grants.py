"""How ``sealgate audit show`` selects and prints the records of access grants."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.store import AuditRecord
from controller.store.grantfile import GRANT_EVENTS
from controller.store.grants import REFUSED_EVENT

ACCESS_EVENTS = (*GRANT_EVENTS, REFUSED_EVENT)
ACCESS_ALIASES = {
    "granted": "grant-approved",
    "activated": "grant-activated",
    "used": "grant-used",
    "revoked": "grant-revoked",
    "ended": "grant-ended",
    "refused": "access-refused",
}


def grant_key(grant_id: object) -> str:
    """Where ``_secrets_by_change`` keeps a grant's secrets beside the change ids."""
    return f"grant:{grant_id}"


def granted_paths(fields: Mapping[str, Any]) -> list[str]:
    """``<env>/<namespace>/<name>`` of every secret a ``grant-approved`` record names."""
    secrets = fields.get("secrets")
    if not isinstance(secrets, list):
        return []
    env = fields.get("environment")
    return sorted(f"{env}/{s['secret']}" for s in secrets if isinstance(s, dict) and "secret" in s)


def access_subjects(record: AuditRecord, by_change: Mapping[str, Sequence[str]]) -> list[str]:
    """The secret paths an access record is about (a revocation: its grant's secrets)."""
    fields = record.fields
    if isinstance(fields.get("secret"), str):
        return [f"{fields.get('environment')}/{fields['secret']}"]
    if record.event == "grant-approved":
        return granted_paths(fields)
    return list(by_change.get(grant_key(fields.get("grantId")), ()))


def describe_access(event: str, fields: Mapping[str, Any]) -> tuple[str, str, str]:
    """(subject, people, reason) of one access record."""
    grant = str(fields.get("grantId") or "-")
    actor = f"by {fields.get('actor')}"
    if event == "grant-approved":
        subject = f"{grant}: {', '.join(granted_paths(fields))} for {fields.get('duration')}s"
        approvers = ", ".join(str(a) for a in fields.get("approvers") or ())
        people = f"requested {fields.get('requester')}; approved {approvers or '-'}"
        return subject, people, str(fields.get("reason", ""))
    if event == "grant-used":
        keys = ", ".join(str(k) for k in fields.get("keys") or ()) or "all keys"
        subject = f"{grant}: {fields.get('secret')} ({keys}) via {fields.get('via')}"
        return f"{subject}, use {fields.get('uses')}", actor, ""
    if event == "grant-activated":
        return f"{grant}: active until {fields.get('endsAt')}", actor, ""
    if event == "grant-revoked":
        return f"{grant}: revoked", actor, str(fields.get("reason", ""))
    if event == "grant-ended":
        return f"{grant}: {fields.get('state')}", "", ""
    subject = f"{fields.get('environment')}/{fields.get('secret')}"
    if fields.get("grantId"):
        subject += f" (grant {grant})"
    return subject, actor, str(fields.get("reason", ""))
