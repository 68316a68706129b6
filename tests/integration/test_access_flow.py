"""An access request through the reconciler, over loopback GitHub and Kubernetes.

The request is judged by the same pipeline as a change: pending check, approval, merge.
What it must not do is reach the store or the clusters as a change: the grant it becomes
is recorded separately.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path

import pytest

from controller.reconciler import Status
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

ACCESS_POLICY = POLICY_YAML.replace(
    b"  expiresAfter: 7d\n", b"  expiresAfter: 7d\n  actions: [change, access]\n  maxDuration: 1d\n"
)


def access_yaml(requester: str = "alice", duration: str = "2h", key: str = "password") -> bytes:
    return (
        "apiVersion: sealgate.dev/v1\n"
        "kind: AccessRequest\n"
        "metadata:\n  name: incident-4711\n"
        "spec:\n"
        f"  environment: {ENV}\n"
        f"  secrets:\n    - {{secret: {NAMESPACE}/{SECRET}, keys: [{key}]}}\n"
        f"  requester: {requester}\n"
        "  reason: Investigating failed payouts, incident 4711\n"
        f"  duration: {duration}\n"
        "  activateWithin: 24h\n"
    ).encode()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(tmp_path, policy=ACCESS_POLICY)
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


def open_access_pull(world: World, files: Mapping[str, bytes | None], author: str = "alice") -> int:
    branch = f"access-{next(world.branches)}"
    world.hub.push(OWNER, REPO, branch, files, message="ask for access", author=author, base="main")
    return world.hub.open_pull_request(
        OWNER, REPO, head=branch, title="Access for incident 4711", author=author
    )


def seeded(world: World, controller: Controller) -> None:
    """The secret exists in the store and the cluster: an access request may name it."""
    number = world.open_pull(CANARY)
    controller.reconciler.handle(FULL, number)
    world.approve("bob", number)
    assert controller.reconciler.handle(FULL, number).status is Status.SYNCED


def test_access_pull_request_is_judged_merged_and_not_applied(
    world: World, controller: Controller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seeded(world, controller)
    commits, rollouts = world.store_commits(), world.rollouts()
    number = open_access_pull(world, {f"access/{ENV}/incident-4711.yaml": access_yaml()})

    pending = controller.reconciler.handle(FULL, number)
    assert pending.status is Status.PENDING, pending.messages
    (check,) = world.checks(world.head(number), "sealgate")
    assert (check["status"], check.get("conclusion")) == ("in_progress", None)
    labels = [n for n in world.hub.labels(OWNER, REPO, number) if n.startswith("sealgate:")]
    assert labels == ["sealgate:pending"]

    world.comment("bob", number, "/sealgate approve-for 30m")
    world.approve("bob", number)
    done = controller.reconciler.handle(FULL, number)

    assert world.hub.pull(OWNER, REPO, number)["merged"] is True, done.messages
    # Not a change: no store apply, nothing written to the cluster; one store commit, the
    # grant's, which lasts what the approver allowed.
    assert controller.store.is_applied(f"{ENV}/pr-{number}") is None
    assert done.status is Status.GRANTED, done.messages
    (grant,) = controller.store.grants()
    assert (grant.requester, grant.pull_request, grant.duration) == (
        "alice",
        number,
        timedelta(minutes=30),
    )
    assert world.store_commits() == commits + 1
    assert world.rollouts() == rollouts
    (sync,) = world.checks(world.head(number), "sealgate/sync")
    assert sync["conclusion"] == "success"
    stored = controller.store.read_secret(ENV, f"{NAMESPACE}/{SECRET}")
    assert stored is not None
    assert stored.data["password"] == CANARY
    # The approver's approve-for was taken: the reply says how long the grant lasts.
    replies = [
        c["body"] for c in world.hub.comments(OWNER, REPO, number) if "approve-for" in c["body"]
    ]
    assert any("the grant lasts 30m" in body for body in replies), replies
    # The value never shows anywhere the request's pull request is reported.
    reported = repr(world.hub.comments(OWNER, REPO, number)) + repr(
        world.hub.check_runs(OWNER, REPO, world.head(number))
    )
    assert CANARY.decode() not in reported
    assert CANARY.decode() not in caplog.text


def test_access_to_a_secret_the_store_lacks_is_invalid(
    world: World, controller: Controller
) -> None:
    seeded(world, controller)
    number = open_access_pull(world, {f"access/{ENV}/x.yaml": access_yaml(key="nope")})
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID, status.messages
    (check,) = world.checks(world.head(number), "sealgate")
    assert "has no key nope in the store" in check["output"]["summary"]


def test_access_requested_for_someone_else_is_invalid(world: World, controller: Controller) -> None:
    seeded(world, controller)
    number = open_access_pull(world, {f"access/{ENV}/x.yaml": access_yaml(requester="carol")})
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID, status.messages


def test_access_mixed_with_a_change_is_invalid_and_not_applied(
    world: World, controller: Controller
) -> None:
    seeded(world, controller)
    commits = world.store_commits()
    files = {
        f"access/{ENV}/x.yaml": access_yaml(),
        f"changes/{ENV}/mixed.yaml": world.change_yaml("mixed", b"other-value"),
    }
    number = open_access_pull(world, files)
    world.approve("bob", number)
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID, status.messages
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert world.store_commits() == commits


def test_a_revocation_shows_on_the_summary_of_the_pass_that_applies_it(
    world: World, controller: Controller
) -> None:
    seeded(world, controller)
    number = open_access_pull(world, {f"access/{ENV}/incident-4711.yaml": access_yaml()})
    controller.reconciler.handle(FULL, number)
    world.approve("bob", number)
    assert controller.reconciler.handle(FULL, number).status is Status.GRANTED

    world.comment("alice", number, "/sealgate revoke done with the incident")
    controller.reconciler.handle(FULL, number)

    (grant,) = controller.store.grants()
    assert (grant.revoked_by, grant.revoke_reason) == ("alice", "done with the incident")
    # Nothing may trigger another pass: this one's summary must already say it.
    (sticky,) = [
        c["body"]
        for c in world.hub.comments(OWNER, REPO, number)
        if c["body"].startswith("<!-- sealgate:summary -->")
    ]
    assert "### sealgate: access revoked" in sticky
    assert "(just now) by `alice`: done with the incident" in sticky
    assert "**Active:**" not in sticky
