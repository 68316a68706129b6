"""The grant file: canonical JSON that reads back as the same grant, and malformed files
refused naming the file, never echoing its content."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from controller.errors import IntegrityError
from controller.model import AccessDelivery, Grant, KubernetesSubject, SecretAccess, Tier
from controller.store.grantfile import GrantHead, decode, digest, encode

WHERE = ".sealgate/grants/production/production-pr-1-x.json"
GRANT = Grant(
    id="production-pr-1-x",
    environment="production",
    repo="acme/requests",
    pull_request=1,
    request_id="x",
    requester="system:serviceaccount:agents:triage",
    secrets=(SecretAccess("payments/db", ("password", "user")), SecretAccess("web/session")),
    deliver=frozenset({AccessDelivery.KUBERNETES}),
    approvers=("erin", "frank"),
    approved_at=datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
    duration=timedelta(minutes=90, milliseconds=500),
    activate_by=datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
    reason="incident",
    tier=Tier.CRITICAL,
    kubernetes_subject=KubernetesSubject("ServiceAccount", "triage", "agents"),
    first_used_at=datetime(2026, 11, 21, 10, 30, tzinfo=UTC),
    uses=2,
    revoked_at=datetime(2026, 11, 21, 10, 45, tzinfo=UTC),
    revoked_by="ops",
    revoke_reason="done",
    ended_recorded=True,
)


def test_a_grant_reads_back_equal_from_sorted_json() -> None:
    data = encode(GRANT)
    assert decode(data, where=WHERE) == GRANT
    document = json.loads(data)
    assert list(document) == sorted(document)
    assert document["duration"] == 5400.5
    assert document["approvedAt"] == "2026-11-21T10:00:00+00:00"
    assert encode(decode(data, where=WHERE)) == data
    assert digest(data) == digest(encode(GRANT))


def test_a_whole_number_of_seconds_is_written_as_an_integer() -> None:
    minimal = replace(GRANT, duration=timedelta(hours=1))
    assert json.loads(encode(minimal))["duration"] == 3600


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.pop("uses"),
        lambda d: d.update(approvedAt="2026-11-21T10:00:00"),
        lambda d: d.update(deliver=["carrier-pigeon"]),
        lambda d: d.update(secrets="payments/db"),
        lambda d: d.update(tier="secret-value-canary"),
    ],
)
def test_a_malformed_file_is_refused_naming_it(edit: object) -> None:
    document = json.loads(encode(GRANT))
    edit(document)  # type: ignore[operator]
    with pytest.raises(IntegrityError, match="grant record is malformed") as caught:
        decode(json.dumps(document).encode(), where=WHERE)
    assert WHERE in str(caught.value)
    assert "canary" not in str(caught.value)


def test_not_json_is_refused() -> None:
    with pytest.raises(IntegrityError, match=WHERE):
        decode(b"\xff not json", where=WHERE)


def test_a_head_record_reads_back() -> None:
    head = GrantHead(
        "sha256:" + "a" * 64, ".sealgate/audit/2026-11/x.jsonl", 3, "b" * 64, "dk-1", "c" * 64
    )
    assert GrantHead.decode(head.encode(), where="h") == head
    with pytest.raises(IntegrityError, match="h: grant head record is malformed"):
        GrantHead.decode(b'{"digest": 1}', where="h")
