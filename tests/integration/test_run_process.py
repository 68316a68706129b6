"""``sealgate run --config FILE`` as a real process against loopback GitHub and Kubernetes.

The controller authenticates as a GitHub App, receives signed webhooks from the loopback
GitHub, leads through a Lease, decides, merges, applies and syncs with the real reconciler,
serves its endpoints, logs JSON lines, and on SIGTERM stops cleanly and frees the Lease.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from controller.keyring import Keyring, LocalKekFile
from controller.run import LISTENING_PREFIX
from controller.sandbox.github_server import GitHubApiServer
from controller.sandbox.kube_server import KubeApiServer

ROOT = Path(__file__).resolve().parents[2]
OWNER, REPO = "acme", "requests"
FULL = f"{OWNER}/{REPO}"
APP_ID, INSTALLATION_ID, SLUG = 5151, 5252, "sealgate"
HOOK_SECRET = "loopback-hook-secret"
IDENTITY = "sealgate-test-0"
CLI = "from controller.cli import main; main()"
CHANGE = """\
apiVersion: sealgate.dev/v1
kind: SecretChange
metadata:
  name: rotate-db
spec:
  environment: production
  secret: payments/db
  reason: rotate after the quarterly review
  generate:
    password:
      length: 40
"""
POLICY = """\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata:
  name: production
spec:
  environments: [production]
  secrets: ["**"]
  approvals:
    required: 1
    users: [bob]
"""


@dataclass
class Running:
    url: str
    github: GitHubApiServer
    kube: KubeApiServer
    process: subprocess.Popen[str]
    stderr: list[str]
    reader: threading.Thread
    config: Path


def until(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def write_config(tmp: Path, github_url: str, kubeconfig: Path, pem: str) -> Path:
    (tmp / "app.pem").write_text(pem)
    config = tmp / "sealgate.yaml"
    config.write_text(
        f"""\
apiVersion: sealgate.dev/v1
kind: ControllerConfig
server:
  listen: 127.0.0.1:0
github:
  baseUrl: {github_url}
  repository: {FULL}
  app:
    appId: {APP_ID}
    installationId: {INSTALLATION_ID}
    slug: {SLUG}
    privateKey: {{fromFile: app.pem}}
  webhookSecret: {{fromEnv: HOOK_SECRET}}
store:
  path: store
keys:
  dir: keys
clusters:
  - name: local
    kubeconfig: {kubeconfig}
reconcile:
  workers: 2
  pollInterval: 1h
  rolloutTimeout: 30s
  shutdownTimeout: 20s
leaderElection:
  enabled: true
  cluster: local
  namespace: sealgate
  leaseName: sealgate-test
  leaseDuration: 3s
  renewDeadline: 2s
  retryPeriod: 1s
logging:
  level: debug
  format: json
