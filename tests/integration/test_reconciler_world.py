"""A seeded world for the reconciler tests: loopback GitHub and Kubernetes, a store, keys.

The controller acts as a GitHub App on the loopback GitHub (check runs need one), syncs into
one loopback cluster named ``loop`` holding a Deployment that uses the Secret, and keeps its
store and keys in a temporary directory. Run as a module (``python -m``) with a world file,
it builds a fresh reconciler over the same world and handles one pull request: the crash
tests run it with ``SEALGATE_CRASHPOINT`` set and watch it die.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import git
import github
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from controller.crypto import load_public_key, seal
from controller.github import GitHubClient, GitHubGateway, RetryPolicy
from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from controller.kube import ClusterConfig, KubeTargets
from controller.kube import RetryPolicy as KubeRetry
from controller.model import NotifyTargets
from controller.notify import Notification
from controller.reconciler import (
    GitHubPort,
    KeysPort,
    NotifierPort,
    Observer,
    Reconciler,
    ReconcilerSettings,
    StorePort,
    TargetsPort,
)
from controller.sandbox.github_server import GitHubApiServer
from controller.sandbox.kube_server import KubeApiServer
from controller.store import CRASHPOINT_VARIABLE, Store

OWNER = "acme"
REPO = "requests"
FULL = f"{OWNER}/{REPO}"
ENV = "production"
CLUSTER = "loop"
NAMESPACE = "payments"
SECRET = "db"
DEPLOYMENT = "api"
APP_ID = 5151
INSTALLATION_ID = 5252
SLUG = "sealgate"
BOT = f"{SLUG}[bot]"
PEOPLE = ("alice", "bob", "carol", "dave", "erin", "sealbot")
"""alice authors; bob and carol approve; dave approves through acme/secops; erin is an admin
whom no policy names; sealbot is the controller's account when it uses a token, not an App."""
CHECKSUM_KEY = b"reconciler-test-checksum-key-0123456789"
CANARY = b"canary-plaintext-5f1e2d3c4b"
FAST_GITHUB = RetryPolicy(
    attempts=3, backoff_factor=0.01, backoff_max=0.05, jitter=0.01, max_rate_limit_wait=2.0
)
FAST_KUBE = KubeRetry(attempts=4, initial_s=0.01, max_s=0.05)
ROOT = Path(__file__).resolve().parents[2]

POLICY_YAML = b"""\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata:
  name: production
spec:
  environments: [production]
  secrets: ["**"]
  approvals:
    required: 1
    users: [bob, carol]
    teams: [acme/secops]
  expiresAfter: 7d
  notify:
    slack: ["#prod-approvals"]
"""


def environment_yaml(key_id: str, public_key: str) -> bytes:
    return (
        "apiVersion: sealgate.dev/v1\n"
        "kind: Environment\n"
        f"metadata:\n  name: {ENV}\n"
        "spec:\n"
        "  sealingKeys:\n"
        f"    - id: {key_id}\n      publicKey: {public_key}\n"
        "  defaultTier: sensitive\n"
        f"  namespaces: [{NAMESPACE}]\n"
        f"  clusters: [{CLUSTER}]\n"
    ).encode()


class RecordingNotifier:
    """The notifier port, keeping what it was handed (delivery is the notify tests' job)."""

    def __init__(self) -> None:
        self.sent: list[tuple[Notification, NotifyTargets]] = []

    def send(self, notification: Notification, targets: NotifyTargets) -> None:
        self.sent.append((notification, targets))

    def kinds(self, number: int) -> list[str]:
        return [n.kind.value for n, _ in self.sent if n.pull_request == number]


