"""Rollout safety, drift repair, expiry and reminders, over the loopback servers."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta

import pytest

from controller.github import note_marker
from controller.kube import names
from controller.reconciler import ReconcilerSettings, Status
from tests.integration.test_reconciler_world import (
    BOT,
    DEPLOYMENT,
    ENV,
    FULL,
    NAMESPACE,
    OWNER,
    REPO,
    SECRET,
    Controller,
    World,
)
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def land(
    world: World, controller: Controller, value: bytes, on_rollout_failure: str | None = None
) -> int:
    number = world.open_pull(value, on_rollout_failure=on_rollout_failure)
    world.approve("bob", number)
    status = controller.reconciler.handle(FULL, number)
    assert status.status in (Status.SYNCED, Status.FAILED), status.messages
    return number


def cluster_value(world: World) -> bytes:
    secret = world.secret()
    assert secret is not None
    return base64.b64decode(secret["data"]["password"])


def test_failed_rollout_rolls_the_secret_back_and_reports_both(
    world: World, controller: Controller
) -> None:
    first = land(world, controller, b"good-password")
    assert world.rollouts() == 1
    world.kube.fail_rollouts(NAMESPACE, "Deployment", DEPLOYMENT, "image pull backoff on api")

    number = land(world, controller, b"bad-password", on_rollout_failure="rollback")
    status = controller.reconciler.status(FULL, number)

    assert status is not None
    assert status.status is Status.FAILED
    assert any("rolled back" in m for m in status.messages)
    # The store: v2 is the change, v3 returns to v1's content through an audited rollback.
    stored = controller.store.read_secret(ENV, f"{NAMESPACE}/{SECRET}")
    assert stored is not None
    assert stored.version == 3
    assert stored.data["password"] == b"good-password"
    (rollback,) = [r for r in controller.store.audit_records() if r.event == "rollback"]
    assert rollback.fields["actor"] == BOT
    assert rollback.fields["toVersion"] == 1
    assert controller.store.audit_verify().ok
    # The cluster holds the rolled-back content; the workload rolled for v2 and again for v3.
    assert cluster_value(world) == b"good-password"
    assert world.secret() is not None
    assert world.secret()["metadata"]["annotations"][names.STORE_VERSION] == "3"  # type: ignore[index]
    assert world.rollouts() == 3
    # The pull request and the approvers hear about both.
    (sync,) = world.checks(world.head(number), "sealgate/sync")
    assert sync["conclusion"] == "failure"
    assert "rolled back" in sync["output"]["title"]
    assert "image pull backoff on api" in sync["output"]["summary"]
    assert "Rolled back to the previous content" in sync["output"]["summary"]
    assert any("rollout failed" in c["body"] for c in world.hub.comments(OWNER, REPO, number))
    failed = [n for n, _ in controller.notifier.sent if n.pull_request == number]
    assert failed[-1].kind.value == "failed"
    assert "bob" in failed[-1].approvers_needed
    assert controller.observer.count("rolled_back", ENV) == 1
    assert first != number

    # Re-running neither rolls back twice nor restarts anything.
    commits, rollouts = world.store_commits(), world.rollouts()
    fresh = world.controller()
    try:
        assert fresh.reconciler.work_items(FULL) == []
        assert fresh.reconciler.handle(FULL, number).status is Status.FAILED
    finally:
        fresh.close()
    assert (world.store_commits(), world.rollouts()) == (commits, rollouts)


def test_rollback_can_be_turned_off(world: World) -> None:
    controller = world.controller(
        ReconcilerSettings(
            bot_login=BOT,
            rollout_timeout_s=10.0,
            rollback_on_failure=False,
            environment_clusters={ENV: ("loop",)},
        )
    )
    try:
        land(world, controller, b"one")
        world.kube.fail_rollouts(NAMESPACE, "Deployment", DEPLOYMENT)
        number = land(world, controller, b"two", on_rollout_failure="rollback")
        status = controller.reconciler.status(FULL, number)
        assert status is not None
        assert status.status is Status.FAILED
        assert cluster_value(world) == b"two"
        assert not [r for r in controller.store.audit_records() if r.event == "rollback"]
    finally:
        controller.close()


def test_drift_is_repaired_from_the_store_and_reported(
    world: World, controller: Controller, caplog: pytest.LogCaptureFixture
) -> None:
    land(world, controller, b"store-value")
    assert world.rollouts() == 1

    edited = world.secret()
    assert edited is not None
    edited["data"]["password"] = base64.b64encode(b"edited-by-hand").decode()
    world.kube.put(edited)
    caplog.set_level(logging.WARNING)
    report = controller.reconciler.repair_drift()
    assert [(r.name, r.outcome) for r in report.repaired] == [(SECRET, "updated")]
    assert cluster_value(world) == b"store-value"
    assert world.rollouts() == 2  # pods may have started with the edited content
    assert "drift repaired" in caplog.text

    world.kube.delete("v1", "Secret", NAMESPACE, SECRET)
    report = controller.reconciler.repair_drift()
    assert [(r.name, r.outcome) for r in report.repaired] == [(SECRET, "created")]
    assert cluster_value(world) == b"store-value"
    assert controller.observer.count("drift_repaired", "1") == 2

    world.kube.reset_request_log()
    quiet = controller.reconciler.repair_drift()
    assert quiet.repaired == ()
    assert world.kube_writes() == []


def test_a_fresh_controller_learns_clusters_from_the_default_branch_for_drift(
    world: World, controller: Controller
) -> None:
    land(world, controller, b"store-value")
    world.kube.delete("v1", "Secret", NAMESPACE, SECRET)

    # As `sealgate run` builds it: no environment-to-cluster map given up front.
    restarted = world.controller(ReconcilerSettings(bot_login=BOT, rollout_timeout_s=10.0))
    try:
        # Just started, no pull request handled: it knows no environment's clusters yet.
        assert restarted.reconciler.repair_drift().repaired == ()
        assert world.secret() is None

        assert restarted.reconciler.learn_environments(FULL) == ("production",)
        report = restarted.reconciler.repair_drift()
        assert [(r.name, r.outcome) for r in report.repaired] == [(SECRET, "created")]
        assert cluster_value(world) == b"store-value"
    finally:
        restarted.close()


def test_expired_request_is_reported_and_notified_once(world: World) -> None:
    clock = Clock()
    controller = world.controller(clock=clock)
    try:
        number = world.open_pull(b"late")
        assert controller.reconciler.handle(FULL, number).status is Status.PENDING
        clock.now += timedelta(days=8)

        report = controller.reconciler.expire_and_remind(FULL)
        again = controller.reconciler.expire_and_remind(FULL)

        assert report.expired == (number,)
        assert again.expired == (number,)
        assert controller.notifier.kinds(number).count("expired") == 1
        marker = note_marker("expired")
        notes = [c for c in world.hub.comments(OWNER, REPO, number) if marker in c["body"]]
        assert len(notes) == 1
        assert notes[0]["user"]["login"] == BOT
        run = max(world.checks(world.head(number), "sealgate"), key=lambda r: int(r["id"]))
        assert run["conclusion"] == "failure"
        labels = [n for n in world.hub.labels(OWNER, REPO, number) if n.startswith("sealgate:")]
        assert labels == ["sealgate:rejected"]
        world.approve("bob", number)
        assert controller.reconciler.handle(FULL, number).status is Status.EXPIRED
        assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    finally:
        controller.close()


def test_pending_request_gets_one_reminder_per_interval(world: World) -> None:
    clock = Clock()
    controller = world.controller(clock=clock)
    try:
        number = world.open_pull(b"waiting")
        controller.reconciler.handle(FULL, number)
        assert controller.reconciler.expire_and_remind(FULL).reminded == ()
        clock.now += timedelta(minutes=61)
        assert controller.reconciler.expire_and_remind(FULL).reminded == (number,)
        assert controller.reconciler.expire_and_remind(FULL).reminded == ()
        clock.now += timedelta(minutes=60)
        assert controller.reconciler.expire_and_remind(FULL).reminded == (number,)
        assert controller.notifier.kinds(number) == ["waiting", "reminder", "reminder"]
        (reminder, targets) = controller.notifier.sent[-1]
        assert "bob" in reminder.approvers_needed
        assert targets.slack == ("#prod-approvals",)
    finally:
        controller.close()
