"""The controller's HTTP surface on a real threaded werkzeug server on loopback."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from controller.github import WebhookEvent
from controller.github.webhooks import signature_for
from controller.model import Decision, DecisionState, StepResult
from controller.reconciler import RequestStatus, Status
from controller.run.metrics import Metrics
from controller.server.app import ControllerApp, Readiness
from controller.server.http import HttpServer
from controller.server.webhook_app import WebhookApp

SECRET = b"webhook-secret"
REPO = "acme/requests"


@dataclass
class Served:
    url: str
    readiness: Readiness
    metrics: Metrics
    events: queue.Queue[WebhookEvent]
    statuses: dict[tuple[str, int], RequestStatus] = field(default_factory=dict)


def pending_status(number: int) -> RequestStatus:
    decision = Decision(
        state=DecisionState.PENDING,
        reasons=("needs 2 approvals from acme/sre; has 1",),
        steps=(
            StepResult(
                policy="production",
                step="approvals",
                required=2,
                approved_by=("carol",),
                eligible_remaining=("alice", "bob"),
            ),
        ),
        head_sha="a" * 40,
        expires_at=datetime(2030, 1, 8, tzinfo=UTC),
    )
    return RequestStatus.from_decision(
        REPO, number, Status.PENDING, decision, updated_at=datetime(2030, 1, 1, tzinfo=UTC)
    )


@pytest.fixture
def served() -> Iterator[Served]:
    events: queue.Queue[WebhookEvent] = queue.Queue(maxsize=10)
    readiness = Readiness()
    metrics = Metrics()
    statuses: dict[tuple[str, int], RequestStatus] = {}

    def status(repo: str, number: int) -> dict[str, Any] | None:
        found = statuses.get((repo, number))
        return None if found is None else found.to_json()

    app = ControllerApp(
        webhooks=WebhookApp(SECRET, events),
        readiness=readiness,
        metrics=metrics.render,
        metrics_content_type=metrics.content_type,
        status=status,
    )
    server = HttpServer("127.0.0.1", 0, app)
    server.start()
    try:
        yield Served(server.url, readiness, metrics, events, statuses)
    finally:
        server.stop()


def test_healthz(served: Served) -> None:
    response = requests.get(f"{served.url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_follows_the_checks_and_reports_the_role(served: Served) -> None:
    response = requests.get(f"{served.url}/readyz", timeout=5)
    assert response.status_code == 503
    assert response.json()["checks"] == {"config": False, "store": False, "github": False}
    served.readiness.set(config_loaded=True, store_opened=True)
    assert requests.get(f"{served.url}/readyz", timeout=5).status_code == 503
    served.readiness.set(github_reachable=True, leader_election=True, leader=False)
    response = requests.get(f"{served.url}/readyz", timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["leader"] is False
    assert body["role"] == "standby"
    served.readiness.set(leader=True)
    assert requests.get(f"{served.url}/readyz", timeout=5).json()["role"] == "leader"


def test_request_status(served: Served) -> None:
    served.statuses[(REPO, 7)] = pending_status(7)
    response = requests.get(f"{served.url}/v1/requests/{REPO}/7", timeout=5)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "pending"
    assert body["number"] == 7
    assert body["eligibleApprovers"] == ["alice", "bob"]
    assert body["approvals"][0]["current"] == 1
    assert body["approvals"][0]["required"] == 2
    assert body["expiresAt"] == "2030-01-08T00:00:00+00:00"


def test_request_status_unknown_and_malformed(served: Served) -> None:
    response = requests.get(f"{served.url}/v1/requests/{REPO}/8", timeout=5)
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    assert "acme/requests#8" in response.json()["message"]
    assert requests.get(f"{served.url}/v1/requests/{REPO}/x", timeout=5).status_code == 404
    assert requests.get(f"{served.url}/v1/requests/{REPO}/0", timeout=5).status_code == 400
    assert requests.get(f"{served.url}/v1/requests/.a/b/1", timeout=5).status_code == 400


def test_request_status_from_a_standby_is_unavailable(served: Served) -> None:
    served.statuses[(REPO, 7)] = pending_status(7)
    served.readiness.set(leader_election=True, leader=False)
    response = requests.get(f"{served.url}/v1/requests/{REPO}/7", timeout=5)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert "standby" in response.json()["message"]


def test_wrong_method_and_unknown_path(served: Served) -> None:
    response = requests.post(f"{served.url}/healthz", timeout=5)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert requests.get(f"{served.url}/webhooks", timeout=5).status_code == 405
    assert requests.get(f"{served.url}/nothing", timeout=5).status_code == 404


def _review_payload(number: int) -> bytes:
    return json.dumps(
        {
            "action": "submitted",
            "repository": {"full_name": REPO},
            "sender": {"login": "alice"},
            "pull_request": {"number": number, "head": {"sha": "b" * 40}},
            "review": {"state": "approved"},
        }
    ).encode()


def _deliver(url: str, body: bytes, delivery: str, secret: bytes = SECRET) -> requests.Response:
    return requests.post(
        f"{url}/webhooks",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "pull_request_review",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": signature_for(secret, body),
        },
        timeout=5,
    )


def test_webhook_is_verified_deduplicated_and_queued(served: Served) -> None:
    body = _review_payload(7)
    assert _deliver(served.url, body, "d-1").status_code == 202
    assert _deliver(served.url, body, "d-1").status_code == 200  # redelivery
    assert _deliver(served.url, body, "d-2", secret=b"wrong").status_code == 401
    event = served.events.get_nowait()
    assert (event.repo, event.number, event.kind) == (REPO, 7, "pull_request_review")
    assert served.events.empty()


def test_metrics_in_prometheus_text_format(served: Served) -> None:
    observer = served.metrics
    observer.decision("approved")
    observer.decision("pending")
    observer.merged()
    observer.applied("production")
    observer.synced("prod-eu", "updated")
    observer.workload("prod-eu", "rolled")
    observer.failure("sync")
    observer.latency("sync", 0.3)
    observer.github_rate_remaining.set(4999)
    observer.track_queue(lambda: 3, lambda: 1)
    response = requests.get(f"{served.url}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = response.text
    for line in (
        'sealgate_decisions_total{state="approved"} 1.0',
        'sealgate_decisions_total{state="pending"} 1.0',
        "sealgate_merges_total 1.0",
        'sealgate_applies_total{environment="production"} 1.0',
        'sealgate_syncs_total{cluster="prod-eu",outcome="updated"} 1.0',
        'sealgate_restarts_total{cluster="prod-eu",outcome="rolled"} 1.0',
        'sealgate_failures_total{step="sync"} 1.0',
        'sealgate_step_latency_seconds_bucket{le="0.5",step="sync"} 1.0',
        "sealgate_github_rate_limit_remaining 4999.0",
        "sealgate_queue_depth 3.0",
        "sealgate_queue_in_flight 1.0",
    ):
        assert line in text, line
