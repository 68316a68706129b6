"""The access world: the reconciler world plus the open endpoint on a real port, a movable
clock, kubectl, and the steps a real user takes (push, review, comment, open).

Everything goes through HTTP APIs and git pushes: PyGithub against the loopback GitHub,
the ``kubernetes`` client and kubectl against the loopback cluster, ``requests`` and the
CLI against ``POST /v1/open``. The controller's clock is the wall clock plus an offset the
tests move forward: GitHub's own times (reviews, merges) are real, and a grant's windows
count from them.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from controller.crypto.caller_box import (
    caller_public_text,
    new_caller_key,
    new_request_nonce,
    open_for_caller,
)
from controller.github.identity import GitHubIdentities
from controller.model import Grant
from controller.reconciler import Status
from controller.reconciler.access_open import AccessOpener
from controller.reconciler.settings import ReconcilerSettings
from controller.server.access_api import OpenApi
from controller.server.app import ControllerApp, Readiness
from controller.server.http import HttpServer
from controller.server.webhook_app import WebhookApp
from tests.integration.test_access_flow import ACCESS_POLICY
from tests.integration.test_reconciler_world import (
    BOT,
    CANARY,
    CLUSTER,
    ENV,
    FULL,
    NAMESPACE,
    OWNER,
    REPO,
    SECRET,
    Controller,
    World,
    build_world,
)

SUBJECT = "alice@acme.example"
REQUEST_ID = "incident-4711"
SUMMARY_MARKER = "<!-- sealgate:summary -->"


class Clock:
    """The wall clock plus an offset that only grows (``advance``)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, span: timedelta) -> None:
        self.offset += span

    def to(self, moment: datetime) -> None:
        """Move to just after ``moment`` (never back)."""
        wanted = moment + timedelta(seconds=1) - datetime.now(UTC)
        self.offset = max(self.offset, wanted)


def access_yaml(
    *,
    requester: str = "alice",
    duration: str = "2h",
    activate_within: str = "24h",
    deliver: tuple[str, ...] = ("open",),
    request_id: str = REQUEST_ID,
    reason: str = "Investigating failed payouts, incident 4711",
    subject: str = f"{{kind: User, name: {SUBJECT}}}",
) -> bytes:
    subject_line = f"  kubernetesSubject: {subject}\n" if "kubernetes" in deliver else ""
    return (
        "apiVersion: sealgate.dev/v1\n"
        "kind: AccessRequest\n"
        f"metadata:\n  name: {request_id}\n"
        "spec:\n"
        f"  environment: {ENV}\n"
        f"  secrets:\n    - {{secret: {NAMESPACE}/{SECRET}, keys: [password]}}\n"
        f"  requester: {requester}\n"
        f"  reason: {reason}\n"
        f"  duration: {duration}\n"
        f"  activateWithin: {activate_within}\n"
        f"  deliver: [{', '.join(deliver)}]\n"
        f"{subject_line}"
    ).encode()


@dataclass
class OpenEndpoint:
    """The controller's HTTP app (``/v1/open`` and ``/v1/requests``) on a real port."""

    url: str
    server: HttpServer
    responses: list[requests.Response] = field(default_factory=list)
    last_opened: dict[str, bytes] | None = None

    def open(self, token: str, *, secret: str = f"{NAMESPACE}/{SECRET}") -> requests.Response:
        """POST /v1/open as the holder of ``token``; on a 200 the values, opened with the
        caller's key, are kept in ``last_opened``."""
        self.last_opened = None
        key = new_caller_key()
        body = {
            "environment": ENV,
            "secret": secret,
            "publicKey": caller_public_text(key),
            "nonce": new_request_nonce(),
        }
        response = requests.post(
            f"{self.url}/v1/open",
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            timeout=10,
        )
        self.responses.append(response)
        if response.status_code == 200:
            answer = response.json()
            self.last_opened = open_for_caller(
                answer["sealed"],
                key,
                grant_id=answer["grant"],
                environment=ENV,
                secret=secret,
                nonce=answer["nonce"],
            )
        return response

    def request_status(self, number: int) -> dict[str, Any]:
        response = requests.get(f"{self.url}/v1/requests/{OWNER}/{REPO}/{number}", timeout=10)
        self.responses.append(response)
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    def seen(self) -> str:
        """Every status line, header and body this endpoint answered."""
        return "\n".join(f"{r.status_code} {dict(r.headers)!r} {r.text}" for r in self.responses)


def serve(world: World, controller: Controller, clock: Clock) -> OpenEndpoint:
    """The HTTP app as ``controller.run.wiring`` builds it, over this controller's store,
    with the test's clock: the opener checks grants at that clock, and the status document
    reads grant states at it."""
    api = OpenApi(
        identities=GitHubIdentities(world.hub.url),
        opener=AccessOpener(
            controller.store, controller.store, clock=clock, observer=controller.observer
        ),
        rate_per_minute=1000,
        on_refused=controller.observer.access_refused,
    )

    def status(repo: str, number: int) -> dict[str, object] | None:
        found = controller.reconciler.status(repo, number)
        if found is None:
            return None
        current = found.with_grants(controller.store.grants()) if found.access else found
        return current.to_json(clock())

    app = ControllerApp(
        webhooks=WebhookApp(b"webhook-secret", queue.Queue()),
        readiness=Readiness(config_loaded=True),
        metrics=lambda: b"",
        metrics_content_type="text/plain",
        status=status,
        open_api=api,
    )
    server = HttpServer("127.0.0.1", 0, app)
    server.start()
    return OpenEndpoint(server.url, server)


