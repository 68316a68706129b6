"""One grant as the store keeps it: plain canonical JSON, and the head record pinning it.

``.sealgate/grants/<env>/<grant id>.json`` holds the ``Grant`` (camelCase keys, sorted; times
in RFC 3339 UTC, durations in seconds). A grant holds names, people and times, never a value,
so it is kept in clear. ``.sealgate/grant-heads/<env>/<grant id>.json`` names the file's
digest, its MAC under the environment's data key (a grant opens values: whoever can write
the repository must not be able to mint one), and the audit record (file, sequence number,
hash) of the state change that wrote it, which carries the same digest. Grants live under
``.sealgate/`` because every top-level directory of the store is an environment (and
``grants`` is a valid environment name).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.crypto.envelope import file_mac, mac_key
from controller.errors import IntegrityError
from controller.model import AccessDelivery, Grant, KubernetesSubject, SecretAccess, Tier
from controller.store.layout import META

GRANTS_ROOT = f"{META}/grants"
GRANT_HEADS_ROOT = f"{META}/grant-heads"
GRANT_EVENTS = ("grant-approved", "grant-activated", "grant-used", "grant-revoked", "grant-ended")
"""Audit events that change a grant's file (each carries ``grantDigest``)."""
GRANT_ID = re.compile(r"[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?")
"""What ``grant_id_for`` makes: a Kubernetes label value, and a safe file name."""


def grant_path(env: str, grant_id: str) -> str:
    return f"{GRANTS_ROOT}/{env}/{grant_id}.json"


def grant_head_path(env: str, grant_id: str) -> str:
    return f"{GRANT_HEADS_ROOT}/{env}/{grant_id}.json"


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def seconds(span: timedelta) -> int | float:
    total = span.total_seconds()
    return int(total) if total.is_integer() else total


def to_document(grant: Grant) -> dict[str, Any]:
    subject = grant.kubernetes_subject
    return {
        "id": grant.id,
        "environment": grant.environment,
        "repository": grant.repo,
        "pullRequest": grant.pull_request,
        "requestId": grant.request_id,
        "requester": grant.requester,
        "secrets": secrets_document(grant),
        "deliver": sorted(d.value for d in grant.deliver),
        "approvers": list(grant.approvers),
        "approvedAt": _time(grant.approved_at),
        "duration": seconds(grant.duration),
        "activateBy": _time(grant.activate_by),
        "reason": grant.reason,
        "tier": grant.tier.value,
        "kubernetesSubject": None
        if subject is None
        else {"kind": subject.kind, "name": subject.name, "namespace": subject.namespace},
        "firstUsedAt": _time(grant.first_used_at),
        "uses": grant.uses,
        "revokedAt": _time(grant.revoked_at),
        "revokedBy": grant.revoked_by,
        "revokeReason": grant.revoke_reason,
        "endedRecorded": grant.ended_recorded,
    }


def secrets_document(grant: Grant) -> list[dict[str, Any]]:
    return [{"secret": s.secret, "keys": list(s.keys)} for s in grant.secrets]


def approval_fields(grant: Grant) -> dict[str, Any]:
    """What the ``grant-approved`` audit record says of the grant."""
    return {
        "repository": grant.repo,
        "pullRequest": grant.pull_request,
        "requestId": grant.request_id,
        "requester": grant.requester,
        "secrets": secrets_document(grant),
        "deliver": sorted(d.value for d in grant.deliver),
        "approvers": list(grant.approvers),
        "approvedAt": _time(grant.approved_at),
        "activateBy": _time(grant.activate_by),
        "duration": seconds(grant.duration),
        "tier": grant.tier.value,
        "reason": grant.reason,
    }


def encode(grant: Grant) -> bytes:
    return json.dumps(to_document(grant), sort_keys=True, indent=2).encode() + b"\n"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def decode(data: bytes, *, where: str) -> Grant:
    try:
        doc = json.loads(data)
        subject = doc["kubernetesSubject"]
        return Grant(
            id=str(doc["id"]),
            environment=str(doc["environment"]),
            repo=str(doc["repository"]),
            pull_request=int(doc["pullRequest"]),
            request_id=str(doc["requestId"]),
            requester=str(doc["requester"]),
            secrets=tuple(
                SecretAccess(str(s["secret"]), tuple(str(k) for k in s["keys"]))
                for s in doc["secrets"]
            ),
            deliver=frozenset(AccessDelivery(d) for d in doc["deliver"]),
            approvers=tuple(str(a) for a in doc["approvers"]),
            approved_at=_parse_time(doc["approvedAt"]),
            duration=timedelta(seconds=float(doc["duration"])),
            activate_by=_parse_time(doc["activateBy"]),
            reason=str(doc["reason"]),
            tier=Tier(doc["tier"]),
            kubernetes_subject=None
            if subject is None
            else KubernetesSubject(
                str(subject["kind"]), str(subject["name"]), str(subject["namespace"])
            ),
            first_used_at=_optional_time(doc["firstUsedAt"]),
            uses=int(doc["uses"]),
            revoked_at=_optional_time(doc["revokedAt"]),
            revoked_by=None if doc["revokedBy"] is None else str(doc["revokedBy"]),
            revoke_reason=None if doc["revokeReason"] is None else str(doc["revokeReason"]),
            ended_recorded=bool(doc["endedRecorded"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IntegrityError(
            f"{where}: grant record is malformed ({type(exc).__name__}): it was edited outside "
            "the controller; restore it from the store's history"
        ) from exc


def _parse_time(text: Any) -> datetime:
    moment = datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        raise ValueError("a time without a time zone")
    return moment


def _optional_time(text: Any) -> datetime | None:
    return None if text is None else _parse_time(text)


def grant_mac(data_key: bytes, env: str, grant_id: str, file_digest: str) -> str:
    """The environment's data key vouches for this file at this place: without the KEK
    nobody can mint or widen a grant, however they write the store's repository."""
    content = {"kind": "Grant", "environment": env, "id": grant_id, "digest": file_digest}
    return file_mac(mac_key(data_key), content)


@dataclass(frozen=True, slots=True)
class GrantHead:
    """Pins a grant file to the audit record of the state change that wrote it, and carries
    the file's MAC under the environment's data key."""

    digest: str
    audit_file: str
    seq: int
    hash: str
    data_key_id: str
    mac: str

    def encode(self) -> bytes:
        doc = {"digest": self.digest, "auditFile": self.audit_file, "seq": self.seq}
        keyed = {"dataKeyId": self.data_key_id, "mac": self.mac}
        return json.dumps({**doc, "hash": self.hash, **keyed}, sort_keys=True).encode()

    @staticmethod
    def decode(data: bytes, *, where: str) -> GrantHead:
        try:
            doc = json.loads(data)
            return GrantHead(
                str(doc["digest"]),
                str(doc["auditFile"]),
                int(doc["seq"]),
                str(doc["hash"]),
                str(doc["dataKeyId"]),
                str(doc["mac"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"{where}: grant head record is malformed") from exc
