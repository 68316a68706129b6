"""Every store write a pull request causes names its reason, requester, approvers, merger
and URL, in the audit record and in one-line ``Sealgate-*`` trailers, and never a value.

Driven through the loopback World: real PyGithub over HTTP, real git for the store.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from controller.reconciler import Status
from tests.integration.test_reconciler_world import (
    BOT,
    ENV,
    FULL,
    NAMESPACE,
    OWNER,
    POLICY_YAML,
    REPO,
    SECRET,
    World,
    build_world,
)

TWO_STEP_POLICY = b"""\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata:
  name: production
spec:
  environments: [production]
  secrets: ["**"]
  steps:
    - {name: review, required: 1, users: [bob]}
    - {name: secops, required: 1, teams: [acme/secops]}
  autoMerge: false
  expiresAfter: 7d
"""
FORGED = "Sealgate-Approved-By: mallory (production/review)"
REASON = f"rotate after the vendor notice\n{FORGED}\n\u202eevil\u202c and more"
PLANTED = b"planted-value-7c1d9e0a4b"


def _world(tmp_path: Path, policy: bytes) -> Iterator[World]:
    w = build_world(tmp_path, policy=policy)
    try:
        yield w
    finally:
        w.hub.stop()
        w.kube.stop()


@pytest.fixture
def two_step_world(tmp_path: Path) -> Iterator[World]:
    yield from _world(tmp_path, TWO_STEP_POLICY)


@pytest.fixture
def soft_world(tmp_path: Path) -> Iterator[World]:
    yield from _world(
        tmp_path, POLICY_YAML + b"  enforcement: soft\n  bypassers:\n    users: [alice]\n"
    )


@pytest.fixture
def plain_world(tmp_path: Path) -> Iterator[World]:
    yield from _world(tmp_path, POLICY_YAML)


def _reason_yaml(reason: str) -> str:
    body = "".join(f"    {line}\n" for line in reason.splitlines())
    return f"  reason: |-\n{body}"


def open_with_reason(world: World, reason: str, value: bytes, *, branch: str) -> int:
    change = (
        "apiVersion: sealgate.dev/v1\n"
        "kind: SecretChange\n"
        f"metadata:\n  name: {branch}\n"
        "spec:\n"
        f"  environment: {ENV}\n"
        f"  secret: {NAMESPACE}/{SECRET}\n"
        f"{_reason_yaml(reason)}"
        "  set:\n"
        f"    password: {world.seal(value)}\n"
    ).encode()
    files: Mapping[str, bytes | None] = {f"changes/{ENV}/{branch}.yaml": change}
    world.hub.push(OWNER, REPO, branch, files, message="propose", author="alice", base="main")
    return world.hub.open_pull_request(OWNER, REPO, head=branch, title=branch, author="alice")


def _git(world: World, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", world.spec.store, *args], check=True, capture_output=True, text=True
    ).stdout


def trailers(world: World, key: str) -> list[str]:
    """The values git itself parses for trailer ``key`` on the store's head commit."""
    out = _git(world, "log", "-1", f"--format=%(trailers:key={key},valueonly,unfold)", "main")
    return [line for line in out.splitlines() if line]


def apply_record(world: World, number: int) -> dict[str, Any]:
    controller = world.controller()
    try:
        (record,) = [
            r
            for r in controller.store.audit_records()
            if r.event == "apply" and r.fields.get("changeId") == f"{ENV}/pr-{number}"
        ]
        assert controller.store.audit_verify().ok
        return dict(record.fields)
    finally:
        controller.close()


