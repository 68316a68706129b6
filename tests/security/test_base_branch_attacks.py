"""Attacks through the base branch of a pull request: a branch with looser rules as the base,
a retarget onto it, and the clusters such a branch names.

Each attack is carried out as the attacker would: PyGithub as a developer with write access
creates the branch, opens or retargets the pull request; the outcome is read from the
loopback GitHub, the store and the clusters. A second loopback cluster, ``staging-1``, is the
one the attacker can read: nothing of production may ever reach it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from controller.github import GitHubGateway
from controller.kube import ClusterConfig, KubeTargets
from controller.reconciler import Reconciler, Status
from controller.sandbox.kube_server import KubeApiServer
from tests.integration.test_reconciler_world import (
    CANARY,
    CHECKSUM_KEY,
    CLUSTER,
    ENV,
    FAST_KUBE,
    FULL,
    NAMESPACE,
    OWNER,
    REPO,
    SECRET,
    Controller,
    World,
    build_controller,
    environment_yaml,
)
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414

STAGING = "staging-1"
SCRATCH = "scratch"
ATTACKER = "alice"


@pytest.fixture
def staging(world: World) -> Iterator[KubeApiServer]:
    kube = KubeApiServer(rollout_seconds=0.05)
    kube.start()
    kube.create_namespace(NAMESPACE)
    try:
        yield kube
    finally:
        kube.stop()


@pytest.fixture
def controller(world: World, staging: KubeApiServer) -> Iterator[Controller]:
    """The world's controller, able to sync to both ``loop`` and the attacker's cluster."""
    base = build_controller(world.spec)
    base.targets.close()
    staging_config = staging.write_kubeconfig(world.root / "staging-kubeconfig")
    targets = KubeTargets(
        [
            ClusterConfig(CLUSTER, kubeconfig=Path(world.spec.kubeconfig), context="loopback"),
            ClusterConfig(STAGING, kubeconfig=staging_config, context="loopback"),
        ],
        CHECKSUM_KEY,
        retry=FAST_KUBE,
        poll_interval_s=0.02,
    )
    reconciler = Reconciler(
        github=base.gateway,
        store=base.store,
        targets=targets,
        keys=base.keyring,
        notifier=base.notifier,
        observer=base.observer,
        settings=base.reconciler._settings,
    )
    built = Controller(
        base.gateway, base.store, targets, base.keyring, base.notifier, base.observer, reconciler
    )
    try:
        yield built
    finally:
        built.close()


def read_main(world: World, path: str) -> bytes:
    content = world.as_user("erin").get_repo(FULL).get_contents(path, ref="main")
    assert not isinstance(content, list)
    return content.decoded_content


def public_key(world: World) -> tuple[str, str]:
    text = read_main(world, f"environments/{ENV}.yaml").decode()
    key_id = text.split("- id: ", 1)[1].split("\n", 1)[0].strip()
    key = text.split("publicKey: ", 1)[1].split("\n", 1)[0].strip()
    return key_id, key


def loose_environment(world: World) -> bytes:
    """The attacker's production environment: no policy needed, synced to their cluster."""
    key_id, key = public_key(world)
    strict = environment_yaml(key_id, key).decode()
    return (
        strict.replace(f"clusters: [{CLUSTER}]", f"clusters: [{STAGING}]") + "  unmatched: allow\n"
    ).encode()


def push_scratch_branch(world: World) -> None:
    """The attacker creates ``scratch`` from main over the REST API, then pushes loose rules."""
    repo = world.as_user(ATTACKER).get_repo(FULL)
    main = repo.get_git_ref("heads/main").object.sha
    repo.create_git_ref(f"refs/heads/{SCRATCH}", main)
    files: Mapping[str, bytes | None] = {
        f"environments/{ENV}.yaml": loose_environment(world),
        "policies/production.yaml": None,
    }
    world.hub.push(OWNER, REPO, SCRATCH, files, message="scratch", author=ATTACKER)


def delete_change(name: str) -> bytes:
    return (
        "apiVersion: sealgate.dev/v1\n"
        "kind: SecretChange\n"
        f"metadata:\n  name: {name}\n"
        "spec:\n"
        f"  environment: {ENV}\n"
        f"  secret: {NAMESPACE}/{SECRET}\n"
        "  reason: tidy up an unused key\n"
        "  delete: [UNUSED_KEY]\n"
    ).encode()


