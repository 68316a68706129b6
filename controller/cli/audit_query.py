"""What ``sealgate audit show`` selects: records by secret, person, time and event.

Old records (before requester, approvals and URLs were recorded) are matched on the fields
they have: ``approvedBy``, ``mergedBy``, ``bypassedBy``, ``actor``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from controller.cli.audit_grants import (
    ACCESS_ALIASES,
    ACCESS_EVENTS,
    access_subjects,
    grant_key,
    granted_paths,
)
from controller.store import AuditRecord

EVENTS = ("apply", "bypass", "rollback", "key", "rules-trusted", *ACCESS_EVENTS)
ALIASES = {
    **ACCESS_ALIASES,
    "applied": "apply",
    "bypassed": "bypass",
    "rolled-back": "rollback",
    "rollbacks": "rollback",
    "keys": "key",
    "trusted": "rules-trusted",
    "rules": "rules-trusted",
}
_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PEOPLE_FIELDS = ("requester", "mergedBy", "mergeRequestedBy", "bypassedBy", "by", "actor")


def parse_moment(text: str, *, now: datetime, option: str) -> datetime:
    """RFC 3339 (``2026-12-01T09:00:00Z``), a date (midnight UTC), or a span back from now
    (``90m``, ``24h``, ``7d``, ``2w``)."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither RFC 3339 (2026-12-01T09:00:00Z) nor a span like 24h or 7d",
            param_hint=option,
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_events(values: Iterable[str]) -> frozenset[str]:
    """Comma-separated or repeated names, aliases (``applied``) allowed."""
    names: set[str] = set()
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if name:
                names.add(ALIASES.get(name, name))
    return frozenset(names)


def secret_prefix(text: str) -> str:
    """``<env>``, ``<env>/<namespace>`` or ``<env>/<namespace>/<name>``, without a trailing
    slash: a record matches its exact path or anything under it, segment by segment."""
    prefix = text.strip().strip("/")
    if not prefix:
        raise click.BadParameter(
            "name an environment, namespace or secret, e.g. production/payments/db",
            param_hint="--secret",
        )
    return prefix


@dataclass(frozen=True)
class Query:
    secrets: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    events: frozenset[str] = frozenset()
    grants: tuple[str, ...] = ()

    def select(self, records: Iterable[AuditRecord]) -> list[AuditRecord]:
        everything = list(records)
        unknown = self.events - set(EVENTS) - {r.event for r in everything}
        if unknown:
            raise click.BadParameter(
                f"no such event {', '.join(sorted(unknown))}; events: {', '.join(EVENTS)}",
                param_hint="--event",
            )
        by_change = _secrets_by_change(everything)
        return [r for r in everything if self._matches(r, by_change)]

    def _matches(self, record: AuditRecord, by_change: Mapping[str, Sequence[str]]) -> bool:
        if self.events and record.event not in self.events:
            return False
        if self.grants and record.fields.get("grantId") not in self.grants:
            return False
        if self.since is not None and record.time < self.since:
            return False
        if self.until is not None and record.time > self.until:
            return False
        if self.secrets:
            subjects = subjects_of(record, by_change)
            if not any(_under(s, p) for s in subjects for p in self.secrets):
                return False
        if self.people:
            involved = {p.casefold() for p in people_of(record.fields)}
            if not any(p.casefold() in involved for p in self.people):
                return False
        return True


def _under(subject: str, prefix: str) -> bool:
    return subject == prefix or subject.startswith(prefix + "/")


def _secrets_by_change(records: Iterable[AuditRecord]) -> dict[str, list[str]]:
    """Change id (or ``grant:<id>``) -> the secrets its apply wrote (or its grant names): a
    bypass record names only the change, a revocation only the grant."""
    found: dict[str, list[str]] = {}
    for record in records:
        secrets = record.fields.get("secrets")
        if record.event == "apply" and isinstance(secrets, dict):
            found[str(record.fields.get("changeId"))] = sorted(str(p) for p in secrets)
        elif record.event == "grant-approved":
            found[grant_key(record.fields.get("grantId"))] = granted_paths(record.fields)
    return found


def subjects_of(record: AuditRecord, by_change: Mapping[str, Sequence[str]]) -> list[str]:
    """The secret paths (or, for key events, the environment) a record is about."""
    fields = record.fields
    if record.event == "apply" and isinstance(fields.get("secrets"), dict):
        return sorted(str(p) for p in fields["secrets"])
    if record.event == "bypass":
        return list(by_change.get(str(fields.get("changeId")), ()))
    if record.event == "rollback":
        return [str(fields.get("path", ""))]
    if record.event == "key":
        return [str(fields.get("environment", ""))]
    if record.event in ACCESS_EVENTS:
        return access_subjects(record, by_change)
    return []


def people_of(fields: Mapping[str, Any]) -> list[str]:
    """Everyone a record names: requester, approvers, merger, whoever asked for the merge,
    bypasser, actor."""
    people = [str(fields[k]) for k in _PEOPLE_FIELDS if isinstance(fields.get(k), str)]
    for listed in ("approvedBy", "approvers"):
        approved = fields.get(listed)
        if isinstance(approved, list):
            people.extend(str(p) for p in approved)
    approvals = fields.get("approvals")
    if isinstance(approvals, list):
        people.extend(str(a["login"]) for a in approvals if isinstance(a, dict) and "login" in a)
    return [p for p in dict.fromkeys(people) if p]