def settings() -> ReconcilerSettings:
    return ReconcilerSettings(
        bot_login=BOT,
        rollout_timeout_s=10.0,
        reminder_after=timedelta(hours=1),
        environment_clusters={ENV: (CLUSTER,)},
    )


@dataclass
class AccessWorld:
    world: World
    clock: Clock
    controller: Controller
    endpoint: OpenEndpoint
    kubectl_home: Path
    closed: list[Controller] = field(default_factory=list)

    # -- the controller ------------------------------------------------------------------

    def restart(self) -> None:
        """A new controller process over the same store, keys and clusters: nothing but the
        store (and GitHub) carries state across."""
        self.endpoint.server.stop()
        self.controller.close()
        self.closed.append(self.controller)
        self.controller = self.world.controller(settings=settings(), clock=self.clock)
        responses = self.endpoint.responses
        self.endpoint = serve(self.world, self.controller, self.clock)
        self.endpoint.responses = responses
        # As the runner does at start, before its grant timer's first pass.
        self.controller.reconciler.learn_environments(FULL)

    def poll(self) -> list[int]:
        """One poll cycle as the runner makes it: handle every pull request it names."""
        numbers = self.controller.reconciler.work_items(FULL)
        for number in numbers:
            self.controller.reconciler.handle(FULL, number)
        return numbers

    def keep_grants(self) -> list[str]:
        ended, _repaired = self.controller.reconciler.keep_grants()
        return ended

    def grant(self) -> Grant:
        (only,) = self.controller.store.grants()
        current = self.controller.store.grant(only.id)
        assert current is not None
        return current

    # -- a user's steps ------------------------------------------------------------------

    def seed(self) -> None:
        """The secret exists in the store and the cluster: an access request may name it."""
        number = self.world.open_pull(CANARY)
        self.controller.reconciler.handle(FULL, number)
        self.world.approve("bob", number)
        assert self.controller.reconciler.handle(FULL, number).status is Status.SYNCED

    def ask(self, files: Mapping[str, bytes | None], *, author: str = "alice") -> int:
        branch = f"access-{next(self.world.branches)}"
        self.world.hub.push(
            OWNER, REPO, branch, files, message="ask for access", author=author, base="main"
        )
        return self.world.hub.open_pull_request(
            OWNER, REPO, head=branch, title="Access for incident 4711", author=author
        )

    def granted(self, request: bytes, *, approver: str = "bob") -> int:
        """Ask (as alice), get approved, merged and granted; the pull request's number."""
        number = self.ask({f"access/{ENV}/{REQUEST_ID}.yaml": request})
        pending = self.controller.reconciler.handle(FULL, number)
        assert pending.status is Status.PENDING, pending.messages
        self.world.approve(approver, number)
        done = self.controller.reconciler.handle(FULL, number)
        assert done.status is Status.GRANTED, done.messages
        assert self.world.hub.pull(OWNER, REPO, number)["merged"] is True
        return number

    def token(self, login: str) -> str:
        return self.world.tokens[login]

    # -- what is visible -----------------------------------------------------------------

    def summary(self, number: int) -> str:
        bodies = [
            str(c["body"])
            for c in self.world.hub.comments(OWNER, REPO, number)
            if str(c["body"]).startswith(SUMMARY_MARKER)
        ]
        assert len(bodies) == 1, bodies
        return bodies[0]

    def comments(self, number: int) -> list[str]:
        return [str(c["body"]) for c in self.world.hub.comments(OWNER, REPO, number)]

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        binary = shutil.which("kubectl")
        assert binary, "these tests need kubectl on PATH"
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.kubectl_home)}
        return subprocess.run(
            [binary, "--kubeconfig", self.world.spec.kubeconfig, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )

    def can_i(self, user: str = SUBJECT) -> str:
        """``kubectl auth can-i get secret/<name> --as <user> -n <ns>``: ``yes`` or ``no``."""
        done = self.kubectl(
            "auth", "can-i", "get", f"secret/{SECRET}", "--as", user, "-n", NAMESPACE
        )
        return done.stdout.strip()

    def can(self, user: str = SUBJECT) -> bool:
        return self.world.kube.can(user, "get", "secrets", namespace=NAMESPACE, name=SECRET)

    def bindings(self) -> list[str]:
        return sorted(
            str(o["metadata"]["name"])
            for o in self.world.kube.list("rbac.authorization.k8s.io/v1", "RoleBinding", NAMESPACE)
        )


@pytest.fixture
def access(tmp_path: Path) -> Iterator[AccessWorld]:
    world = build_world(tmp_path, policy=ACCESS_POLICY)
    clock = Clock()
    controller = world.controller(settings=settings(), clock=clock)
    endpoint = serve(world, controller, clock)
    made = AccessWorld(world, clock, controller, endpoint, tmp_path / "kubectl-home")
    try:
        yield made
    finally:
        made.endpoint.server.stop()
        made.controller.close()
        world.hub.stop()
        world.kube.stop()
