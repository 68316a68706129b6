"""The request-status API's view of an access pull request, and ``sealgate status`` over it:
the grant's state read when served, its id, requester, secrets and clock, valid against
the status schema; never the reason, never a value."""

from __future__ import annotations

import dataclasses
import json
import queue
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from controller.cli import main
from controller.model import Decision, Grant
from controller.reconciler import RequestStatus, Status
from controller.reconciler.status_access import AccessStatus, access_statuses
from controller.run import Metrics
from controller.server.app import ControllerApp, Readiness
from controller.server.http import HttpServer
from controller.server.webhook_app import WebhookApp
from tests.unit import test_cli_status
from tests.unit.cli_support import check_schema
from tests.unit.test_cli_output import CAMEL, _keys
from tests.unit.test_cli_status import REPO, Script, status_of
from tests.unit.test_github_summary_access import (
    ACTIVE,
    APPROVED,
    CANARY_TOKEN,
    ENDED,
    GRANT,
    LAPSED,
    NOW,
    PENDING,
    REQUEST,
    REVOKED,
)

readiness = test_cli_status.readiness


class ScriptAt(Script):
    """Serves each status as of ``NOW``, so a grant's state does not follow the wall clock."""

    def __call__(self, repo: str, number: int) -> dict[str, Any] | None:
        steps = self.steps.get(number) if repo == REPO else None
        return steps[0].to_json(now=NOW) if steps else None


@pytest.fixture
def served(readiness: Readiness) -> Iterator[tuple[str, Script]]:
    script = ScriptAt()
    metrics = Metrics()
    server = HttpServer(
        "127.0.0.1",
        0,
        ControllerApp(
            webhooks=WebhookApp("secret", queue.Queue()),
            readiness=readiness,
            metrics=metrics.render,
            metrics_content_type=metrics.content_type,
            status=script,
        ),
    )
    server.start()
    try:
        yield server.url, script
    finally:
        server.stop()


SECRET_REQUEST = dataclasses.replace(REQUEST, reason=f"need it: {CANARY_TOKEN}")


def access_status(
    decision: Decision, grant: Grant | None, status: Status = Status.PENDING
) -> RequestStatus:
    return RequestStatus.from_decision(
        REPO,
        7,
        status,
        decision,
        updated_at=NOW,
        access=access_statuses([SECRET_REQUEST], decision, [grant] if grant else []),
    )


@pytest.mark.parametrize(
    ("decision", "grant", "state"),
    [
        (PENDING, None, "pending"),
        (APPROVED, None, "pending"),
        (APPROVED, GRANT, "approved"),
        (APPROVED, ACTIVE, "active"),
        (APPROVED, LAPSED, "lapsed"),
        (APPROVED, ENDED, "ended"),
        (APPROVED, REVOKED, "revoked"),
    ],
)
def test_every_grant_state_is_served_valid_against_the_schema(
    decision: Decision, grant: Grant | None, state: str
) -> None:
    document = access_status(decision, grant).to_json(now=NOW)
    check_schema("status.schema.json", document)
    assert all(CAMEL.match(key) for key in _keys(document)), _keys(document)
    (item,) = document["access"]
    assert item["state"] == state
    assert item["requester"] == "dev1"
    assert item["secrets"] == [
        {"secret": "payments/db", "keys": []},
        {"secret": "payments/stripe", "keys": ["STRIPE_API_KEY"]},
    ]
    assert item["durationSeconds"] == 7200
    assert item["activateWithinSeconds"] == 86400
    assert "C4N4RY" not in json.dumps(document), "the reason is not part of the status"
    if grant is None:
        assert item["grantId"] is None
        assert item["endsAt"] is None
        assert item["uses"] == 0


def test_the_grant_fields() -> None:
    item = access_status(APPROVED, REVOKED).to_json(now=NOW)["access"][0]
    assert item["grantId"] == "production-pr-7-incident-4711"
    assert item["approvers"] == ["alice", "bob"]
    assert item["grantedDurationSeconds"] == 3600
    assert item["approvedAt"] == "2026-03-01T11:00:00+00:00"
    assert item["activateBy"] == "2026-03-02T11:00:00+00:00"
    assert item["firstUsedAt"] == "2026-03-01T11:45:00+00:00"
    assert item["endsAt"] == "2026-03-01T11:55:00+00:00", "the revocation ended it early"
    assert item["uses"] == 3
    assert (item["revokedAt"], item["revokedBy"]) == ("2026-03-01T11:55:00+00:00", "secops")


def test_the_state_is_read_when_served_not_when_the_pass_ran() -> None:
    status = access_status(APPROVED, GRANT)
    assert status.to_json(now=NOW)["access"][0]["state"] == "approved"
    later = NOW + timedelta(days=2)
    assert status.to_json(now=later)["access"][0]["state"] == "lapsed"


def test_with_grants_refreshes_uses_between_passes() -> None:
    status = access_status(APPROVED, GRANT)
    fresher = status.with_grants([ACTIVE])
    item = fresher.to_json(now=NOW)["access"][0]
    assert (item["state"], item["uses"]) == ("active", 3)
    unrelated = dataclasses.replace(ACTIVE, request_id="other", id="other")
    assert status.with_grants([unrelated]) == status
    change = status_of(4, Status.PENDING)
    assert change.with_grants([ACTIVE]) is change


def test_a_change_pull_request_has_no_access_items() -> None:
    document = status_of(4, Status.APPLIED).to_json(now=NOW)
    check_schema("status.schema.json", document)
    assert document["access"] == []


def test_granted_duration_is_never_longer_than_asked() -> None:
    longer = dataclasses.replace(APPROVED, granted_duration=timedelta(days=3))
    assert AccessStatus.of(REQUEST, longer).granted_duration == REQUEST.duration


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_sealgate_status_prints_the_grant(served: tuple[str, Script]) -> None:
    url, script = served
    script.steps[7] = [access_status(APPROVED, dataclasses.replace(ACTIVE, uses=2), Status.MERGED)]
    code, output = invoke("status", "--url", url, f"{REPO}#7")
    assert code == 0, output
    assert "REQUEST" in output
    assert "incident-4711" in output
    assert "production/payments/stripe: STRIPE_API_KEY" in output
    assert "production/payments/db: all keys" in output
    assert "active" in output
    assert "production-pr-7-incident-4711" not in output, "the grant id is a wide column"
    code, wide = invoke("status", "--url", url, f"{REPO}#7", "-o", "wide")
    assert code == 0, wide
    assert "production-pr-7-incident-4711" in wide
    assert "2026-03-01T11:45:00+00:00" in wide
    assert "C4N4RY" not in output + wide


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_sealgate_status_documents_carry_the_grant(served: tuple[str, Script], fmt: str) -> None:
    url, script = served
    script.steps[7] = [access_status(APPROVED, REVOKED, Status.MERGED)]
    code, output = invoke("status", "--url", url, f"{REPO}#7", "-o", fmt)
    assert code == 0, output
    document = json.loads(output) if fmt == "json" else yaml.safe_load(output)
    check_schema("status.schema.json", document)
    (item,) = document["access"]
    assert (item["state"], item["revokedBy"]) == ("revoked", "secops")


def test_the_wall_clock_reads_the_state_when_none_is_given() -> None:
    far = dataclasses.replace(
        GRANT,
        approved_at=datetime(2020, 1, 1, tzinfo=UTC),
        activate_by=datetime(2020, 1, 2, tzinfo=UTC),
    )
    assert access_status(APPROVED, far).to_json()["access"][0]["state"] == "lapsed"
