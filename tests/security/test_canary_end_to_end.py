"""Plant unique plaintext values, play the sandbox story, and scan everything it produced.

The values reach exactly one place by design: the Secret in the cluster (the scanner must
find them there, or it proves nothing). Nowhere else may they appear, raw, base64 or hex:
not in the controller's logs, the pull request's comments, reviews or check runs, the
webhook payloads, the mails sent, the metrics or request-status answers, any file under
the sandbox's work directory (store, keys, repositories), any git object of the store or
the requests repository, the audit log, or the cluster's Events.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from controller.sandbox import observe
from controller.sandbox.runner import ControllerProcess
from controller.sandbox.story import ENVIRONMENT, Step, play
from controller.sandbox.world import OWNER, REPO, SECRET, World, build_world
from tests.e2e.test_sandbox_world import assert_story_state
from tests.integration.test_notify_loopback import MailServer


def canaries() -> dict[str, bytes]:
    return {
        "STRIPE_API_KEY": f"CANARYsk{secrets.token_hex(16)}".encode(),
        "STRIPE_WEBHOOK_SECRET": f"CANARYwh{secrets.token_hex(16)}".encode(),
    }


def forms(value: bytes) -> list[bytes]:
    """The ways a leaked value could be written down."""
    return [
        value,
        base64.b64encode(value),
        base64.urlsafe_b64encode(value),
        value.hex().encode(),
        base64.b64encode(value).rstrip(b"="),
    ]


class Scan:
    def __init__(self, values: dict[str, bytes]) -> None:
        self.needles = [(key, form) for key, value in values.items() for form in forms(value)]
        self.leaks: list[str] = []
        self.scanned = 0

    def found_in(self, data: bytes) -> list[str]:
        return [key for key, needle in self.needles if needle in data]

    def check(self, where: str, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        self.scanned += len(raw)
        self.leaks.extend(f"{key} in {where}" for key in self.found_in(raw))

    def check_json(self, where: str, value: Any) -> None:
        self.check(where, json.dumps(value, default=str))


def git_objects(repository: Path) -> bytes:
    """Every object of a (bare) git repository, decompressed."""
    listing = subprocess.run(
        ["git", "-C", str(repository), "cat-file", "--batch-all-objects", "--batch"],
        capture_output=True,
        check=True,
    )
    return listing.stdout


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer(None) as server:
        yield server


@pytest.fixture
def world(tmp_path: Path, mail: MailServer) -> Iterator[World]:
    w = build_world(tmp_path / "world", smtp=("127.0.0.1", mail.port))
    try:
        yield w
    finally:
        w.stop()


def test_no_plaintext_value_escapes_the_cluster_secret(world: World, mail: MailServer) -> None:
    values = canaries()
    steps: list[Step] = []
    scan = Scan(values)
    with ControllerProcess(world.config, world.workdir / "logs", world.controller_url) as ctl:
        ctl.start()
        result = play(world, steps.append, values=values)
        # Answers of the running controller.
        scan.check("metrics", requests.get(f"{world.controller_url}/metrics", timeout=10).text)
        status_url = f"{world.controller_url}/v1/requests/{OWNER}/{REPO}/{result.number}"
        answer = requests.get(status_url, timeout=10)
        assert answer.status_code == 200
        scan.check("request status", answer.text)
        access_url = f"{world.controller_url}/v1/requests/{OWNER}/{REPO}/{result.access.number}"
        answer = requests.get(access_url, timeout=10)
        assert answer.status_code == 200
        scan.check("access request status", answer.text)
    assert_story_state(world, result, values)

    # The scanner works: the one place the values belong is where it finds them.
    secret = observe.secret_object(world, ENVIRONMENT, SECRET)
    assert set(scan.found_in(json.dumps(secret).encode())) == set(values)

    # Logs of every run of the controller.
    for log in (world.workdir / "logs").iterdir():
        scan.check(f"log {log.name}", log.read_bytes())
    # GitHub: the pull request, its reviews, comments, check runs, and every webhook.
    github = world.github
    # The access act's pull request too: its summary, replies and checks name the grant.
    for number in (result.number, result.access.number):
        scan.check_json(f"pull request #{number}", github.pull(OWNER, REPO, number))
        scan.check_json(f"reviews of #{number}", github.reviews(OWNER, REPO, number))
        scan.check_json(f"comments of #{number}", github.comments(OWNER, REPO, number))
    shas = (result.head_sha, result.merge_sha, result.access.head_sha, result.access.merge_sha)
    for sha in shas:
        scan.check_json(f"check runs on {sha[:12]}", github.check_runs(OWNER, REPO, sha))
    assert github.deliveries
    for delivery in github.deliveries:
        scan.check_json(f"webhook {delivery.event}", [delivery.payload, delivery.headers])
    for record in github.request_log:
        scan.check_json(f"GitHub answer {record.method} {record.path}", record.body)
    # Notifications.
    assert mail.mails, "the policies' email targets got nothing: the scan would miss mail"
    for message in mail.mails:
        scan.check(f"mail to {', '.join(message.recipients)}", message.message.as_bytes())
    # The cluster's Events (written by the controller) and the Deployment.
    cluster = world.cluster_for(ENVIRONMENT)
    scan.check_json("events", cluster.list("v1", "Event"))
    scan.check_json("deployments", cluster.list("apps/v1", "Deployment"))
    # The store, keys, repositories and checkouts on disk, and every git object.
    for path in sorted(world.workdir.rglob("*")):
        if path.is_file():
            scan.check(f"file {path.relative_to(world.workdir)}", path.read_bytes())
    scan.check("store git objects", git_objects(world.store))
    for repository in (world.workdir / "github").rglob("*.git"):
        scan.check(f"git objects of {repository.name}", git_objects(repository))
    # The audit log as the store reads it.
    with observe.open_store(world) as store:
        for audit in store.audit_records():
            scan.check_json(f"audit #{audit.seq}", dict(audit.fields))

    assert scan.scanned > 100_000
    assert scan.leaks == []