class RecordingObserver:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def decision(self, state: str) -> None:
        self.events.append(("decision", state))

    def merged(self) -> None:
        self.events.append(("merged", ""))

    def applied(self, environment: str) -> None:
        self.events.append(("applied", environment))

    def synced(self, cluster: str, outcome: str) -> None:
        self.events.append(("synced", outcome))

    def workload(self, cluster: str, outcome: str) -> None:
        self.events.append(("workload", outcome))

    def rolled_back(self, environment: str) -> None:
        self.events.append(("rolled_back", environment))

    def drift_repaired(self, cluster: str, count: int) -> None:
        self.events.append(("drift_repaired", str(count)))

    def failure(self, step: str) -> None:
        self.events.append(("failure", step))

    def latency(self, step: str, seconds: float) -> None:
        self.events.append(("latency", step))

    def grants_active(self, environment: str, count: int) -> None:
        self.events.append(("grants_active", f"{environment}={count}"))

    def access_opened(self, environment: str) -> None:
        self.events.append(("access_opened", environment))

    def access_refused(self, reason: str) -> None:
        self.events.append(("access_refused", reason))

    def grant_event(self, outcome: str) -> None:
        self.events.append(("grant_event", outcome))

    def count(self, kind: str, value: str | None = None) -> int:
        return sum(1 for k, v in self.events if k == kind and (value is None or v == value))


@dataclass(frozen=True)
class WorldFile:
    """What a child process needs to rebuild the controller's side of a world."""

    github_url: str
    app_key_pem: str
    kubeconfig: str
    store: str
    keys: str

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(dataclasses.asdict(self)))
        return path

    @classmethod
    def read(cls, path: Path) -> WorldFile:
        return cls(**json.loads(path.read_text()))


@dataclass
class Controller:
    """One controller process's view: clients, store, keys, and the reconciler over them."""

    gateway: GitHubGateway
    store: Store
    targets: KubeTargets
    keyring: Keyring
    notifier: RecordingNotifier
    observer: RecordingObserver
    reconciler: Reconciler

    def close(self) -> None:
        self.targets.close()
        self.store.close()
        self.gateway.client.close()


def next_second() -> None:
    """Wait for the next whole second. GitHub's times have one-second precision and a
    command made in the same second as the head's push does not count (it may have come
    first), so a test that pushes and then comments a command starts a new second."""
    time.sleep(1.0 - time.time() % 1.0 + 0.01)


def build_controller(
    spec: WorldFile,
    *,
    settings: ReconcilerSettings | None = None,
    clock: Callable[[], datetime] | None = None,
    token: str | None = None,
) -> Controller:
    """``token``: act as that user (commit statuses instead of check runs), not the App."""
    if token is None:
        client = GitHubClient.from_app(
            APP_ID,
            spec.app_key_pem,
            INSTALLATION_ID,
            slug=SLUG,
            base_url=spec.github_url,
            retry=FAST_GITHUB,
        )
    else:
        client = GitHubClient.from_token(token, base_url=spec.github_url, retry=FAST_GITHUB)
    gateway = GitHubGateway(client)
    kek = LocalKekFile(Path(spec.keys) / KEK_FILE_NAME)
    keyring = Keyring(Path(spec.keys), kek)
    store = Store(Path(spec.store), kek, keyring)
    targets = KubeTargets(
        [ClusterConfig(CLUSTER, kubeconfig=Path(spec.kubeconfig), context="loopback")],
        CHECKSUM_KEY,
        retry=FAST_KUBE,
        poll_interval_s=0.02,
    )
    notifier = RecordingNotifier()
    observer = RecordingObserver()
    # The concrete adapters must satisfy the reconciler's ports: mypy checks these.
    ports: tuple[GitHubPort, StorePort, TargetsPort, KeysPort, NotifierPort, Observer] = (
        gateway,
        store,
        targets,
        keyring,
        notifier,
        observer,
    )
    reconciler = Reconciler(
        github=ports[0],
        store=ports[1],
        targets=ports[2],
        keys=ports[3],
        notifier=ports[4],
        observer=ports[5],
        settings=settings
        or ReconcilerSettings(
            bot_login=BOT,
            rollout_timeout_s=10.0,
            reminder_after=timedelta(hours=1),
            environment_clusters={ENV: (CLUSTER,)},
        ),
        clock=clock or (lambda: datetime.now(UTC)),
        grants=store,
        access=targets,
    )
    return Controller(gateway, store, targets, keyring, notifier, observer, reconciler)