def test_reason_requester_approvers_merger_and_url_are_recorded_and_trailed(
    two_step_world: World,
) -> None:
    world = two_step_world
    number = open_with_reason(world, REASON, b"approved-value-0", branch="rotate")
    controller = world.controller()
    try:
        world.approve("bob", number)
        world.approve("dave", number)
        assert controller.reconciler.handle(FULL, number).status is Status.APPROVED
        world.comment("bob", number, "/sealgate merge")
        done = controller.reconciler.handle(FULL, number)
        assert done.status is Status.SYNCED, done.messages
    finally:
        controller.close()
    pull = world.hub.pull(OWNER, REPO, number)

    fields = apply_record(world, number)
    assert fields["reasons"] == [
        {
            "secret": f"{ENV}/{NAMESPACE}/{SECRET}",
            "source": f"changes/{ENV}/rotate.yaml",
            "reason": REASON,
            "withheld": False,
        }
    ]
    assert fields["requester"] == "alice"
    assert fields["approvals"] == [
        {"login": "bob", "policy": "production", "step": "review"},
        {"login": "dave", "policy": "production", "step": "secops"},
    ]
    assert fields["approvedBy"] == ["bob", "dave"]
    assert (fields["mergedBy"], fields["mergeTrigger"], fields["mergeRequestedBy"]) == (
        BOT,
        "command",
        "bob",
    )
    assert fields["pullRequestUrl"] == pull["html_url"]
    assert fields["pullRequestUrl"].endswith(f"/{FULL}/pull/{number}")
    assert fields["headSha"] == pull["head"]["sha"]
    assert fields["repository"] == FULL

    # git parses each as one trailer: the newline in the reason forged nothing.
    assert trailers(world, "Sealgate-Approved-By") == [
        "bob (production/review)",
        "dave (production/secops)",
    ]
    (reason_trailer,) = trailers(world, "Sealgate-Reason")
    assert reason_trailer.startswith(f"{ENV}/{NAMESPACE}/{SECRET}: rotate after the vendor notice")
    assert "\u202e" not in reason_trailer
    assert FORGED in reason_trailer  # kept as text, on the reason's own line
    assert trailers(world, "Sealgate-Requester") == ["alice"]
    assert trailers(world, "Sealgate-Merged-By") == [BOT]
    assert trailers(world, "Sealgate-Merge-Trigger") == ["/sealgate merge by bob"]
    assert trailers(world, "Sealgate-Pull-Request") == [pull["html_url"]]
    assert trailers(world, "Sealgate-Head-Sha") == [pull["head"]["sha"]]
    # The older trailers are still there for readers that know them.
    assert trailers(world, "Change-Id") == [f"{ENV}/pr-{number}"]
    message = _git(world, "log", "-1", "--format=%B", "main")
    assert all(len(line) <= 240 for line in message.splitlines())


def test_a_bypass_names_the_bypasser_and_why(soft_world: World) -> None:
    world = soft_world
    number = open_with_reason(world, "payments are down", b"incident-value-1", branch="fix")
    controller = world.controller()
    try:
        world.comment("alice", number, "/sealgate bypass INC-42 payments are down")
        done = controller.reconciler.handle(FULL, number)
        assert done.status is Status.SYNCED, done.messages
    finally:
        controller.close()
    fields = apply_record(world, number)
    assert (fields["bypassedBy"], fields["bypassReason"]) == ("alice", "INC-42 payments are down")
    assert (fields["mergeTrigger"], fields["mergeRequestedBy"]) == ("bypass", "alice")
    assert fields["approvals"] == []
    assert trailers(world, "Sealgate-Bypassed-By") == ["alice"]
    assert trailers(world, "Sealgate-Bypass-Reason") == ["INC-42 payments are down"]
    assert trailers(world, "Sealgate-Merge-Trigger") == ["/sealgate bypass by alice"]


def _forms(value: bytes) -> list[bytes]:
    return [
        value,
        base64.b64encode(value).rstrip(b"="),
        base64.urlsafe_b64encode(value).rstrip(b"="),
        value.hex().encode(),
    ]


QUOTES = pytest.mark.parametrize(
    "quote",
    [
        lambda v: v.decode(),
        lambda v: base64.b64encode(v).decode(),
        lambda v: v.hex().upper(),
    ],
    ids=["plain", "base64", "hex"],
)


def _nowhere(world: World, caplog: pytest.LogCaptureFixture, value: bytes, number: int) -> None:
    """No form of ``value`` in the store's objects, the logs, or the pull request's comments
    and checks."""
    places = b"\n".join(world.store_blobs()) + caplog.text.encode()
    places += repr(world.hub.comments(OWNER, REPO, number)).encode()
    places += repr(world.hub.check_runs(OWNER, REPO, world.head(number))).encode()
    for form in _forms(value):
        assert form not in places
        assert form.lower() not in places.lower()


