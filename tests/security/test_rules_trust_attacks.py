"""Attacks on the rules themselves: a direct push to ``main`` that loosens them.

sealgate reads ``environments/`` and ``policies/`` from the tip of the default branch. An
attacker who can push there directly (no branch protection, an admin, a leaked token) pushes
``unmatched: allow`` and an unreviewed change; the store's trusted rule digests must make
every later decision invalid until the change is reverted, or trusted by an operator. The
attacker works through the loopback GitHub's API; outcomes are read from GitHub, the store
and the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from controller.cli import main as cli
from controller.documents import rules_digest
from controller.reconciler import Status
from controller.store import Store
from tests.integration.test_reconciler_world import (
    APP_ID,
    ENV,
    FULL,
    INSTALLATION_ID,
    OWNER,
    REPO,
    SLUG,
    Controller,
    World,
    build_world,
)

ATTACKER = "erin"
"""An admin of the repository whom no policy names: she can push to main, not approve."""

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


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The reconciler world, with a governance policy so the rules can be changed by review."""
    w = build_world(tmp_path)
    w.hub.push(
        OWNER,
        REPO,
        "main",
        {"policies/governance.yaml": GOVERNANCE_YAML},
        message="governance",
        author="alice",
    )
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


def read_main(world: World, path: str) -> bytes:
    content = world.as_user("erin").get_repo(FULL).get_contents(path, ref="main")
    assert not isinstance(content, list)
    return content.decoded_content


def loosen_on_main(world: World) -> str:
    """The attack: every change no policy covers is auto-approved, pushed straight to main."""
    path = f"environments/{ENV}.yaml"
    loose = read_main(world, path).replace(
        b"  defaultTier: sensitive\n", b"  defaultTier: sensitive\n  unmatched: allow\n"
    )
    policies = {"policies/production.yaml": None}
    return world.hub.push(
        OWNER, REPO, "main", {path: loose, **policies}, message="loosen", author=ATTACKER
    )


def audit_events(store: Store, event: str) -> list[Mapping[str, Any]]:
    return [r.fields for r in store.audit_records() if r.event == event]


def test_trust_on_first_use_on_an_empty_store_is_audited(
    world: World, controller: Controller
) -> None:
    assert controller.store.trusted_rules() == frozenset()
    number = world.open_pull()

    status = controller.reconciler.handle(FULL, number)

    assert status.status is Status.PENDING, status.messages
    trusted = audit_events(controller.store, "rules-trusted")
    assert [t["how"] for t in trusted] == ["first-use"]
    main = world.hub.branch_sha(OWNER, REPO, "main")
    assert trusted[0]["sha"] == main
    assert trusted[0]["ref"] == "main"
    assert controller.store.trusted_rules() == {trusted[0]["digest"]}
    assert controller.store.audit_verify().ok


def test_a_direct_push_that_loosens_the_rules_makes_later_pull_requests_invalid(
    world: World, controller: Controller
) -> None:
    first = world.open_pull(b"before-the-attack")
    assert controller.reconciler.handle(FULL, first).status is Status.PENDING
    commits_before = world.store_commits()

    attack_sha = loosen_on_main(world)
    number = world.open_pull(b"attacker-value", author=ATTACKER)
    status = controller.reconciler.handle(FULL, number)

    assert status.status is Status.INVALID, status.messages
    message = next(m for m in status.messages if "outside an approved governance" in m)
    assert f"main@{attack_sha[:12]}" in message
    assert "sealgate rules trust" in message
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert world.secret() is None
    assert world.rollouts() == 0
    # Nothing but the first-use trust was ever written to the store.
    assert world.store_commits() == commits_before
    assert [t["how"] for t in audit_events(controller.store, "rules-trusted")] == ["first-use"]
    check = world.checks(world.head(number), "sealgate")[-1]
    assert check["conclusion"] == "failure"
    assert "outside an approved governance" in json.dumps(check["output"])
    # The pull request opened before is judged by the same untrusted tip now.
    world.approve("bob", first)
    again = controller.reconciler.handle(FULL, first)
    assert again.status is Status.INVALID, again.messages
    assert world.hub.pull(OWNER, REPO, first)["merged"] is False
    assert world.secret() is None