@dataclass
class World:
    hub: GitHubApiServer
    kube: KubeApiServer
    tokens: dict[str, str]
    spec: WorldFile
    root: Path
    branches: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def controller(
        self,
        settings: ReconcilerSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        token: str | None = None,
    ) -> Controller:
        return build_controller(self.spec, settings=settings, clock=clock, token=token)

    def as_user(self, login: str) -> github.Github:
        return github.Github(
            base_url=self.hub.url,
            auth=github.Auth.Token(self.tokens[login]),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )

    def seal(
        self, value: bytes, key: str = "password", secret: str = f"{NAMESPACE}/{SECRET}"
    ) -> str:
        kek = LocalKekFile(Path(self.spec.keys) / KEK_FILE_NAME)
        info = Keyring(Path(self.spec.keys), kek).list_keys(ENV)[0]
        return seal(
            value,
            key_id=info.key_id,
            public_key=load_public_key(info.public_key, where="test"),
            environment=ENV,
            secret=secret,
            key=key,
        )

    def change_yaml(
        self,
        name: str,
        value: bytes,
        secret: str = f"{NAMESPACE}/{SECRET}",
        *,
        sealed: str | None = None,
        on_rollout_failure: str | None = None,
    ) -> bytes:
        """``sealed``: use this sealed value as it stands (a copy from history)."""
        extra = f"  onRolloutFailure: {on_rollout_failure}\n" if on_rollout_failure else ""
        return (
            "apiVersion: sealgate.dev/v1\n"
            "kind: SecretChange\n"
            f"metadata:\n  name: {name}\n"
            "spec:\n"
            f"  environment: {ENV}\n"
            f"  secret: {secret}\n"
            "  reason: rotate the database password\n"
            f"{extra}"
            "  set:\n"
            f"    password: {sealed or self.seal(value, secret=secret)}\n"
        ).encode()

    def open_pull(
        self,
        value: bytes = b"s3cret-value",
        *,
        author: str = "alice",
        secret: str = f"{NAMESPACE}/{SECRET}",
        sealed: str | None = None,
        on_rollout_failure: str | None = None,
    ) -> int:
        branch = f"change-{next(self.branches)}"
        files: Mapping[str, bytes | None] = {
            f"changes/{ENV}/{branch}.yaml": self.change_yaml(
                branch, value, secret=secret, sealed=sealed, on_rollout_failure=on_rollout_failure
            )
        }
        self.hub.push(
            OWNER, REPO, branch, files, message=f"propose {branch}", author=author, base="main"
        )
        return self.hub.open_pull_request(
            OWNER, REPO, head=branch, title=f"Rotate {branch}", author=author
        )

    def push_more(self, number: int, value: bytes, *, author: str = "alice") -> str:
        """Push a new value for the pull request's change file onto its branch."""
        pull = self.hub.pull(OWNER, REPO, number)
        branch = str(pull["head"]["ref"])
        files: Mapping[str, bytes | None] = {
            f"changes/{ENV}/{branch}.yaml": self.change_yaml(branch, value)
        }
        return self.hub.push(OWNER, REPO, branch, files, message="late push", author=author)

    def approve(self, login: str, number: int) -> None:
        pr = self.as_user(login).get_repo(FULL).get_pull(number)
        head = next(c for c in pr.get_commits() if c.sha == pr.head.sha)
        pr.create_review(commit=head, event="APPROVE")

    def comment(self, login: str, number: int, body: str) -> None:
        next_second()
        self.as_user(login).get_repo(FULL).get_issue(number).create_comment(body)

    # -- what the servers hold --------------------------------------------------------------

    def secret(self) -> dict[str, Any] | None:
        return self.kube.get("v1", "Secret", NAMESPACE, SECRET)

    def rollouts(self) -> int:
        return self.kube.rollout_count(NAMESPACE, "Deployment", DEPLOYMENT)

    def checks(self, sha: str, name: str) -> list[dict[str, Any]]:
        return [r for r in self.hub.check_runs(OWNER, REPO, sha) if r["name"] == name]

    def head(self, number: int) -> str:
        return str(self.hub.pull(OWNER, REPO, number)["head"]["sha"])

    def store_commits(self) -> int:
        repo = git.Repo(self.spec.store)
        try:
            return int(repo.git.rev_list("--all", "--count"))
        finally:
            repo.close()

    def store_blobs(self) -> Iterator[bytes]:
        """Every object of the store's git repository, decompressed."""
        repo = git.Repo(self.spec.store)
        try:
            listing = repo.git.rev_list("--objects", "--all").splitlines()
            for line in listing:
                sha = line.split(" ", 1)[0]
                yield repo.odb.stream(bytes.fromhex(sha)).read()
        finally:
            repo.close()

    def kube_writes(self) -> list[str]:
        return [
            f"{r.verb} {r.path}"
            for r in self.kube.request_log
            if r.verb in ("create", "update", "patch", "delete", "deletecollection")
        ]

    def github_writes(self) -> list[str]:
        return [
            f"{r.method} {r.path}"
            for r in self.hub.request_log
            if r.writes and "access_tokens" not in r.path
        ]

    def run_child(self, number: int, crashpoint: str) -> subprocess.CompletedProcess[bytes]:
        """Handle ``number`` in a fresh controller process that dies at ``crashpoint``."""
        spec_path = self.spec.write(self.root / "world.json")
        env = {**os.environ, CRASHPOINT_VARIABLE: crashpoint}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.integration.test_reconciler_world",
                str(spec_path),
                str(number),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        return done


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "namespace": NAMESPACE},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": DEPLOYMENT}},
            "template": {
                "metadata": {"labels": {"app": DEPLOYMENT}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "example/api:1",
                            "envFrom": [{"secretRef": {"name": SECRET}}],
                        }
                    ]
                },
            },
        },
    }