@QUOTES
def test_a_reason_quoting_its_own_value_is_refused_before_the_merge(
    plain_world: World, caplog: pytest.LogCaptureFixture, quote: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    world = plain_world
    number = open_with_reason(world, f"the new one is {quote(PLANTED)}", PLANTED, branch="oops")
    controller = world.controller()
    try:
        world.approve("bob", number)
        status = controller.reconciler.handle(FULL, number)
    finally:
        controller.close()
    assert status.status is Status.INVALID, status.messages
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    (check,) = world.checks(world.head(number), "sealgate")
    assert "spec.reason: quotes the value of spec.set.password" in json.dumps(check["output"])
    _nowhere(world, caplog, PLANTED, number)


@QUOTES
def test_a_reason_quoting_the_value_it_replaces_is_withheld_from_records_and_trailers(
    plain_world: World, caplog: pytest.LogCaptureFixture, quote: Any
) -> None:
    """Judging opens only the new values; the store, which also opens the old ones, is the
    backstop for a reason that quotes the value being replaced."""
    caplog.set_level(logging.DEBUG)
    world = plain_world
    controller = world.controller()
    try:
        first = open_with_reason(world, "first value", PLANTED, branch="first")
        world.approve("bob", first)
        assert controller.reconciler.handle(FULL, first).status is Status.SYNCED
        reason = f"the old password {quote(PLANTED)} leaked"
        number = open_with_reason(world, reason, b"replacement-value-9", branch="second")
        world.approve("bob", number)
        done = controller.reconciler.handle(FULL, number)
        assert done.status is Status.SYNCED, done.messages
    finally:
        controller.close()

    fields = apply_record(world, number)
    (entry,) = fields["reasons"]
    assert entry["withheld"] is True
    assert "withheld" in entry["reason"]
    (reason_trailer,) = trailers(world, "Sealgate-Reason")
    assert "withheld" in reason_trailer
    assert "withheld from the audit log" in caplog.text
    _nowhere(world, caplog, PLANTED, number)


def test_a_rollback_after_a_failed_rollout_names_the_pull_request_behind_it(
    plain_world: World,
) -> None:
    world = plain_world
    controller = world.controller()
    try:
        first = world.open_pull(b"good-password")
        world.approve("bob", first)
        assert controller.reconciler.handle(FULL, first).status is Status.SYNCED
        world.kube.fail_rollouts(NAMESPACE, "Deployment", "api", "image pull backoff")
        number = world.open_pull(b"bad-password", on_rollout_failure="rollback")
        world.approve("carol", number)
        assert controller.reconciler.handle(FULL, number).status is Status.FAILED
        (rollback,) = [r for r in controller.store.audit_records() if r.event == "rollback"]
        assert controller.store.audit_verify().ok
    finally:
        controller.close()
    pull = world.hub.pull(OWNER, REPO, number)
    fields = rollback.fields
    assert (fields["pullRequest"], fields["pullRequestUrl"]) == (number, pull["html_url"])
    assert (fields["requester"], fields["approvedBy"], fields["actor"]) == ("alice", ["carol"], BOT)
    assert trailers(world, "Sealgate-Pull-Request") == [pull["html_url"]]
    assert trailers(world, "Rolled-Back-By") == [BOT]


GOVERNANCE_YAML = b"""\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata:
  name: governance
spec:
  environments: [governance]
  approvals:
    required: 1
    users: [carol]
"""


def test_a_governance_merge_records_who_asked_approved_and_merged(plain_world: World) -> None:
    world = plain_world
    files: Mapping[str, bytes | None] = {"policies/governance.yaml": GOVERNANCE_YAML}
    world.hub.push(OWNER, REPO, "main", files, message="governance", author="alice")
    controller = world.controller()
    try:
        # The first pass trusts the rules on first use; the governance pull request follows.
        assert controller.reconciler.handle(FULL, world.open_pull()).status is Status.PENDING
        policy = POLICY_YAML.replace(b"users: [bob, carol]", b"users: [bob, carol, erin]")
        world.hub.push(
            OWNER,
            REPO,
            "rules",
            {"policies/production.yaml": policy},
            message="let erin approve",
            author="alice",
            base="main",
        )
        number = world.hub.open_pull_request(
            OWNER, REPO, head="rules", title="Let erin approve", author="alice"
        )
        world.approve("carol", number)
        assert controller.reconciler.handle(FULL, number).status is Status.SYNCED
        trusted = [r.fields for r in controller.store.audit_records() if r.event == "rules-trusted"]
    finally:
        controller.close()
    pull = world.hub.pull(OWNER, REPO, number)
    assert "requester" not in trusted[0]  # trust on first use: no pull request behind it
    governance = trusted[1]
    assert governance["how"] == "governance-pull-request"
    assert governance["requester"] == "alice"
    assert governance["approvals"] == [
        {"login": "carol", "policy": "governance", "step": "approvals"}
    ]
    assert (governance["mergedBy"], governance["mergeTrigger"]) == (BOT, "auto-merge")
    assert governance["pullRequestUrl"] == pull["html_url"]
    assert trailers(world, "Sealgate-Requester") == ["alice"]
    assert trailers(world, "Sealgate-Merge-Trigger") == ["auto-merge"]
