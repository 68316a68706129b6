"""``/v1/access-requests`` under pressure: rate limits, credentials pasted into reasons,
expiry, a cluster that cannot answer (fixtures and helpers: ``test_agents_api``)."""

from __future__ import annotations

import pytest

from controller.reconciler import Status
from tests.integration.agents_support import CACHE, DB, Agents, iter_audit, start_agents
from tests.integration.test_agents_api import agents as agents  # noqa: PLC0414
from tests.integration.test_agents_api import pull_of
from tests.integration.test_agents_api import world as world  # noqa: PLC0414
from tests.integration.test_reconciler_world import FULL, World

# ---------------------------------------------------------------------------- hardening


def test_an_agent_is_rate_limited_with_retry_after(world: World) -> None:
    agents = start_agents(world, rate=2)
    try:
        token = agents.token()
        codes = [agents.get(token, "agent-aaaaaaaaaaaa").status_code for _ in range(3)]
        assert codes[:2] == [404, 404]
        assert codes[2] == 429
        limited = agents.get(token, "agent-aaaaaaaaaaaa")
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        # Another agent has its own bucket.
        assert agents.get(agents.token("helper"), "agent-aaaaaaaaaaaa").status_code == 404
    finally:
        agents.close()


def test_a_reason_holding_a_credential_is_invalid_and_never_echoed(
    agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    token = agents.token()
    pasted = "ghp_" + "Zq7" * 12
    answer = agents.ask(token, CACHE, reason=f"debugging with {pasted}")
    assert answer.status_code == 422, answer.text
    assert any("spec.reason" in p for p in answer.json()["problems"])
    assert agents.controller.store.agent_requests() == []
    for text in (*agents.seen, caplog.text, *iter_audit(agents.controller)):
        assert pasted not in text


def test_a_denial_reason_holding_a_credential_is_withheld(agents: Agents) -> None:
    token = agents.token()
    document = agents.ask(token, DB).json()
    number = pull_of(document)
    pasted = "ghp_" + "Qk4" * 12
    pr = agents.world.as_user("bob").get_repo(FULL).get_pull(number)
    pr.create_review(event="REQUEST_CHANGES", body=f"use {pasted} instead")
    agents.controller.reconciler.handle(FULL, number)
    after = agents.get(token, document["id"])
    assert after.json()["status"] == "denied"
    assert "withheld" in after.json()["denialReason"]
    for text in (after.text, *iter_audit(agents.controller)):
        assert pasted not in text


def test_a_pull_request_left_past_its_expiry_expires_the_request(agents: Agents) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.integration.agents_support import flow_for
    from tests.integration.test_reconciler_world import build_controller

    token = agents.token()
    document = agents.ask(token, DB).json()
    late = build_controller(agents.world.spec, clock=lambda: datetime.now(UTC) + timedelta(days=8))
    try:
        flow_for(late)
        status = late.reconciler.handle(FULL, pull_of(document))
        assert status.status is Status.EXPIRED, status.messages
    finally:
        late.close()
    after = agents.get(token, document["id"]).json()
    assert after["status"] == "expired"
    assert after["denialReason"] is None


def test_a_cluster_that_cannot_answer_is_503_with_retry_after(agents: Agents) -> None:
    token = agents.token()
    agents.world.kube.stop()
    answer = agents.ask(token)
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"]
    assert token not in answer.text


def test_the_routes_do_not_exist_when_disabled_and_a_standby_defers() -> None:
    import queue

    from werkzeug.test import Client

    from controller.run.metrics import Metrics
    from controller.server.app import ControllerApp, Readiness
    from controller.server.webhook_app import WebhookApp

    metrics = Metrics()
    app = ControllerApp(
        webhooks=WebhookApp(b"s", queue.Queue()),
        readiness=Readiness(),
        metrics=metrics.render,
        metrics_content_type=metrics.content_type,
        status=lambda repo, number: None,
    )
    client = Client(app)
    assert client.post("/v1/access-requests", json={}).status_code == 404
    assert client.get("/v1/access-requests/agent-aaaaaaaaaaaa").status_code == 404


def test_a_standby_replica_defers_to_the_leader(agents: Agents) -> None:
    from werkzeug.test import Client

    app = agents.server_app
    app_readiness = agents.readiness
    app_readiness.set(leader=False)
    answer = Client(app).post("/v1/access-requests", json={})
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