def build_world(root: Path, *, policy: bytes = POLICY_YAML) -> World:
    keys = root / "keys"
    kek = LocalKekFile(keys / KEK_FILE_NAME, create=True)
    keyring = Keyring(keys, kek)
    info = keyring.init(ENV)

    hub = GitHubApiServer(root / "github")
    hub.start()
    tokens = {login: hub.add_user(login) for login in PEOPLE}
    hub.add_org(OWNER)
    hub.add_team(OWNER, "secops", ["dave"])
    hub.create_repo(
        OWNER,
        REPO,
        {
            f"environments/{ENV}.yaml": environment_yaml(info.key_id, info.public_key),
            "policies/production.yaml": policy,
        },
        author="alice",
    )
    for login in PEOPLE:
        hub.add_collaborator(OWNER, REPO, login, "admin" if login == "erin" else "write")
    app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = app_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = app_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hub.register_app(APP_ID, SLUG, public, installation_id=INSTALLATION_ID, owner=OWNER)

    kube = KubeApiServer(rollout_seconds=0.05)
    kube.start()
    kube.create_namespace(NAMESPACE)
    kube.put(deployment())
    kubeconfig = kube.write_kubeconfig(root / "kubeconfig")

    spec = WorldFile(
        github_url=hub.url,
        app_key_pem=pem,
        kubeconfig=str(kubeconfig),
        store=str(root / "store"),
        keys=str(keys),
    )
    return World(hub=hub, kube=kube, tokens=tokens, spec=spec, root=root)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(tmp_path)
    try:
        yield w
    finally:
        w.hub.stop()
        w.kube.stop()


@pytest.fixture
def controller(world: World) -> Iterator[Controller]:
    c = world.controller()
    try:
        yield c
    finally:
        c.close()


def test_the_seeded_world_is_pending_until_approved(world: World, controller: Controller) -> None:
    """The fixtures must hold together, or every other test would only ever see 'invalid'."""
    number = world.open_pull()
    status = controller.reconciler.handle(FULL, number)
    assert status.status.value == "pending", status.messages
    assert "bob" in status.eligible_approvers


def _child_main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    spec = WorldFile.read(Path(argv[0]))
    built = build_controller(spec)
    try:
        built.reconciler.handle(FULL, int(argv[1]))
    finally:
        built.close()
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
