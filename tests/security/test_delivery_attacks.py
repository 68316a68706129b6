"""Delivery attacks over the loopback GitHub and Kubernetes servers.

A workload that never becomes ready must not silently undo an approved rotation; a sealed
value copied from an earlier pull request must not bring an old value back; a change must
not write a namespace its environment does not list, least of all ``kube-system``. Each is
played through pull requests and reviews, and judged from the store, the cluster and what
GitHub shows.
"""

from __future__ import annotations

import base64

from controller.reconciler import Status
from tests.integration.test_reconciler_world import (
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

PATH = f"{NAMESPACE}/{SECRET}"


def land(world: World, controller: Controller, value: bytes, **options: str) -> int:
    number = world.open_pull(value, **options)
    world.approve("bob", number)
    controller.reconciler.handle(FULL, number)
    return number


def cluster_value(world: World) -> bytes:
    secret = world.secret()
    assert secret is not None
    return base64.b64decode(secret["data"]["password"])


def store_value(controller: Controller) -> tuple[int, bytes]:
    stored = controller.store.read_secret(ENV, PATH)
    assert stored is not None
    return stored.version, stored.data["password"]


def comments(world: World, number: int) -> str:
    return "\n".join(c["body"] for c in world.hub.comments(OWNER, REPO, number))


def test_a_workload_that_never_gets_ready_cannot_veto_a_rotation(
    world: World, controller: Controller
) -> None:
    land(world, controller, b"leaked-password")
    world.kube.fail_rollouts(NAMESPACE, "Deployment", DEPLOYMENT, "readiness probe failed")

    number = world.open_pull(b"rotated-password")
    controller.reconciler.handle(FULL, number)
    pending = world.checks(world.head(number), "sealgate")[-1]["output"]["summary"]
    assert "keep: the new value stays in store and cluster" in pending
    world.approve("bob", number)
    status = controller.reconciler.handle(FULL, number)

    assert status.status is Status.FAILED
    # The rotated value stays: store and cluster hold it, nothing was rolled back.
    assert store_value(controller) == (2, b"rotated-password")
    assert cluster_value(world) == b"rotated-password"
    assert not [r for r in controller.store.audit_records() if r.event == "rollback"]
    (apply,) = [
        r
        for r in controller.store.audit_records()
        if r.event == "apply" and r.fields["changeId"] == f"{ENV}/pr-{number}"
    ]
    assert apply.fields["secrets"][f"{ENV}/{PATH}"]["onRolloutFailure"] == "keep"
    # And it is loud about it.
    (sync,) = world.checks(world.head(number), "sealgate/sync")
    assert sync["conclusion"] == "failure"
    assert sync["output"]["title"] == "sealgate/sync: rollout failed, new value kept"
    assert "readiness probe failed" in sync["output"]["summary"]
    assert "The new value was kept" in sync["output"]["summary"]
    assert "kept the new value in store and cluster" in comments(world, number)


def test_a_rollback_asked_for_says_the_replaced_value_is_back_everywhere(
    world: World, controller: Controller
) -> None:
    land(world, controller, b"old-password")
    world.kube.fail_rollouts(NAMESPACE, "Deployment", DEPLOYMENT, "crash loop")

    number = world.open_pull(b"new-password", on_rollout_failure="rollback")
    controller.reconciler.handle(FULL, number)
    pending = world.checks(world.head(number), "sealgate")[-1]["output"]["summary"]
    assert "**rollback**: the Secret returns to the content this change replaces" in pending
    world.approve("bob", number)
    status = controller.reconciler.handle(FULL, number)

    assert status.status is Status.FAILED
    assert store_value(controller) == (3, b"old-password")
    assert cluster_value(world) == b"old-password"
    (rollback,) = [r for r in controller.store.audit_records() if r.event == "rollback"]
    assert "the value that change replaced is in use again" in rollback.fields["reason"]
    assert controller.store.audit_verify().ok
    (sync,) = world.checks(world.head(number), "sealgate/sync")
    assert "rolled back to the replaced value" in sync["output"]["title"]
    assert "the value this change replaced is in use again" in sync["output"]["summary"]
    assert "the value this change replaced is in use again" in comments(world, number)


def test_a_sealed_value_copied_from_an_applied_pull_request_is_refused(
    world: World, controller: Controller
) -> None:
    old_sealed = world.seal(b"value-from-last-year")
    first = land(world, controller, b"", sealed=old_sealed)
    assert store_value(controller) == (1, b"value-from-last-year")
    land(world, controller, b"rotated-value")
    assert store_value(controller) == (2, b"rotated-value")
    commits = world.store_commits()

    # Copied from git history, with the base64 padding respelled so the text differs.
    replayed = world.open_pull(b"", sealed=old_sealed + "=" * (-len(old_sealed) % 4 or 4))
    world.approve("bob", replayed)
    status = controller.reconciler.handle(FULL, replayed)

    assert status.status is Status.INVALID
    summary = world.checks(world.head(replayed), "sealgate")[-1]["output"]["summary"]
    assert "spec.set.password" in summary
    assert f"already applied (by {ENV}/pr-{first})" in summary
    assert "seal the value again" in summary
    assert world.hub.pull(OWNER, REPO, replayed)["merged"] is False
    assert store_value(controller) == (2, b"rotated-value")
    assert cluster_value(world) == b"rotated-value"
    assert world.store_commits() == commits
    # The store keeps digests, never the sealed text.
    assert not any(old_sealed.split(":")[2].encode() in blob for blob in world.store_blobs())


def test_the_pull_requests_own_values_are_not_a_replay_after_its_merge(
    world: World, controller: Controller
) -> None:
    number = land(world, controller, b"fresh-value")
    again = controller.reconciler.handle(FULL, number)
    assert again.status is Status.SYNCED, again.messages


def test_a_change_to_kube_system_is_refused(world: World, controller: Controller) -> None:
    world.kube.create_namespace("kube-system")
    number = world.open_pull(b"token", secret="kube-system/bootstrap-token")
    world.approve("bob", number)
    status = controller.reconciler.handle(FULL, number)

    assert status.status is Status.INVALID
    summary = world.checks(world.head(number), "sealgate")[-1]["output"]["summary"]
    assert "spec.secret" in summary
    assert "namespace 'kube-system' is reserved (system or controller namespace)" in summary
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert world.kube.get("v1", "Secret", "kube-system", "bootstrap-token") is None
    assert controller.store.list_secrets(ENV) == []


def test_whether_a_value_equals_a_stored_one_is_said_only_once_applied(
    world: World, controller: Controller
) -> None:
    """A "rotation" back to an earlier value is reported, but only after it was approved and
    applied: said on a pending pull request, every pull request would answer one guess."""
    land(world, controller, b"leaked-value")
    land(world, controller, b"rotated-value")

    guess = world.open_pull(b"leaked-value")
    controller.reconciler.handle(FULL, guess)
    pending = world.checks(world.head(guess), "sealgate")[-1]["output"]["summary"]
    assert "**Warnings:**" not in pending
    assert "equals" not in pending + comments(world, guess)

    world.approve("bob", guess)
    controller.reconciler.handle(FULL, guess)
    applied = world.checks(world.head(guess), "sealgate")[-1]["output"]["summary"]
    assert "**Warnings:**" in applied
    assert "equals the value of version 1, which was replaced since" in applied
    fresh = land(world, controller, b"a-new-value")
    assert (
        "**Warnings:**" not in world.checks(world.head(fresh), "sealgate")[-1]["output"]["summary"]
    )
    for text in (pending, applied, comments(world, guess)):
        assert "leaked-value" not in text
        assert "rotated-value" not in text