"""
    )
    return config


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("run")
    keys = tmp / "keys"
    keyring = Keyring(keys, LocalKekFile(keys / "kek.key", create=True))
    public_key = keyring.init("production").public_key

    kube = KubeApiServer(rollout_seconds=0.1)
    kube.start()
    kube.create_namespace("sealgate")
    kube.create_namespace("payments")
    kubeconfig = kube.write_kubeconfig(tmp / "kubeconfig")

    github = GitHubApiServer(tmp / "github")
    github.start()
    for login in ("alice", "bob"):
        github.add_user(login)
    github.add_org(OWNER)
    environment = (
        "apiVersion: sealgate.dev/v1\nkind: Environment\nmetadata:\n  name: production\n"
        f"spec:\n  sealingKeys:\n    - id: k1\n      publicKey: {public_key}\n"
        "  namespaces: [payments]\n  clusters: [local]\n"
    )
    github.create_repo(
        OWNER,
        REPO,
        {
            "environments/production.yaml": environment.encode(),
            "policies/production.yaml": POLICY.encode(),
        },
        author="alice",
    )
    for login in ("alice", "bob"):
        github.add_collaborator(OWNER, REPO, login)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    github.register_app(APP_ID, SLUG, public, installation_id=INSTALLATION_ID, owner=OWNER)

    config = write_config(tmp, github.url, kubeconfig, pem)
    process, url, stderr, reader = spawn(config, IDENTITY)
    github.set_webhook(f"{url}/webhooks", HOOK_SECRET)
    try:
        yield Running(url, github, kube, process, stderr, reader, config)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        github.stop()
        kube.stop()


def spawn(
    config: Path, identity: str
) -> tuple[subprocess.Popen[str], str, list[str], threading.Thread]:
    env = {**os.environ, "HOOK_SECRET": HOOK_SECRET, "SEALGATE_POD_NAME": identity}
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, "run", "--config", str(config)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr: list[str] = []
    assert process.stderr is not None
    reader = threading.Thread(target=lambda: stderr.extend(process.stderr or ()), daemon=True)
    reader.start()
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith(LISTENING_PREFIX), (line, stderr)
    return process, line.removeprefix(LISTENING_PREFIX).strip(), stderr, reader


def readyz(url: str) -> dict[str, Any] | None:
    response = requests.get(f"{url}/readyz", timeout=5)
    body: dict[str, Any] = response.json()
    return body if response.status_code == 200 else None


def lease_holder(kube: KubeApiServer) -> str:
    lease = kube.get("coordination.k8s.io/v1", "Lease", "sealgate", "sealgate-test")
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def status(url: str, number: int) -> dict[str, Any] | None:
    response = requests.get(f"{url}/v1/requests/{FULL}/{number}", timeout=5)
    if response.status_code == 404:
        return None
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def test_ready_and_leading(running: Running) -> None:
    assert requests.get(f"{running.url}/healthz", timeout=5).status_code == 200

    body = until(lambda: (found := readyz(running.url)) and found["leader"] and found)
    assert body["checks"] == {"config": True, "store": True, "github": True}
    assert lease_holder(running.kube) == IDENTITY


def test_webhooks_drive_a_request_to_the_cluster(running: Running) -> None:
    gh = running.github
    gh.push(
        OWNER,
        REPO,
        "rotate-db",
        {"changes/production/rotate-db.yaml": CHANGE.encode()},
        message="rotate",
        author="alice",
        base="main",
    )
    number = gh.open_pull_request(OWNER, REPO, head="rotate-db", title="Rotate", author="alice")
    pending = until(lambda: status(running.url, number))
    assert pending["status"] == "pending"
    assert pending["eligibleApprovers"] == ["bob"]

    bob = requests.Session()
    bob.headers["Authorization"] = f"token {gh.add_user('bob')}"
    head = pending["headSha"]
    response = bob.post(
        f"{gh.url}/repos/{FULL}/pulls/{number}/reviews",
        json={"event": "APPROVE", "commit_id": head, "body": "ok"},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    done = until(lambda: (s := status(running.url, number)) and s["status"] == "synced" and s)
    assert done["changeIds"]
    secret = until(lambda: running.kube.get("v1", "Secret", "payments", "db"))
    assert "password" in secret["data"]

    metrics = requests.get(f"{running.url}/metrics", timeout=5).text
    assert 'sealgate_decisions_total{state="pending"}' in metrics
    assert "sealgate_merges_total 1.0" in metrics
    assert 'sealgate_applies_total{environment="production"} 1.0' in metrics
    assert "sealgate_webhook_to_handled_seconds_count" in metrics
    assert "sealgate_leader 1.0" in metrics


def test_sigterm_stops_cleanly_and_the_standby_takes_over(running: Running) -> None:
    standby_config = running.config.with_name("standby.yaml")
    standby_config.write_text(running.config.read_text().replace("path: store", "path: store-2"))
    process, url, _stderr, _reader = spawn(standby_config, "sealgate-test-1")
    try:
        body = until(lambda: readyz(url))
        assert (body["leader"], body["role"]) == (False, "standby")
        assert lease_holder(running.kube) == IDENTITY

        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(30) == 0
        # The Lease was released, not left to expire: the standby leads at its next try.
        until(lambda: (found := readyz(url)) and found["leader"])
        assert lease_holder(running.kube) == "sealgate-test-1"
        assert "sealgate_leader 1.0" in requests.get(f"{url}/metrics", timeout=5).text

        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert lease_holder(running.kube) == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_logs_are_json_lines_without_client_debug_or_secrets(running: Running) -> None:
    assert running.process.wait(30) == 0
    running.reader.join(10)
    records = [json.loads(line) for line in running.stderr if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    messages = [r["message"] for r in records]
    assert any(m.startswith("started for acme/requests") for m in messages)
    assert "received SIGTERM" in messages
    assert messages[-1] == "stopped"
    handled = [r for r in records if r.get("pr") is not None]
    assert any(r["logger"].startswith("controller.store") for r in handled)
    assert all(r["repo"] == FULL for r in handled)
    # Client libraries stay at INFO even at debug level: no request lines, no bodies.
    assert not [
        r
        for r in records
        if r["logger"].startswith(("urllib3", "kubernetes", "github")) and r["level"] == "debug"
    ]
    assert HOOK_SECRET not in "".join(running.stderr)
