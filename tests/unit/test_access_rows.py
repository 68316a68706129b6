"""Rows and documents of ``sealgate access ls``: one per grant, state read at ``now``, live
grants first; the JSON document valid against schemas/cli/access-ls.schema.json with camelCase
keys; a reason that looks like a credential is withheld."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import click
import pytest
from click.testing import CliRunner

from controller.cli.access_rows import GRANT_COLUMNS, grant_json, grant_rows
from controller.cli.output import Format, render
from controller.model import AccessDelivery, KubernetesSubject
from tests.unit.cli_support import check_schema
from tests.unit.test_cli_output import CAMEL, _keys
from tests.unit.test_github_summary_access import (
    ACTIVE,
    CANARY_TOKEN,
    ENDED,
    GRANT,
    LAPSED,
    NOW,
    REVOKED,
)

KUBE = dataclasses.replace(
    ACTIVE,
    id="production-pr-9-sa",
    request_id="sa",
    deliver=frozenset({AccessDelivery.OPEN, AccessDelivery.KUBERNETES}),
    kubernetes_subject=KubernetesSubject("ServiceAccount", "agent", "payments"),
)
ALL = [ENDED, REVOKED, GRANT, LAPSED, KUBE]


def test_rows_have_the_columns_and_live_grants_come_first() -> None:
    rows = grant_rows(ALL, NOW)
    # Live first, then by end: the operator's next question is what is open right now.
    assert [r["state"] for r in rows] == ["active", "approved", "ended", "lapsed", "revoked"]
    first = next(r for r in rows if r["state"] == "approved")
    assert first == {
        "id": "production-pr-7-incident-4711",
        "requester": "dev1",
        "secrets": "production/payments/db: all keys; production/payments/stripe: STRIPE_API_KEY",
        "state": "approved",
        "delivery": "open",
        "ends": "use by 2026-03-02 11:00:00Z",
        "uses": "0",
        "approvers": "alice, bob",
        "pr": "acme/requests#7",
    }
    kube = next(r for r in rows if r["id"] == KUBE.id)
    assert kube["delivery"] == "open, kubernetes: ServiceAccount agent (payments)"
    assert kube["ends"] == "2026-03-01 12:45:00Z"
    revoked = next(r for r in rows if r["state"] == "revoked")
    assert revoked["ends"] == "2026-03-01 11:55:00Z"


@pytest.mark.parametrize(("fmt", "wide"), [(Format.TABLE, False), (Format.WIDE, True)])
def test_the_table_and_its_wide_columns(fmt: Format, wide: bool) -> None:
    @click.command()
    def show() -> None:
        render(grant_rows(ALL, NOW), GRANT_COLUMNS, fmt)

    output = CliRunner().invoke(show).output
    header = output.splitlines()[0].split()
    assert header[:7] == ["ID", "REQUESTER", "SECRETS", "STATE", "DELIVERY", "ENDS", "USES"]
    assert ("APPROVERS" in header) is wide
    assert ("PR" in header) is wide


def test_the_json_document_matches_its_schema() -> None:
    document = [grant_json(g, NOW) for g in ALL]
    check_schema("access-ls.schema.json", document)
    assert all(CAMEL.match(key) for key in _keys(document)), _keys(document)
    by_id = {d["id"]: d for d in document}
    kube = by_id[KUBE.id]
    assert kube["kubernetesSubject"] == {
        "kind": "ServiceAccount",
        "name": "agent",
        "namespace": "payments",
    }
    assert kube["deliver"] == ["kubernetes", "open"]
    active = grant_json(ACTIVE, NOW)
    assert active["state"] == "active"
    assert active["firstUsedAt"] == "2026-03-01T11:45:00Z"
    assert active["endsAt"] == "2026-03-01T12:45:00Z"
    assert active["durationSeconds"] == 3600
    assert active["revokedAt"] is None
    revoked = grant_json(REVOKED, NOW)
    assert (revoked["revokedBy"], revoked["revokeReason"]) == ("secops", "incident closed")


def test_the_state_follows_the_clock() -> None:
    assert grant_json(GRANT, NOW)["state"] == "approved"
    assert grant_json(GRANT, NOW + timedelta(days=1))["state"] == "lapsed"
    assert grant_rows([GRANT], NOW + timedelta(days=1))[0]["ends"] == "2026-03-02 11:00:00Z"


def test_a_reason_that_looks_like_a_credential_is_withheld() -> None:
    leaky = dataclasses.replace(
        REVOKED, reason=f"old one was {CANARY_TOKEN}", revoke_reason=f"leaked {CANARY_TOKEN}"
    )
    document = grant_json(leaky, NOW)
    check_schema("access-ls.schema.json", [document])
    assert "C4N4RY" not in str(document)
    assert document["reason"].startswith("withheld")
    assert document["revokeReason"].startswith("withheld")
    assert "C4N4RY" not in str(grant_rows([leaky], NOW))