def open_attack_pull(world: World, base: str) -> int:
    """``feature -> base`` changing only ``delete: [UNUSED_KEY]`` on the production secret."""
    files: Mapping[str, bytes | None] = {f"changes/{ENV}/tidy.yaml": delete_change("tidy")}
    world.hub.push(OWNER, REPO, "feature", files, message="tidy", author=ATTACKER, base=base)
    pull = (
        world.as_user(ATTACKER)
        .get_repo(FULL)
        .create_pull(base=base, head="feature", title="Tidy the payments secret")
    )
    return pull.number


def land(world: World, controller: Controller, value: bytes = CANARY) -> int:
    """A legitimate change into main, approved by an eligible reviewer."""
    number = world.open_pull(value)
    world.approve("bob", number)
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.SYNCED, status.messages
    return number


def assert_not_judged(world: World, number: int, branch: str) -> None:
    pull = world.hub.pull(OWNER, REPO, number)
    assert pull["merged"] is False
    (check,) = world.checks(str(pull["head"]["sha"]), "sealgate")
    assert check["conclusion"] != "success"
    assert f"targets branch '{branch}'" in check["output"]["summary"]
    sticky = [c["body"] for c in world.hub.comments(OWNER, REPO, number)]
    assert any("not judged" in body and "'main'" in body for body in sticky), sticky


def stored_version(controller: Controller) -> int | None:
    data = controller.store.read_secret(ENV, f"{NAMESPACE}/{SECRET}")
    return None if data is None else data.version


def test_pull_request_into_a_loose_branch_is_not_judged(
    world: World, controller: Controller, staging: KubeApiServer
) -> None:
    land(world, controller)
    commits = world.store_commits()
    push_scratch_branch(world)

    number = open_attack_pull(world, SCRATCH)
    status = controller.reconciler.handle(FULL, number)

    assert status.status is Status.INVALID, status.messages
    assert_not_judged(world, number, SCRATCH)
    assert world.store_commits() == commits
    assert controller.store.is_applied(f"{ENV}/pr-{number}") is None
    assert staging.get("v1", "Secret", NAMESPACE, SECRET) is None
    # The rules of the attacker's branch were never even read.
    scratch_sha = world.hub.pull(OWNER, REPO, number)["base"]["sha"]
    assert not [
        r
        for r in world.hub.request_log
        if r.user != ATTACKER and (scratch_sha in r.query or SCRATCH in r.path + r.query)
    ]


def test_retargeting_a_pending_pull_request_is_judged_again(
    world: World, controller: Controller, staging: KubeApiServer
) -> None:
    land(world, controller)
    commits = world.store_commits()
    push_scratch_branch(world)
    number = world.open_pull(b"retargeted-value")
    assert controller.reconciler.handle(FULL, number).status is Status.PENDING
    controller.reconciler.work_items(FULL)  # the poller has seen it as it was

    # The attacker moves the pull request onto the loose branch; an approval would now do.
    world.as_user(ATTACKER).get_repo(FULL).get_pull(number).edit(base=SCRATCH)
    world.approve("bob", number)
    assert number in controller.reconciler.work_items(FULL)
    status = controller.reconciler.handle(FULL, number)

    assert status.status is Status.INVALID, status.messages
    assert_not_judged(world, number, SCRATCH)
    assert world.store_commits() == commits
    assert staging.get("v1", "Secret", NAMESPACE, SECRET) is None


def test_merging_into_the_loose_branch_around_sealgate_applies_nothing(
    world: World, controller: Controller, staging: KubeApiServer
) -> None:
    land(world, controller)
    commits, version = world.store_commits(), stored_version(controller)
    push_scratch_branch(world)
    number = open_attack_pull(world, SCRATCH)
    world.as_user(ATTACKER).get_repo(FULL).get_pull(number).merge(merge_method="merge")

    status = controller.reconciler.handle(FULL, number)

    assert status.status is Status.FAILED, status.messages
    assert world.store_commits() == commits
    assert stored_version(controller) == version
    assert staging.get("v1", "Secret", NAMESPACE, SECRET) is None
    (sync,) = world.checks(world.head(number), "sealgate/sync")
    assert sync["conclusion"] == "failure"
    assert f"targets branch '{SCRATCH}'" in sync["output"]["title"] + sync["output"]["summary"]


