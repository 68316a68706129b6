"""Helpers for the access-request attack tests: a seeded world whose policy judges access,
the controller's ``POST /v1/open`` served over loopback from the controller's own store, and
a clock the test moves (the grant's end, its activation window).

Callers are identified by the loopback GitHub's ``GET /user``, exactly as in production; the
opener reads grants and values from the same store the reconciler wrote them to.
"""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from controller.crypto.caller_box import (
    caller_public_text,
    new_caller_key,
    new_request_nonce,
    open_for_caller,
)
from controller.github.identity import GitHubIdentities
from controller.reconciler import Status
from controller.reconciler.access_open import AccessOpener
from controller.run.metrics import Metrics
from controller.server.access_api import OpenApi
from controller.server.app import ControllerApp, Readiness
from controller.server.http import HttpServer
from controller.server.webhook_app import WebhookApp
from tests.integration.test_reconciler_world import (
    CANARY,
    ENV,
    FULL,
    NAMESPACE,
    OWNER,
    POLICY_YAML,
    REPO,
    SECRET,
    Controller,
    World,
    build_world,
)

PATH = f"{NAMESPACE}/{SECRET}"
ACCESS_POLICY = POLICY_YAML.replace(
    b"  expiresAfter: 7d\n", b"  expiresAfter: 7d\n  actions: [change, access]\n  maxDuration: 1d\n"
)
CANARY_TEXT = CANARY.decode()


@dataclass
class Clock:
    """Real time plus an offset the test moves: GitHub's times are real, the grant's end is
    reached by moving the controller's clock, never by waiting."""

    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def access_yaml(
    *,
    name: str = "incident-4711",
    requester: str = "alice",
    duration: str = "2h",
    activate_within: str = "24h",
    secrets: str | None = None,
    environment: str = ENV,
    reason: str = "Investigating failed payouts, incident 4711",
    extra: str = "",
) -> bytes:
    listed = secrets if secrets is not None else f"    - {{secret: {PATH}, keys: [password]}}\n"
    return (
        "apiVersion: sealgate.dev/v1\n"
        "kind: AccessRequest\n"
        f"metadata:\n  name: {name}\n"
        "spec:\n"
        f"  environment: {environment}\n"
        f"  secrets:\n{listed}"
        f"  requester: {requester}\n"
        f"  reason: {reason}\n"
        f"  duration: {duration}\n"
        f"  activateWithin: {activate_within}\n"
        f"{extra}"
    ).encode()


def open_access(world: World, files: Mapping[str, bytes | None], *, author: str = "alice") -> int:
    branch = f"access-{next(world.branches)}"
    world.hub.push(OWNER, REPO, branch, files, message="ask for access", author=author, base="main")
    return world.hub.open_pull_request(
        OWNER, REPO, head=branch, title="Access for an incident", author=author
    )


def seed(world: World, controller: Controller, value: bytes = CANARY) -> None:
    """The secret exists in the store and the cluster, so access may be asked for."""
    number = world.open_pull(value)
    controller.reconciler.handle(FULL, number)
    world.approve("bob", number)
    assert controller.reconciler.handle(FULL, number).status is Status.SYNCED


def summary(world: World, number: int) -> str:
    return str(world.checks(world.head(number), "sealgate")[-1]["output"]["summary"])


def merged(world: World, number: int) -> bool:
    return bool(world.hub.pull(OWNER, REPO, number)["merged"])


@dataclass
class OpenServer:
    """``POST /v1/open`` of the controller, over loopback HTTP."""

    url: str
    server: HttpServer
    metrics: Metrics
    sent: list[str] = field(default_factory=list)

    def post(self, token: str | None, body: Any, **headers: str) -> requests.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = requests.post(
            f"{self.url}/v1/open",
            data=data,
            headers={"Content-Type": "application/json", **headers},
            timeout=10,
        )
        self.sent.append(response.text)
        return response

    def open(
        self, token: str, *, secret: str = PATH, keys: list[str] | None = None
    ) -> tuple[requests.Response, dict[str, bytes] | None]:
        """Ask as a real client would; the opened values on 200, else None."""
        key = new_caller_key()
        body: dict[str, Any] = {
            "environment": ENV,
            "secret": secret,
            "publicKey": caller_public_text(key),
            "nonce": new_request_nonce(),
        }
        if keys is not None:
            body["keys"] = keys
        response = self.post(token, body)
        if response.status_code != 200:
            return response, None
        answer = response.json()
        values = open_for_caller(
            answer["sealed"],
            key,
            grant_id=answer["grant"],
            environment=ENV,
            secret=secret,
            nonce=answer["nonce"],
        )
        return response, values


def serve_open(world: World, controller: Controller, clock: Clock, rate: int = 1000) -> OpenServer:
    metrics = Metrics()
    api = OpenApi(
        identities=GitHubIdentities(world.hub.url),
        opener=AccessOpener(controller.store, controller.store, clock=clock, observer=metrics),
        rate_per_minute=rate,
        on_refused=metrics.access_refused,
    )
    app = ControllerApp(
        webhooks=WebhookApp(b"s", queue.Queue()),
        readiness=Readiness(),
        metrics=metrics.render,
        metrics_content_type=metrics.content_type,
        status=lambda repo, number: None,
        open_api=api,
    )
    server = HttpServer("127.0.0.1", 0, app)
    server.start()
    return OpenServer(server.url, server, metrics)


@dataclass
class AccessWorld:
    world: World
    controller: Controller
    clock: Clock
    opener: OpenServer

    def token(self, login: str) -> str:
        return self.world.tokens[login]

    def grant_for(self, files: Mapping[str, bytes | None], *, author: str = "alice") -> int:
        """Open, approve (bob) and handle an access pull request; its number."""
        number = open_access(self.world, files, author=author)
        self.controller.reconciler.handle(FULL, number)
        self.world.approve("bob", number)
        status = self.controller.reconciler.handle(FULL, number)
        assert status.status is Status.GRANTED, status.messages
        return number


def build_access_world(
    root: Path,
    *,
    policy: bytes = ACCESS_POLICY,
    environment_extra: str = "",
    rules: Mapping[str, bytes | None] | None = None,
) -> Iterator[AccessWorld]:
    """``environment_extra``: lines added to the environment's spec; ``rules``: more rule
    files. Both are on main before the controller first trusts the rules."""
    world = build_world(root, policy=policy)
    changed: dict[str, bytes | None] = dict(rules or {})
    if environment_extra:
        path = f"environments/{ENV}.yaml"
        current = world.hub.read_file(OWNER, REPO, "main", path)
        assert current is not None
        changed[path] = current + environment_extra.encode()
    if changed:
        world.hub.push(OWNER, REPO, "main", changed, message="rules", author="erin")
    clock = Clock()
    controller = world.controller(clock=clock)
    opener = serve_open(world, controller, clock)
    try:
        seed(world, controller)
        yield AccessWorld(world, controller, clock, opener)
    finally:
        opener.server.stop()
        controller.close()
        world.hub.stop()
        world.kube.stop()


def no_canary(*texts: str) -> None:
    for text in texts:
        assert CANARY_TEXT not in text
