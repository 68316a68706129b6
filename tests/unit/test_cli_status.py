"""``sealgate status`` and ``sealgate wait`` against the controller's real HTTP server."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from controller.github import WebhookEvent
from controller.model import Decision, DecisionState, StepResult
from controller.reconciler import RequestStatus, Status
from controller.run import Metrics
from controller.server.app import ControllerApp, Readiness
from controller.server.http import HttpServer
from controller.server.webhook_app import WebhookApp

REPO = "acme/requests"


def status_of(number: int, status: Status, approved_by: tuple[str, ...] = ()) -> RequestStatus:
    state = {
        Status.PENDING: DecisionState.PENDING,
        Status.REJECTED: DecisionState.REJECTED,
    }.get(status, DecisionState.APPROVED)
    decision = Decision(
        state=state,
        reasons=("needs 2 approvals",)
        if state is DecisionState.PENDING
        else ("changes requested",),
        steps=(
            StepResult(
                policy="production",
                step="approvals",
                required=2,
                approved_by=approved_by,
                eligible_remaining=("alice", "bob"),
                satisfied=len(approved_by) >= 2,
            ),
        ),
        head_sha="c" * 40,
    )
    return RequestStatus.from_decision(
        REPO, number, status, decision, updated_at=datetime(2030, 1, 1, tzinfo=UTC)
    )


class Script:
    """Answers for each pull request, advancing one step per request."""

    def __init__(self) -> None:
        self.steps: dict[int, list[RequestStatus]] = {}

    def __call__(self, repo: str, number: int) -> dict[str, Any] | None:
        steps = self.steps.get(number) if repo == REPO else None
        if not steps:
            return None
        current = steps.pop(0) if len(steps) > 1 else steps[0]
        return current.to_json()


@pytest.fixture
def readiness() -> Readiness:
    return Readiness()


@pytest.fixture
def served(readiness: Readiness) -> Iterator[tuple[str, Script]]:
    script = Script()
    metrics = Metrics()
    events: queue.Queue[WebhookEvent] = queue.Queue()
    server = HttpServer(
        "127.0.0.1",
        0,
        ControllerApp(
            webhooks=WebhookApp("secret", events),
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


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_status_table(served: tuple[str, Script]) -> None:
    url, script = served
    script.steps[4] = [status_of(4, Status.PENDING, ("carol",))]
    code, output = invoke("status", "--url", url, f"{REPO}#4")
    assert code == 0, output
    assert "acme/requests#4" in output
    assert "pending" in output
    assert "1/2" in output
    assert "alice, bob" in output
    assert "needs 2 approvals" in output


def test_status_json_with_repo_and_pr(served: tuple[str, Script]) -> None:
    url, script = served
    script.steps[4] = [status_of(4, Status.APPLIED, ("alice", "bob"))]
    code, output = invoke("status", "--url", url, "--repo", REPO, "--pr", "4", "--output", "json")
    assert code == 0, output
    body = json.loads(output)
    assert body["status"] == "applied"
    assert body["approvals"][0]["approvedBy"] == ["alice", "bob"]


def test_status_unknown_and_bad_target(served: tuple[str, Script]) -> None:
    url, _script = served
    code, output = invoke("status", "--url", url, f"{REPO}#5")
    assert code == 1
    assert "knows no pull request acme/requests#5" in output
    code, output = invoke("status", "--url", url, "acme-requests-5")
    assert code == 2
    assert "expected owner/repo#number" in output
    assert "acme-requests-5" not in output


def test_wait_until_applied_prints_progress(served: tuple[str, Script]) -> None:
    url, script = served
    script.steps[6] = [
        status_of(6, Status.PENDING),
        status_of(6, Status.PENDING, ("alice",)),
        status_of(6, Status.APPROVED, ("alice", "bob")),
        status_of(6, Status.MERGED, ("alice", "bob")),
        status_of(6, Status.APPLIED, ("alice", "bob")),
    ]
    code, output = invoke(
        "wait", "--url", url, f"{REPO}#6", "--until", "applied", "--interval", "0.01"
    )
    assert code == 0, output
    lines = output.splitlines()
    assert "pending; 0/2 approvals; can approve: alice, bob" in lines[0]
    assert "pending; 1/2 approvals" in lines[1]
    assert lines[-1].endswith("acme/requests#6: applied; 2/2 approvals")
    assert not script.steps[6][1:]  # every step was seen


def test_wait_stops_on_a_terminal_failure(served: tuple[str, Script]) -> None:
    url, script = served
    script.steps[7] = [status_of(7, Status.PENDING), status_of(7, Status.REJECTED)]
    code, output = invoke("wait", "--url", url, f"{REPO}#7", "--interval", "0.01")
    assert code == ExitCode.INVALID
    assert "rejected" in output
    assert "changes requested" in output


def test_wait_times_out_on_an_unknown_request(served: tuple[str, Script]) -> None:
    url, _script = served
    code, output = invoke("wait", "--url", url, f"{REPO}#8", "--timeout", "0s")
    assert code == ExitCode.TIMED_OUT
    assert "not known to the controller yet" in output
    assert "timed out waiting for synced" in output


def test_wait_rides_out_an_unreachable_controller(served: tuple[str, Script]) -> None:
    url, _script = served
    closed = url.rsplit(":", 1)[0] + ":1"
    code, output = invoke("wait", "--url", closed, f"{REPO}#8", "--timeout", "0s")
    assert code == ExitCode.TIMED_OUT
    assert "cannot reach" in output


def test_status_from_a_standby_says_so(served: tuple[str, Script], readiness: Readiness) -> None:
    url, script = served
    script.steps[4] = [status_of(4, Status.PENDING)]
    readiness.set(leader_election=True, leader=False)
    code, output = invoke("status", "--url", url, f"{REPO}#4")
    assert code == 1
    assert "answered 503: this replica is a standby" in output
