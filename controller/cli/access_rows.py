"""Rows and documents for grants: ``sealgate access ls`` and the access part of ``sealgate
status``. Pure: grants and the clock in, rows out.

A grant's state is read at ``now`` (an approved grant lapses with no event to mark it), so
the same grant file lists as ``approved`` one hour and ``lapsed`` the next. Names, logins,
times and counts only; a reason is printed only when it does not look like a credential.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from controller.cli.output import Column, Format, format_table, timestamp
from controller.documents.reason_check import credential_in
from controller.model import AccessDelivery, Grant, GrantState, KubernetesSubject, SecretAccess

WITHHELD = "withheld: it looks like it holds a credential"

GRANT_COLUMNS = (
    Column("id", "id"),
    Column("requester", "requester"),
    Column("secrets", "secrets"),
    Column("state", "state"),
    Column("delivery", "delivery"),
    Column("ends", "ends"),
    Column("uses", "uses"),
    Column("approvers", "approvers", wide=True),
    Column("pr", "pr", wide=True),
)
"""For ``controller.cli.output.render(grant_rows(...), GRANT_COLUMNS, fmt)``."""


def secrets_text(environment: str, secrets: Sequence[SecretAccess]) -> str:
    """``production/payments/stripe: API_KEY, WEBHOOK; production/payments/db: all keys``."""
    parts = []
    for item in sorted(secrets, key=lambda s: s.secret):
        keys = ", ".join(item.keys) if item.keys else "all keys"
        parts.append(f"{environment}/{item.secret}: {keys}")
    return "; ".join(parts)


def delivery_text(deliver: frozenset[AccessDelivery], subject: KubernetesSubject | None) -> str:
    parts = []
    if AccessDelivery.OPEN in deliver:
        parts.append("open")
    if AccessDelivery.KUBERNETES in deliver:
        who = f"{subject.kind} {subject.name}" if subject is not None else "no subject"
        if subject is not None and subject.namespace:
            who += f" ({subject.namespace})"
        parts.append(f"kubernetes: {who}")
    return ", ".join(parts)


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%SZ}"


def ends_text(grant: Grant, now: datetime) -> str:
    """When access stops; for a grant never used, the deadline of its first use."""
    if grant.state(now) is GrantState.APPROVED:
        return f"use by {_when(grant.activate_by)}"
    return _when(grant.ends_at)


def grant_rows(grants: Sequence[Grant], now: datetime) -> list[dict[str, str]]:
    """One row per grant, live ones first, then by end: what an operator looks at first."""
    ordered = sorted(
        grants, key=lambda g: (not g.state(now).live, g.ends_at, g.id, g.state(now).value)
    )
    return [
        {
            "id": grant.id,
            "requester": grant.requester,
            "secrets": secrets_text(grant.environment, grant.secrets),
            "state": grant.state(now).value,
            "delivery": delivery_text(grant.deliver, grant.kubernetes_subject),
            "ends": ends_text(grant, now),
            "uses": str(grant.uses),
            "approvers": ", ".join(grant.approvers),
            "pr": f"{grant.repo}#{grant.pull_request}",
        }
        for grant in ordered
    ]


def _text(reason: str | None) -> str | None:
    if reason is None:
        return None
    return WITHHELD if credential_in(reason) else reason


def grant_json(grant: Grant, now: datetime) -> dict[str, Any]:
    """One grant as ``sealgate access ls -o json|yaml`` prints it
    (``schemas/cli/access-ls.schema.json``): camelCase, RFC 3339 times in UTC."""
    subject = grant.kubernetes_subject
    return {
        "id": grant.id,
        "state": grant.state(now).value,
        "environment": grant.environment,
        "repository": grant.repo,
        "pullRequest": grant.pull_request,
        "requestId": grant.request_id,
        "requester": grant.requester,
        "secrets": [
            {"secret": item.secret, "keys": list(item.keys)}
            for item in sorted(grant.secrets, key=lambda s: s.secret)
        ],
        "deliver": sorted(d.value for d in grant.deliver),
        "kubernetesSubject": None
        if subject is None
        else {"kind": subject.kind, "name": subject.name, "namespace": subject.namespace},
        "tier": grant.tier.value,
        "reason": _text(grant.reason),
        "approvers": list(grant.approvers),
        "approvedAt": timestamp(grant.approved_at),
        "durationSeconds": int(grant.duration.total_seconds()),
        "activateBy": timestamp(grant.activate_by),
        "firstUsedAt": timestamp(grant.first_used_at),
        "endsAt": timestamp(grant.ends_at),
        "uses": grant.uses,
        "revokedAt": timestamp(grant.revoked_at),
        "revokedBy": grant.revoked_by,
        "revokeReason": _text(grant.revoke_reason),
        "endRecorded": grant.ended_recorded,
    }


def access_table(items: Sequence[Mapping[str, Any]], output: Format, width: int | None) -> str:
    """The access part of ``sealgate status`` (the API's ``access`` items) as a table; wide
    adds the grant's id and its times."""
    headers = ["request", "requester", "secrets", "state", "ends", "uses"]
    if output is Format.WIDE:
        headers += ["grant", "approved", "activate by", "first used", "revoked"]
    rows = []
    for item in items:
        secrets = [
            SecretAccess(str(s.get("secret")), tuple(s.get("keys") or ()))
            for s in item.get("secrets") or ()
        ]
        row = [
            str(item.get("requestId") or "-"),
            str(item.get("requester") or "-"),
            secrets_text(str(item.get("environment")), secrets),
            str(item.get("state") or "-"),
            str(item.get("endsAt") or "-"),
            str(item.get("uses") or 0),
        ]
        if output is Format.WIDE:
            revoked = item.get("revokedAt")
            by = item.get("revokedBy")
            row += [
                str(item.get("grantId") or "-"),
                str(item.get("approvedAt") or "-"),
                str(item.get("activateBy") or "-"),
                str(item.get("firstUsedAt") or "-"),
                f"{revoked} by {by}" if revoked else "-",
            ]
        rows.append(row)
    return format_table(headers, rows, width=width)