def test_a_pending_pull_request_into_a_loose_branch_does_not_redirect_other_syncs(
    world: World, controller: Controller, staging: KubeApiServer
) -> None:
    push_scratch_branch(world)
    attack = open_attack_pull(world, SCRATCH)
    controller.reconciler.handle(FULL, attack)

    # Another team's approved change to the same environment, handled after the attack.
    number = land(world, controller)

    assert controller.store.is_applied(f"{ENV}/pr-{number}") is not None
    assert world.secret() is not None
    assert staging.get("v1", "Secret", NAMESPACE, SECRET) is None
    # Drift repair does not learn the attacker's cluster either.
    controller.reconciler.handle(FULL, attack)
    controller.reconciler.repair_drift()
    assert staging.get("v1", "Secret", NAMESPACE, SECRET) is None
    assert not [r for r in staging.request_log if r.verb in ("create", "update", "patch")]


def test_rules_tightened_on_main_after_the_pull_request_opened_apply_to_it(
    world: World, controller: Controller
) -> None:
    """The rules come from main's tip when judged (the loopback moves ``base.sha`` along with
    the branch, so this pins the tip being used, not GitHub's staleness of ``base.sha``)."""
    number = world.open_pull(b"tightened-later")
    # After the pull request was opened, main's policy drops bob from the approvers.
    policy = read_main(world, "policies/production.yaml")
    tightened = policy.replace(b"users: [bob, carol]", b"users: [carol]")
    world.hub.push(
        OWNER,
        REPO,
        "main",
        {"policies/production.yaml": tightened},
        message="tighten",
        author="erin",
    )
    world.approve("bob", number)

    status = controller.reconciler.handle(FULL, number)

    assert status.status is Status.PENDING, status.messages
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert "bob" not in status.eligible_approvers


def open_fork_pull(world: World, login: str = "mallory") -> int:
    """``login`` forks the repository over the REST API and proposes a change from the fork."""
    world.tokens[login] = world.hub.add_user(login)
    attacker = world.as_user(login)
    fork = attacker.get_repo(FULL).create_fork()
    assert fork.full_name == f"{login}/{REPO}"
    assert fork.fork is True
    files: Mapping[str, bytes | None] = {
        f"changes/{ENV}/from-fork.yaml": world.change_yaml("from-fork", b"fork-value")
    }
    world.hub.push(login, REPO, "from-fork", files, message="fork", author=login, base="main")
    pull = attacker.get_repo(FULL).create_pull(
        base="main", head=f"{login}:from-fork", title="A change from a fork"
    )
    assert pull.head.repo.full_name != pull.base.repo.full_name
    return pull.number


def test_a_pull_request_from_a_fork_is_refused_by_default(
    world: World, controller: Controller
) -> None:
    number = open_fork_pull(world)
    world.approve("bob", number)

    status = controller.reconciler.handle(FULL, number)

    assert status.status is Status.INVALID, status.messages
    pull = world.hub.pull(OWNER, REPO, number)
    assert pull["merged"] is False
    assert world.secret() is None
    assert controller.store.is_applied(f"{ENV}/pr-{number}") is None
    (check,) = world.checks(str(pull["head"]["sha"]), "sealgate")
    assert check["conclusion"] != "success"
    assert "fork mallory/requests" in check["output"]["summary"]
    assert "github.allowForks" in check["output"]["summary"]


def test_a_pull_request_from_a_fork_is_judged_like_any_other_when_allowed(
    world: World, controller: Controller
) -> None:
    number = open_fork_pull(world)
    accepting = Reconciler(
        github=GitHubGateway(controller.gateway.client, allow_forks=True),
        store=controller.store,
        targets=controller.targets,
        keys=controller.keyring,
        notifier=controller.notifier,
        observer=controller.observer,
        settings=controller.reconciler._settings,
    )
    assert accepting.handle(FULL, number).status is Status.PENDING

    world.approve("bob", number)
    status = accepting.handle(FULL, number)

    assert status.status is Status.SYNCED, status.messages
    assert world.hub.pull(OWNER, REPO, number)["merged"] is True
    stored = controller.store.read_secret(ENV, f"{NAMESPACE}/{SECRET}")
    assert stored is not None
    assert stored.data["password"] == b"fork-value"
