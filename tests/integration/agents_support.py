"""A world for the agents API: loopback GitHub and Kubernetes, the reconciler over them, the
pipeline hooked in and the HTTP server in front, agents' tokens issued by the loopback
cluster and reviewed by its TokenReview API.

Environment ``production`` allows unmatched requests and lists ServiceAccounts ``ci/deployer``
and ``ci/helper`` of cluster ``loop`` as agents for ``payments/*``; the policy covers
``payments/db`` only (bob or carol approve), so ``payments/cache`` needs no approval.
"""

from __future__ import annotations

import json
import logging
import queue
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from controller.github.agent_pulls import AgentPulls
from controller.model import AgentIdentity, SecretAccess
from controller.reconciler.access_open import AccessOpener
from controller.reconciler.agent_requests import AgentAsk, AgentRequestFlow
from controller.run.agents_wiring import KubeTokenReviewer
from controller.run.metrics import Metrics
from controller.server.agents_api import AgentsApi
from controller.server.app import ControllerApp, Readiness
from controller.server.http import HttpServer
from controller.server.webhook_app import WebhookApp
from tests.integration.test_reconciler_world import (
    CLUSTER,
    ENV,
    FULL,
    OWNER,
    REPO,
    Controller,
    World,
    WorldFile,
    build_controller,
    build_world,
)

AUDIENCE = "sealgate"
CANARY = b"canary-agent-value-9c8b7a6d5e"
CACHE = "payments/cache"
DB = "payments/db"
DEPLOYER = f"system:serviceaccount:ci:deployer@{CLUSTER}"
HELPER = f"system:serviceaccount:ci:helper@{CLUSTER}"

POLICY = b"""\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata:
  name: production
spec:
  environments: [production]
  secrets: ["payments/db"]
  actions: [change, access]
  maxDuration: 1d
  approvals:
    required: 1
    users: [bob, carol]
  expiresAfter: 7d
"""


def environment_with_agents(original: bytes) -> bytes:
    return original.replace(b"  defaultTier: sensitive\n", b"  defaultTier: sensitive\n"
                            b"  unmatched: allow\n") + (
        f"  agents:\n"
        f"    - {{serviceAccount: ci/deployer, cluster: {CLUSTER}, secrets: ['payments/*']}}\n"
        f"    - {{serviceAccount: ci/helper, cluster: {CLUSTER}}}\n"
    ).encode()  # fmt: skip


def build_agents_world(root: Path) -> World:
    world = build_world(root, policy=POLICY)
    path = f"environments/{ENV}.yaml"
    original = world.hub.read_file(OWNER, REPO, "main", path)
    assert original is not None
    world.hub.push(
        OWNER, REPO, "main", {path: environment_with_agents(original)},
        message="let agents ask", author="erin",
    )  # fmt: skip
    world.kube.create_namespace("ci")
    for name in ("deployer", "helper", "stranger"):
        world.kube.put(
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": name, "namespace": "ci"}}
        )  # fmt: skip
    return world


def flow_for(controller: Controller) -> AgentRequestFlow:
    flow = AgentRequestFlow(
        repo=FULL,
        github=controller.gateway,
        pulls=AgentPulls(controller.gateway.client),
        records=controller.store,
        store=controller.store,
        handle=controller.reconciler.handle,
        clock=lambda: datetime.now(UTC),
    )
    controller.reconciler.agents = flow
    return flow


@dataclass
class Agents:
    world: World
    controller: Controller
    flow: AgentRequestFlow
    url: str
    server: HttpServer
    server_app: ControllerApp
    readiness: Readiness
    seen: list[str] = field(default_factory=list)
    """Every response body and header, for the canary scan."""

    def token(self, name: str = "deployer", **kwargs: Any) -> str:
        token: str = self.world.kube.issue_token("ci", name, kwargs.pop("audience", AUDIENCE),
                                                 **kwargs)  # fmt: skip
        return token

    def call(
        self, method: str, path: str, token: str | None, body: Any = None, **headers: str
    ) -> requests.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body))
        answer = requests.request(
            method, f"{self.url}{path}", data=data,
            headers={"Content-Type": "application/json", **headers}, timeout=60,
        )  # fmt: skip
        self.seen.append(answer.text + repr(dict(answer.headers)))
        return answer

    def ask(
        self, token: str | None, secret: str = CACHE, *, key: str | None = None, **fields: Any
    ) -> requests.Response:
        body = {
            "environment": ENV,
            "secrets": [{"secret": secret, "keys": ["password"]}],
            "reason": "nightly payout reconciliation",
            "duration": "5m",
            "activateWithin": "1h",
            **fields,
        }
        headers = {"Idempotency-Key": key} if key is not None else {}
        return self.call("POST", "/v1/access-requests", token, body, **headers)

    def get(self, token: str | None, request_id: str, **headers: str) -> requests.Response:
        return self.call("GET", f"/v1/access-requests/{request_id}", token, **headers)

    def close(self) -> None:
        self.server.stop()
        self.controller.close()


def start_agents(world: World, *, rate: int = 1000, max_wait_s: float = 30.0) -> Agents:
    controller = build_controller(world.spec)
    flow = flow_for(controller)
    store = controller.store
    metrics = Metrics()
    api = AgentsApi(
        flow=flow,
        records=store,
        audit=store,
        reviewer=KubeTokenReviewer(controller.targets),
        opener=AccessOpener(store, store, clock=lambda: datetime.now(UTC), observer=metrics),
        grant_of=store.grant,
        pass_of=lambda number: controller.reconciler.status(FULL, number),
        clusters_of=controller.reconciler.environment_clusters,
        audience=AUDIENCE,
        rate_per_minute=rate,
        max_wait_s=max_wait_s,
    )
    readiness = Readiness()
    app = ControllerApp(
        webhooks=WebhookApp(b"s", queue.Queue()),
        readiness=readiness,
        metrics=metrics.render,
        metrics_content_type=metrics.content_type,
        status=lambda repo, number: None,
        agents_api=api,
    )
    server = HttpServer("127.0.0.1", 0, app)
    server.start()
    return Agents(world, controller, flow, server.url, server, app, readiness)


def ask_in_child(spec: WorldFile, key: str) -> None:
    """Ask as ci/deployer in this process (a child that the crash point ends)."""
    controller = build_controller(spec)
    try:
        flow_for(controller).submit(
            AgentIdentity("ci", "deployer", "uid", CLUSTER),
            AgentAsk(ENV, (SecretAccess(CACHE, ("password",)),), "crash test", "5m", "1h"),
            key,
        )
    finally:
        controller.close()


def seeded(world: World, controller: Controller) -> None:
    """payments/db (approved by bob) and payments/cache (needs no approval) hold CANARY."""
    from controller.reconciler import Status

    number = world.open_pull(CANARY)
    controller.reconciler.handle(FULL, number)
    world.approve("bob", number)
    assert controller.reconciler.handle(FULL, number).status is Status.SYNCED
    number = world.open_pull(CANARY, secret=CACHE)
    assert controller.reconciler.handle(FULL, number).status is Status.SYNCED


def iter_audit(controller: Controller) -> Iterator[str]:
    for record in controller.store.audit_records():
        yield repr(record)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    ask_in_child(WorldFile.read(Path(sys.argv[1])), sys.argv[2])
