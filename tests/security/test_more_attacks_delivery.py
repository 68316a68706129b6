"""Attacks on delivery: a workload in the namespace planting Secrets, merges around sealgate,
forged completion records, and the controller's HTTP API.

Each goes through the loopback GitHub and Kubernetes APIs and is judged from what the store,
the cluster and GitHub hold afterwards.
"""

from __future__ import annotations

import queue
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from controller.github import GitHubClient, WebhookEvent
from controller.reconciler import Status
from controller.run.metrics import Metrics
from controller.server.app import ControllerApp, Readiness
from controller.server.http import HttpServer
from controller.server.webhook_app import WebhookApp
from tests.integration.test_reconciler_world import (
    CANARY,
    ENV,
    FULL,
    NAMESPACE,
    OWNER,
    SECRET,
    Controller,
    World,
)
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414
from tests.security.attack_support import (
    PATH,
    approve_and_handle,
)


def test_a_secret_pre_created_by_a_workload_is_not_overwritten(
    world: World, controller: Controller
) -> None:
    # A workload creates the name first, hoping sealgate fills it with production values.
    planted = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": SECRET,
            "namespace": NAMESPACE,
            "annotations": {"sealgate.dev/change-id": f"{ENV}/pr-1", "sealgate.dev/checksum": "0"},
        },
        "type": "Opaque",
        "data": {"password": "cGxhbnRlZA=="},
    }
    world.kube.put(planted)
    number = world.open_pull(b"production-value")
    assert approve_and_handle(world, controller, number) is Status.FAILED
    secret = world.secret()
    assert secret is not None
    assert secret["data"] == {"password": "cGxhbnRlZA=="}
    assert world.rollouts() == 0
    (sync,) = world.checks(world.head(number), "sealgate/sync")
    assert sync["conclusion"] == "failure"
    assert "sealgate.dev/adopt=true" in sync["output"]["summary"]
    assert "production-value" not in sync["output"]["summary"]


def test_a_secret_pre_created_with_sealgates_label_is_not_taken_for_sealgates(
    world: World, controller: Controller
) -> None:
    # The label is what anyone may set; the keyed checksum sealgate writes is not. A workload
    # pre-creating the name with sealgate's label and a mirroring tool's annotations (copy me
    # into other namespaces) and an owner of its own must not get production values into it.
    world.kube.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": SECRET,
                "namespace": NAMESPACE,
                "labels": {"app.kubernetes.io/managed-by": "sealgate"},
                "annotations": {
                    "reflector.v1.k8s.emberstack.com/reflection-allowed": "true",
                    "reflector.v1.k8s.emberstack.com/reflection-auto-enabled": "true",
                },
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "mine", "uid": "123"}
                ],
            },
            "type": "Opaque",
            "data": {"password": "cGxhbnRlZA=="},
        }
    )
    number = world.open_pull(b"production-value")
    assert approve_and_handle(world, controller, number) is Status.FAILED
    secret = world.secret()
    assert secret is not None
    assert secret["data"] == {"password": "cGxhbnRlZA=="}
    assert world.rollouts() == 0
    (sync,) = world.checks(world.head(number), "sealgate/sync")
    assert "carries sealgate's label but no checksum sealgate wrote" in sync["output"]["summary"]


def test_drift_repair_writes_no_stored_value_into_a_look_alike_secret(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(b"production-value")
    assert approve_and_handle(world, controller, number) is Status.SYNCED
    # Same name, another namespace; and another name with sealgate's label and annotations.
    world.kube.create_namespace("orders")
    look_alikes = [("orders", SECRET), (NAMESPACE, "db-copy")]
    for namespace, name in look_alikes:
        world.kube.put(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": {"app.kubernetes.io/managed-by": "sealgate"},
                    "annotations": {"sealgate.dev/change-id": f"{ENV}/pr-{number}"},
                },
                "type": "Opaque",
                "data": {},
            }
        )
    controller.reconciler.repair_drift()
    for namespace, name in look_alikes:
        secret = world.kube.get("v1", "Secret", namespace, name)
        assert secret is not None
        assert not secret.get("data")