def test_drift_repair_learns_no_cluster_from_untrusted_rules(
    world: World, controller: Controller
) -> None:
    assert controller.reconciler.learn_environments(FULL) == (ENV,)
    loosen_on_main(world)

    assert controller.reconciler.learn_environments(FULL) == ()


def open_governance_pull(world: World, *, author: str = "alice") -> int:
    """A change of the rules: erin, whom no policy named, may approve production."""
    policy = read_main(world, "policies/production.yaml").replace(
        b"users: [bob, carol]", b"users: [bob, carol, erin]"
    )
    world.hub.push(
        OWNER,
        REPO,
        "rules-change",
        {"policies/production.yaml": policy},
        message="let erin approve",
        author=author,
        base="main",
    )
    return world.hub.open_pull_request(
        OWNER, REPO, head="rules-change", title="Let erin approve", author=author
    )


def test_an_approved_governance_pull_request_merged_by_sealgate_is_trusted(
    world: World, controller: Controller
) -> None:
    number = open_governance_pull(world)
    assert controller.reconciler.handle(FULL, number).status is Status.PENDING
    world.approve("carol", number)

    merged = controller.reconciler.handle(FULL, number)

    assert merged.status is Status.SYNCED, merged.messages
    pull = world.hub.pull(OWNER, REPO, number)
    assert pull["merged"] is True
    trusted = audit_events(controller.store, "rules-trusted")
    assert [t["how"] for t in trusted] == ["first-use", "governance-pull-request"]
    assert trusted[1]["sha"] == pull["merge_commit_sha"]
    assert "#" + str(number) in trusted[1]["reason"]
    # Later pull requests are judged by the new rules, normally.
    change = world.open_pull(b"after-governance")
    world.approve("erin", change)
    status = controller.reconciler.handle(FULL, change)
    assert status.status is Status.SYNCED, status.messages
    assert world.secret() is not None


def test_an_unapproved_governance_pull_request_merged_around_sealgate_is_not_trusted(
    world: World, controller: Controller
) -> None:
    number = open_governance_pull(world)
    assert controller.reconciler.handle(FULL, number).status is Status.PENDING
    # The admin merges it on GitHub without the governance approval.
    world.as_user(ATTACKER).get_repo(FULL).get_pull(number).merge(merge_method="squash")

    refused = controller.reconciler.handle(FULL, number)

    assert refused.status is Status.FAILED, refused.messages
    assert [t["how"] for t in audit_events(controller.store, "rules-trusted")] == ["first-use"]
    change = world.open_pull(b"after-the-bypass")
    world.approve("bob", change)
    status = controller.reconciler.handle(FULL, change)
    assert status.status is Status.INVALID, status.messages
    assert world.secret() is None


def write_config(world: World) -> Path:
    (world.root / "app.pem").write_text(world.spec.app_key_pem)
    config = world.root / "sealgate.yaml"
    config.write_text(
        f"""\
apiVersion: sealgate.dev/v1
kind: ControllerConfig
github:
  baseUrl: {world.spec.github_url}
  repository: {FULL}
  app:
    appId: {APP_ID}
    installationId: {INSTALLATION_ID}
    slug: {SLUG}
    privateKey: {{fromFile: app.pem}}
  webhookSecret: {{fromEnv: HOOK_SECRET}}
store:
  path: {world.spec.store}
keys:
  dir: {world.spec.keys}
clusters:
  - name: loop
    kubeconfig: {world.spec.kubeconfig}
"""
    )
    return config


