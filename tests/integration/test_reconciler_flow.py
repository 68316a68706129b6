"""The reconciler end to end over loopback GitHub and Kubernetes, through the real clients.

Pending → approved → merged (guarded by the head) → one store commit → the Secret in the
cluster with its provenance → the Deployment rolled once; a second pass changes nothing.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from controller.github import GitHubGateway
from controller.kube import names
from controller.reconciler import Reconciler, ReconcilerSettings, Status
from tests.integration.test_reconciler_world import (
    BOT,
    CANARY,
    DEPLOYMENT,
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
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414


def sealgate_labels(world: World, number: int) -> list[str]:
    return [n for n in world.hub.labels(OWNER, REPO, number) if n.startswith("sealgate:")]


def test_approved_pull_request_is_merged_applied_synced_and_rolled_once(
    world: World, controller: Controller
) -> None:
    reconciler = controller.reconciler
    number = world.open_pull(b"first-password")
    pending = reconciler.handle(FULL, number)
    assert pending.status is Status.PENDING
    assert sealgate_labels(world, number) == ["sealgate:pending"]
    assert controller.notifier.kinds(number) == ["waiting"]
    assert world.secret() is None

    world.approve("bob", number)
    assert reconciler.work_items(FULL) == [number]
    done = reconciler.handle(FULL, number)

    assert done.status is Status.SYNCED, done.messages
    pull = world.hub.pull(OWNER, REPO, number)
    assert pull["merged"] is True
    head = str(pull["head"]["sha"])
    # The store: one apply under the environment + pull-request change id.
    applied = controller.store.is_applied(f"{ENV}/pr-{number}")
    assert applied is not None
    assert dict(applied.versions) == {f"{ENV}/{NAMESPACE}/{SECRET}": 1}
    stored = controller.store.read_secret(ENV, f"{NAMESPACE}/{SECRET}")
    assert stored is not None
    assert stored.data["password"] == b"first-password"
    records = [r for r in controller.store.audit_records() if r.event == "apply"]
    assert [r.fields.get("changeId") for r in records] == [f"{ENV}/pr-{number}"]
    assert controller.store.audit_verify().ok
    # The cluster: the Secret with provenance, the Deployment rolled exactly once.
    secret = world.secret()
    assert secret is not None
    assert base64.b64decode(secret["data"]["password"]) == b"first-password"
    annotations = secret["metadata"]["annotations"]
    assert annotations[names.STORE_VERSION] == "1"
    assert annotations[names.CHANGE_ID] == f"{ENV}/pr-{number}"
    assert annotations[names.PULL_REQUEST] == str(number)
    assert world.rollouts() == 1
    # The pull request: sync check with a row per Secret and workload, applied label.
    (sync,) = world.checks(head, "sealgate/sync")
    assert (sync["status"], sync["conclusion"]) == ("completed", "success")
    assert (
        f"| loop | Deployment | {NAMESPACE} | {DEPLOYMENT} | rolled |" in sync["output"]["summary"]
    )
    assert f"| loop | Secret | {NAMESPACE} | {SECRET} | created |" in sync["output"]["summary"]
    assert sealgate_labels(world, number) == ["sealgate:applied"]
    assert controller.notifier.kinds(number) == ["waiting", "approved", "applied"]
    assert controller.observer.count("merged") == 1
    assert controller.observer.count("applied", ENV) == 1
    # The status API's view.
    as_json = done.to_json()
    assert as_json["status"] == "synced"
    assert as_json["changeIds"] == [f"{ENV}/pr-{number}"]
    assert as_json["versions"] == {f"{ENV}/{NAMESPACE}/{SECRET}": 1}
    assert reconciler.status(FULL, number) == done
    json.dumps(as_json)

    # A second pass, by this reconciler and by a fresh one, changes nothing anywhere.
    commits = world.store_commits()
    comments = len(world.hub.comments(OWNER, REPO, number))
    world.kube.reset_request_log()
    world.hub.reset_request_log()
    assert reconciler.work_items(FULL) == []
    again = reconciler.handle(FULL, number)
    fresh = world.controller()
    try:
        assert fresh.reconciler.work_items(FULL) == []
        from_fresh = fresh.reconciler.handle(FULL, number)
    finally:
        fresh.close()
    assert again.status is Status.SYNCED
    assert from_fresh.status is Status.SYNCED
    assert from_fresh.versions == done.versions
    assert world.store_commits() == commits
    assert world.kube_writes() == []
    assert world.github_writes() == []
    assert len(world.hub.comments(OWNER, REPO, number)) == comments
    assert world.rollouts() == 1


def test_no_plaintext_reaches_any_output(
    world: World, controller: Controller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    number = world.open_pull(CANARY)
    controller.reconciler.handle(FULL, number)
    world.approve("carol", number)
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.SYNCED, status.messages
    secret = world.secret()
    assert secret is not None
    assert base64.b64decode(secret["data"]["password"]) == CANARY

    canaries = (CANARY, base64.b64encode(CANARY), CANARY.hex().encode())
    head = world.head(number)
    outputs: list[tuple[str, bytes]] = [
        ("comments", json.dumps(world.hub.comments(OWNER, REPO, number)).encode()),
        ("checks", json.dumps(world.hub.check_runs(OWNER, REPO, head)).encode()),
        ("labels", json.dumps(world.hub.labels(OWNER, REPO, number)).encode()),
        ("status", json.dumps(status.to_json()).encode()),
        ("logs", caplog.text.encode()),
        ("notifications", repr(controller.notifier.sent).encode()),
        ("observer", repr(controller.observer.events).encode()),
        (
            "audit",
            json.dumps([dict(r.fields) for r in controller.store.audit_records()]).encode(),
        ),
    ]
    outputs += [("store", blob) for blob in world.store_blobs()]
    assert len(outputs) > 10  # the store has objects to scan
    for where, data in outputs:
        for canary in canaries:
            assert canary not in data, where


def test_merge_by_someone_else_without_approval_is_not_applied(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(b"sneaky")
    controller.reconciler.handle(FULL, number)
    world.as_user("erin").get_repo(FULL).get_pull(number).merge(merge_method="merge")

    assert controller.reconciler.work_items(FULL) == [number]
    status = controller.reconciler.handle(FULL, number)

    assert status.status is Status.FAILED
    assert controller.store.is_applied(f"{ENV}/pr-{number}") is None
    assert world.secret() is None
    assert world.rollouts() == 0
    (sync,) = world.checks(world.head(number), "sealgate/sync")
    assert (sync["status"], sync["conclusion"]) == ("completed", "failure")
    notes = [
        c
        for c in world.hub.comments(OWNER, REPO, number)
        if "did not apply" in c["body"] and c["user"]["login"] == BOT
    ]
    assert len(notes) == 1
    assert "erin" in notes[0]["body"]
    assert controller.notifier.kinds(number)[-1] == "failed"

    # Reported once: neither a second pass nor a fresh controller repeats it.
    assert controller.reconciler.work_items(FULL) == []
    controller.reconciler.handle(FULL, number)
    fresh = world.controller()
    try:
        assert fresh.reconciler.work_items(FULL) == []
        assert fresh.reconciler.handle(FULL, number).status is Status.FAILED
    finally:
        fresh.close()
    assert (
        len([c for c in world.hub.comments(OWNER, REPO, number) if "did not apply" in c["body"]])
        == 1
    )
    assert controller.store.is_applied(f"{ENV}/pr-{number}") is None


def test_closed_unmerged_pull_request_is_ignored(world: World, controller: Controller) -> None:
    number = world.open_pull(b"never")
    world.approve("bob", number)
    world.as_user("alice").get_repo(FULL).get_pull(number).edit(state="closed")
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.CLOSED
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert controller.store.is_applied(f"{ENV}/pr-{number}") is None
    assert world.secret() is None


@pytest.fixture
def explicit_world(tmp_path: Path) -> Iterator[World]:
    policy = POLICY_YAML.replace(
        b"  expiresAfter: 7d\n", b"  expiresAfter: 7d\n  autoMerge: false\n"
    )
    w = build_world(tmp_path, policy=policy)
    try:
        yield w
    finally:
        w.hub.stop()
        w.kube.stop()


def test_without_auto_merge_only_an_eligible_merge_command_merges(explicit_world: World) -> None:
    world = explicit_world
    controller = world.controller()
    try:
        number = world.open_pull(b"explicit")
        world.approve("bob", number)
        waiting = controller.reconciler.handle(FULL, number)
        assert waiting.status is Status.APPROVED
        assert world.hub.pull(OWNER, REPO, number)["merged"] is False

        world.comment("erin", number, "/sealgate merge")  # not an approver, not the author
        assert controller.reconciler.handle(FULL, number).status is Status.APPROVED
        assert world.hub.pull(OWNER, REPO, number)["merged"] is False

        world.comment("carol", number, "/sealgate merge")
        done = controller.reconciler.handle(FULL, number)
        assert done.status is Status.SYNCED, done.messages
        assert world.hub.pull(OWNER, REPO, number)["merged"] is True
        assert world.rollouts() == 1
    finally:
        controller.close()


class PushBeforeMerge(GitHubGateway):
    """The real gateway, with a late push landing between the decision and the merge."""

    def __init__(self, world: World, controller: Controller) -> None:
        super().__init__(controller.gateway.client)
        self.world = world
        self.pushed = False

    def merge(self, repo: str, number: int, head_sha: str, method: str) -> str:
        if not self.pushed:
            self.pushed = True
            self.world.push_more(number, b"late-value")
        return super().merge(repo, number, head_sha, method)


def test_a_push_after_the_decision_blocks_the_merge_until_approved_again(
    world: World, controller: Controller
) -> None:
    gateway = PushBeforeMerge(world, controller)
    reconciler = Reconciler(
        github=gateway,
        store=controller.store,
        targets=controller.targets,
        keys=controller.keyring,
        notifier=controller.notifier,
        settings=ReconcilerSettings(bot_login=BOT, environment_clusters={ENV: ("loop",)}),
    )
    number = world.open_pull(b"early-value")
    world.approve("bob", number)

    refused = reconciler.handle(FULL, number)

    assert refused.status is Status.APPROVED
    assert any("not merged" in m for m in refused.messages)
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert controller.store.is_applied(f"{ENV}/pr-{number}") is None
    # The approval was for the old head: the next pass waits for a new one.
    assert reconciler.handle(FULL, number).status is Status.PENDING
    world.approve("carol", number)
    done = reconciler.handle(FULL, number)
    assert done.status is Status.SYNCED, done.messages
    stored = controller.store.read_secret(ENV, f"{NAMESPACE}/{SECRET}")
    assert stored is not None
    assert stored.data["password"] == b"late-value"


@pytest.fixture
def soft_world(tmp_path: Path) -> Iterator[World]:
    policy = POLICY_YAML + b"  enforcement: soft\n  bypassers:\n    users: [alice]\n"
    w = build_world(tmp_path, policy=policy)
    try:
        yield w
    finally:
        w.hub.stop()
        w.kube.stop()


def test_break_glass_merges_tells_every_approver_and_is_audited(soft_world: World) -> None:
    world = soft_world
    controller = world.controller()
    try:
        number = world.open_pull(b"incident-fix")
        world.comment("alice", number, "/sealgate bypass INC-42 payments are down")
        status = controller.reconciler.handle(FULL, number)

        assert status.status is Status.SYNCED, status.messages
        assert world.hub.pull(OWNER, REPO, number)["merged"] is True
        bypassed = [n for n, _ in controller.notifier.sent if n.kind.value == "bypassed"]
        assert len(bypassed) == 1
        assert bypassed[0].actor == "alice"
        assert bypassed[0].reason == "INC-42 payments are down"
        assert {"bob", "carol", "dave"} <= set(bypassed[0].approvers_needed)
        (event,) = [r for r in controller.store.audit_records() if r.event == "bypass"]
        assert event.fields["reason"] == "INC-42 payments are down"
        assert event.fields["by"] == "alice"
        assert event.fields["changeId"] == f"{ENV}/pr-{number}"
    finally:
        controller.close()


def test_pull_requests_handled_in_parallel_each_land_once(
    world: World, controller: Controller
) -> None:
    numbers = [
        world.open_pull(b"value-a", secret=f"{NAMESPACE}/{SECRET}"),
        world.open_pull(b"value-b", secret=f"{NAMESPACE}/cache"),
    ]
    for number in numbers:
        world.approve("bob", number)
    # Two threads per pull request: the per-pull-request lock makes the second a no-op.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(lambda n: controller.reconciler.handle(FULL, n), [*numbers, *numbers])
        )

    assert [r.status for r in results] == [Status.SYNCED] * 4
    applies = [r.fields["changeId"] for r in controller.store.audit_records() if r.event == "apply"]
    assert sorted(applies) == sorted(f"{ENV}/pr-{n}" for n in numbers)
    assert controller.store.audit_verify().ok
    assert world.kube.get("v1", "Secret", NAMESPACE, "cache") is not None
    assert world.rollouts() == 1


def test_with_token_auth_the_outcome_is_a_commit_status(world: World) -> None:
    controller = world.controller(token=world.tokens["sealbot"])
    try:
        number = world.open_pull(b"token-value")
        world.approve("bob", number)
        assert controller.reconciler.handle(FULL, number).status is Status.SYNCED
        head = world.head(number)
        statuses = world.as_user("bob").get_repo(FULL).get_commit(head).get_statuses()
        sync = [s for s in statuses if s.context == "sealgate/sync"]
        assert [(s.state, s.creator.login) for s in sync] == [("success", "sealbot")]
        assert world.checks(head, "sealgate/sync") == []
    finally:
        controller.close()
    fresh = world.controller(token=world.tokens["sealbot"])
    try:
        # The status is the completion record a restarted controller reads back.
        assert fresh.reconciler.work_items(FULL) == []
        assert fresh.reconciler.handle(FULL, number).status is Status.SYNCED
    finally:
        fresh.close()
    assert world.rollouts() == 1


def test_a_governance_pull_request_is_checked_against_the_rules_it_would_leave(
    world: World, controller: Controller
) -> None:
    broken = b"""\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata: {name: typo}
spec:
  environments: [prodution]
  approvals: {required: 1, users: [alice]}
"""
    world.hub.push(
        OWNER, REPO, "rules", {"policies/typo.yaml": broken}, message="typo", author="alice"
    )
    number = world.hub.open_pull_request(OWNER, REPO, head="rules", title="Add", author="alice")
    result = controller.reconciler.handle(FULL, number)
    assert result.status is Status.INVALID
    assert any(m.startswith("policies/typo.yaml:") for m in result.messages), result.messages
