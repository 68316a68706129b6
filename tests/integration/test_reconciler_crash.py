"""Crash-resume: a controller process killed at each step, then a fresh one finishes the change.

The child is a real process running the real clients against the loopback servers; the
store's crash hook kills it with no cleanup at the named step. Afterwards a new reconciler
must find the unfinished pull request and complete it exactly once: one store apply, one
Secret version, one rollout, an audit log that verifies, and nothing more on a further pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.reconciler import Status
from tests.integration.test_reconciler_world import (
    ENV,
    FULL,
    NAMESPACE,
    OWNER,
    REPO,
    SECRET,
    World,
    build_world,
)

KILLED = 137


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(tmp_path)
    try:
        yield w
    finally:
        w.hub.stop()
        w.kube.stop()


@pytest.mark.parametrize(
    ("crashpoint", "still_listed"),
    [
        ("reconciler.after-merge", True),
        ("apply:blobs-written", True),
        ("apply:ref-updated", True),
        ("reconciler.after-apply", True),
        ("sync:secrets-written", True),
        ("reconciler.after-sync", True),
        ("reconciler.after-report", False),
    ],
)
def test_a_crash_at_each_step_is_finished_exactly_once(
    world: World, crashpoint: str, still_listed: bool
) -> None:
    number = world.open_pull(b"crash-proof")
    world.approve("bob", number)

    child = world.run_child(number, crashpoint)

    assert child.returncode == KILLED, child.stderr.decode(errors="replace")[-2000:]
    assert world.hub.pull(OWNER, REPO, number)["merged"] is True
    controller = world.controller()
    try:
        reconciler = controller.reconciler
        assert reconciler.work_items(FULL) == ([number] if still_listed else [])
        status = reconciler.handle(FULL, number)
        assert status.status is Status.SYNCED, status.messages

        change_id = f"{ENV}/pr-{number}"
        applies = [
            r
            for r in controller.store.audit_records()
            if r.event == "apply" and r.fields.get("changeId") == change_id
        ]
        assert len(applies) == 1
        stored = controller.store.read_secret(ENV, f"{NAMESPACE}/{SECRET}")
        assert stored is not None
        assert stored.version == 1
        assert stored.data["password"] == b"crash-proof"
        assert controller.store.audit_verify().ok
        secret = world.secret()
        assert secret is not None
        assert "sealgate.dev/restart-pending" not in secret["metadata"]["annotations"]
        assert world.rollouts() == 1
        runs = world.checks(world.head(number), "sealgate/sync")
        assert [(r["status"], r["conclusion"]) for r in runs] == [("completed", "success")]

        commits = world.store_commits()
        assert reconciler.work_items(FULL) == []
        assert reconciler.handle(FULL, number).status is Status.SYNCED
        assert world.store_commits() == commits
        assert world.rollouts() == 1
    finally:
        controller.close()


def test_a_crash_after_the_rollback_never_rolls_back_twice(world: World) -> None:
    first = world.controller()
    try:
        number = world.open_pull(b"good")
        world.approve("bob", number)
        assert first.reconciler.handle(FULL, number).status is Status.SYNCED
    finally:
        first.close()
    world.kube.fail_rollouts(NAMESPACE, "Deployment", "api", "crash loop")
    number = world.open_pull(b"bad", on_rollout_failure="rollback")
    world.approve("bob", number)

    child = world.run_child(number, "reconciler.after-rollback")

    assert child.returncode == KILLED, child.stderr.decode(errors="replace")[-2000:]
    controller = world.controller()
    try:
        assert controller.reconciler.work_items(FULL) == [number]
        status = controller.reconciler.handle(FULL, number)
        assert status.status is Status.FAILED
        rollbacks = [r for r in controller.store.audit_records() if r.event == "rollback"]
        assert len(rollbacks) == 1
        stored = controller.store.read_secret(ENV, f"{NAMESPACE}/{SECRET}")
        assert stored is not None
        assert (stored.version, stored.data["password"]) == (3, b"good")
        secret = world.secret()
        assert secret is not None
        assert secret["metadata"]["annotations"]["sealgate.dev/store-version"] == "3"
        assert controller.store.audit_verify().ok
        assert world.rollouts() == 3  # first change, the failed one, the rollback
        assert controller.reconciler.work_items(FULL) == []
    finally:
        controller.close()