def test_sealgate_rules_trust_restores_judging_and_survives_a_restart(
    world: World, controller: Controller
) -> None:
    assert controller.reconciler.handle(FULL, world.open_pull(b"first")).status is Status.PENDING
    policy = read_main(world, "policies/production.yaml")
    attack_sha = loosen_on_main(world)
    # Reverted by a reviewed commit would be the usual fix; here the operator reviewed the
    # change (and re-added a policy) and trusts the result explicitly.
    world.hub.push(
        OWNER,
        REPO,
        "main",
        {"policies/production.yaml": policy},
        message="restore the production policy",
        author="alice",
    )
    fixed_sha = world.hub.branch_sha(OWNER, REPO, "main")
    assert fixed_sha != attack_sha
    blocked = world.open_pull(b"while-blocked")
    assert controller.reconciler.handle(FULL, blocked).status is Status.INVALID

    result = CliRunner().invoke(
        cli,
        [
            "rules",
            "trust",
            "--config",
            str(write_config(world)),
            "--reason",
            "reviewed the unmatched change in INC-7",
            "--actor",
            "ops-oncall",
        ],
        env={"HOOK_SECRET": "hook-secret-for-the-test"},
    )

    assert result.exit_code == 0, result.output
    assert f"main@{fixed_sha[:12]}" in result.output
    # A restarted controller reads the trusted set from the store: judged normally again.
    controller.close()
    restarted = world.controller()
    try:
        trusted = audit_events(restarted.store, "rules-trusted")
        assert [t["how"] for t in trusted] == ["first-use", "operator"]
        assert trusted[1]["actor"] == "ops-oncall"
        assert trusted[1]["reason"] == "reviewed the unmatched change in INC-7"
        assert trusted[1]["sha"] == fixed_sha
        world.approve("bob", blocked)
        status = restarted.reconciler.handle(FULL, blocked)
        assert status.status is Status.SYNCED, status.messages
        assert restarted.store.audit_verify().ok
    finally:
        restarted.close()


def test_the_digest_covers_paths_and_bytes() -> None:
    base = {"policies/a.yaml": b"x", "environments/p.yaml": b"y"}
    assert rules_digest(base) == rules_digest(dict(reversed(base.items())))
    assert rules_digest(base) != rules_digest({**base, "policies/a.yaml": b"x "})
    moved = {"policies/a.yamlx": b"", "environments/p.yaml": b"y"}
    assert rules_digest(base) != rules_digest(moved)
    assert rules_digest(base) != rules_digest({**base, "policies/b.yaml": b""})


def test_a_crash_between_the_governance_merge_and_its_trust_is_repaired(
    world: World, controller: Controller
) -> None:
    """The merge leaves the pull request's own rules at the tip, not yet trusted; the next
    pass judges it by the rules it was merged into, trusts the new ones, then completes."""
    number = open_governance_pull(world)
    world.approve("carol", number)

    crashed = world.run_child(number, "reconciler.after-merge")

    assert crashed.returncode != 0
    pull = world.hub.pull(OWNER, REPO, number)
    assert pull["merged"] is True
    assert [t["how"] for t in audit_events(controller.store, "rules-trusted")] == ["first-use"]
    assert controller.reconciler.work_items(FULL) == [number]

    repaired = controller.reconciler.handle(FULL, number)

    assert repaired.status is Status.SYNCED, repaired.messages
    trusted = audit_events(controller.store, "rules-trusted")
    assert [t["how"] for t in trusted] == ["first-use", "governance-pull-request"]
    assert trusted[1]["sha"] == pull["merge_commit_sha"]
    sync = world.checks(world.head(number), "sealgate/sync")[-1]
    assert sync["status"] == "completed"
    assert sync["conclusion"] == "success"
    change = world.open_pull(b"after-the-repair")
    world.approve("erin", change)
    status = controller.reconciler.handle(FULL, change)
    assert status.status is Status.SYNCED, status.messages


def test_reverting_the_rules_on_main_restores_judging(world: World, controller: Controller) -> None:
    """Trust is by content: putting back the rules last trusted needs no operator."""
    assert controller.reconciler.handle(FULL, world.open_pull(b"first")).status is Status.PENDING
    environment = read_main(world, f"environments/{ENV}.yaml")
    policy = read_main(world, "policies/production.yaml")
    loosen_on_main(world)
    blocked = world.open_pull(b"while-loose")
    assert controller.reconciler.handle(FULL, blocked).status is Status.INVALID

    world.hub.push(
        OWNER,
        REPO,
        "main",
        {f"environments/{ENV}.yaml": environment, "policies/production.yaml": policy},
        message="revert the loosening",
        author="alice",
    )
    world.approve("bob", blocked)
    status = controller.reconciler.handle(FULL, blocked)

    assert status.status is Status.SYNCED, status.messages
    assert [t["how"] for t in audit_events(controller.store, "rules-trusted")] == ["first-use"]