def test_a_pull_request_merged_around_sealgate_is_never_applied(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(b"unreviewed-value")
    world.as_user("erin").get_repo(FULL).get_pull(number).merge()
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.FAILED
    assert "merged by erin without an approved sealgate decision" in " ".join(status.messages)
    assert controller.store.list_secrets(ENV) == []
    assert world.secret() is None
    assert world.rollouts() == 0


def test_a_sync_status_forged_by_a_developer_does_not_stop_delivery(world: World) -> None:
    # With token auth the completion record is a commit status, which anyone with write
    # access can post under the same context.
    controller = world.controller(token=world.tokens["sealbot"])
    try:
        number = world.open_pull(b"approved-value")
        world.approve("bob", number)
        head = world.head(number)
        repo = world.as_user("alice").get_repo(FULL)
        repo.get_commit(head).create_status(
            "success", description="sealgate/sync: synced", context="sealgate/sync"
        )
        # An admin merges by hand an approved request; sealgate must still deliver it.
        world.as_user("erin").get_repo(FULL).get_pull(number).merge()
        assert number in controller.reconciler.work_items(FULL)
        assert controller.reconciler.handle(FULL, number).status is Status.SYNCED
        stored = controller.store.read_secret(ENV, PATH)
        assert stored is not None
        assert stored.data["password"] == b"approved-value"
        assert world.rollouts() == 1
    finally:
        controller.close()


def test_a_sync_check_run_from_another_app_does_not_stop_delivery(
    world: World, controller: Controller
) -> None:
    # Another App installed on the organisation (a CI bot) writes a finished sealgate/sync.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    world.hub.register_app(6161, "ci", public, installation_id=6262, owner=OWNER)
    ci = GitHubClient.from_app(6161, pem, 6262, slug="ci", base_url=world.hub.url)
    try:
        number = world.open_pull(b"approved-value")
        world.approve("bob", number)
        head = world.head(number)
        ci.repo(FULL).create_check_run(
            "sealgate/sync",
            head,
            status="completed",
            conclusion="success",
            output={"title": "sealgate/sync: applied and synced", "summary": "done"},
        )
        world.as_user("erin").get_repo(FULL).get_pull(number).merge()
        assert number in controller.reconciler.work_items(FULL)
        assert controller.reconciler.handle(FULL, number).status is Status.SYNCED
        stored = controller.store.read_secret(ENV, PATH)
        assert stored is not None
        assert stored.data["password"] == b"approved-value"
        assert world.rollouts() == 1
    finally:
        ci.close()


def test_the_status_api_shows_no_value_and_answers_nothing_it_does_not_know(
    world: World, controller: Controller
) -> None:
    sealed = world.seal(CANARY)
    number = world.open_pull(b"", sealed=sealed)
    assert approve_and_handle(world, controller, number) is Status.SYNCED

    def status(repo: str, pull: int) -> dict[str, Any] | None:
        found = controller.reconciler.status(repo, pull)
        return None if found is None else found.to_json()

    metrics = Metrics()
    events: queue.Queue[WebhookEvent] = queue.Queue(maxsize=4)
    app = ControllerApp(
        webhooks=WebhookApp(b"webhook-secret", events),
        readiness=Readiness(),
        metrics=metrics.render,
        metrics_content_type=metrics.content_type,
        status=status,
    )
    server = HttpServer("127.0.0.1", 0, app)
    server.start()
    try:
        known = requests.get(f"{server.url}/v1/requests/{FULL}/{number}", timeout=10)
        assert known.status_code == 200
        assert known.json()["status"] == "synced"
        assert CANARY.decode() not in known.text
        assert sealed.split(":")[2] not in known.text
        for path in (
            f"/v1/requests/{FULL}/{number + 1}",
            f"/v1/requests/{OWNER}/other/{number}",
            f"/v1/requests/{OWNER}/..%2F..%2Fetc/{number}",
            f"/v1/requests/{FULL}/0",
        ):
            answer = requests.get(f"{server.url}{path}", timeout=10)
            assert answer.status_code in (400, 404), path
            assert CANARY.decode() not in answer.text
        assert (
            requests.post(f"{server.url}/v1/requests/{FULL}/{number}", timeout=10).status_code
            == 405
        )
        assert not events.qsize()
    finally:
        server.stop()


def test_an_old_merged_pull_request_handled_again_after_a_restart_changes_nothing(
    world: World, controller: Controller
) -> None:
    # A replayed webhook (or a poll) brings an old merged pull request back to a restarted
    # controller after a newer rotation: the old value must not return.
    first = world.open_pull(b"old-value")
    assert approve_and_handle(world, controller, first) is Status.SYNCED
    assert approve_and_handle(world, controller, world.open_pull(b"new-value")) is Status.SYNCED
    commits, rollouts = world.store_commits(), world.rollouts()
    restarted = world.controller()
    try:
        assert restarted.reconciler.handle(FULL, first).status is Status.SYNCED
        stored = restarted.store.read_secret(ENV, PATH)
        assert stored is not None
        assert (stored.version, stored.data["password"]) == (2, b"new-value")
    finally:
        restarted.close()
    assert world.store_commits() == commits
    assert world.rollouts() == rollouts
    secret = world.secret()
    assert secret is not None
    assert secret["metadata"]["annotations"]["sealgate.dev/store-version"] == "2"
