"""Stale changes and rollbacks through the loopback GitHub and Kubernetes servers.

Two pull requests on one key: the first merge wins and the second is judged stale, naming
the first; when both were fresh at their decisions, the store refuses the second apply.
A restore is a reviewed change applied as a new version holding the old value, judged at
least at the tier the restored version had.
"""

from __future__ import annotations

import base64
import itertools
from datetime import timedelta

import pytest

from controller.reconciler import NullObserver, Reconciler, ReconcilerSettings
from controller.reconciler.status import Status
from tests.integration.test_reconciler_world import (
    BOT,
    CLUSTER,
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

PATH = f"{ENV}/{NAMESPACE}/{SECRET}"
FIRST = b"Zq8-vK2_pL9wX4mN7rT1-first"
SECOND = b"Hj3_cV6-bN0qW5eR8tY2-second"
THIRD = b"Uo4-iP7_aS1dF9gH3jK6-third"
_names = itertools.count(1)


def _yaml(
    world: World,
    name: str,
    *,
    base: int | None = None,
    value: bytes | None = None,
    restore: str | None = None,
    tier: str | None = None,
) -> bytes:
    lines = [
        "apiVersion: sealgate.dev/v1",
        "kind: SecretChange",
        f"metadata:\n  name: {name}",
        "spec:",
        f"  environment: {ENV}",
        f"  secret: {NAMESPACE}/{SECRET}",
        "  reason: rotate or roll back the database password",
    ]
    if tier is not None:
        lines.append(f"  tier: {tier}")
    if base is not None:
        lines.append(f"  baseVersion: {base}")
    if value is not None:
        lines.append(f"  set:\n    password: {world.seal(value)}")
    if restore is not None:
        lines.append(f"  restore: {restore}")
    return ("\n".join(lines) + "\n").encode()


def _open(world: World, **fields: object) -> int:
    branch = f"versions-{next(_names)}"
    body = _yaml(world, branch, **fields)  # type: ignore[arg-type]
    world.hub.push(
        OWNER,
        REPO,
        branch,
        {f"changes/{ENV}/{branch}.yaml": body},
        message=f"propose {branch}",
        author="alice",
        base="main",
    )
    return world.hub.open_pull_request(OWNER, REPO, head=branch, title=branch, author="alice")


def _summary(world: World, number: int) -> str:
    runs = world.checks(world.head(number), "sealgate")
    return str(runs[-1]["output"]["summary"])


def _kube_password(world: World) -> bytes:
    secret = world.secret()
    assert secret is not None
    return base64.b64decode(secret["data"]["password"])


def _merged(world: World, number: int) -> bool:
    return bool(world.hub.pull(OWNER, REPO, number).get("merged"))


def _comments(world: World, number: int) -> str:
    issue = world.as_user("alice").get_repo(FULL).get_issue(number)
    return "\n".join(c.body for c in issue.get_comments())


def _seed(world: World, controller: Controller, value: bytes = FIRST, **fields: object) -> int:
    number = _open(world, value=value, **fields)
    world.approve("bob", number)
    assert controller.reconciler.handle(FULL, number).status is Status.SYNCED
    return number


def test_the_second_pull_request_on_a_key_becomes_stale_naming_the_first(
    world: World, controller: Controller
) -> None:
    _seed(world, controller)
    first = _open(world, value=SECOND, base=1)
    second = _open(world, value=THIRD, base=1)
    controller.reconciler.handle(FULL, first)
    controller.reconciler.handle(FULL, second)
    assert f"#{first}: {PATH} key password" in _summary(world, second)
    controller.reconciler.handle(FULL, first)  # queued again: it now sees the second
    assert f"#{second}: {PATH} key password" in _summary(world, first)

    world.approve("bob", first)
    assert controller.reconciler.handle(FULL, first).status is Status.SYNCED
    assert second in controller.reconciler.work_items(FULL)
    world.approve("carol", second)
    result = controller.reconciler.handle(FULL, second)

    assert result.status is Status.INVALID
    assert not _merged(world, second)
    summary = _summary(world, second)
    assert f"pull request #{first} got there first and changed key password in version 2" in summary
    assert "--base-version 2" in summary
    # Merged, the first is no longer an open rival: the stale problem names it instead.
    assert "Other open pull requests" not in summary
    assert _kube_password(world) == SECOND
    history = controller.store.history(ENV, f"{NAMESPACE}/{SECRET}")
    assert [v.version for v in history] == [2, 1]


class _RaceObserver(NullObserver):
    """Right after the second pull request is merged, another controller merges and applies
    the first: both were fresh when judged, so only the store can refuse the second."""

    def __init__(self, rival: Reconciler, number: int) -> None:
        self.rival, self.number, self.done = rival, number, False

    def merged(self) -> None:
        if not self.done:
            self.done = True
            assert self.rival.handle(FULL, self.number).status is Status.SYNCED


@pytest.fixture
def settings() -> ReconcilerSettings:
    return ReconcilerSettings(
        bot_login=BOT,
        rollout_timeout_s=10.0,
        reminder_after=timedelta(hours=1),
        environment_clusters={ENV: (CLUSTER,)},
    )


def _reconciler(c: Controller, settings: ReconcilerSettings, observer: NullObserver) -> Reconciler:
    return Reconciler(
        github=c.gateway,
        store=c.store,
        targets=c.targets,
        keys=c.keyring,
        notifier=c.notifier,
        settings=settings,
        observer=observer,
    )


def test_of_two_approved_racing_merges_the_store_refuses_the_second_apply(
    world: World, controller: Controller, settings: ReconcilerSettings
) -> None:
    _seed(world, controller)
    first = _open(world, value=SECOND, base=1)
    second = _open(world, value=THIRD, base=1)
    world.approve("bob", first)
    world.approve("carol", second)
    rival = _reconciler(controller, settings, NullObserver())
    racing = _reconciler(controller, settings, _RaceObserver(rival, first))

    result = racing.handle(FULL, second)

    assert result.status is Status.FAILED
    assert _merged(world, first)
    assert _merged(world, second)  # merged on GitHub, refused by the store
    assert controller.store.is_applied(f"{ENV}/pr-{second}") is None
    assert [v.version for v in controller.store.history(ENV, f"{NAMESPACE}/{SECRET}")] == [2, 1]
    assert _kube_password(world) == SECOND
    said = _comments(world, second)
    assert f"pull request #{first} got there first" in said
    assert "nothing was applied" in said
    sync = world.checks(world.head(second), "sealgate/sync")
    assert sync[-1]["conclusion"] == "failure"
    # Reported once and finished: a later pass does not try again.
    assert controller.reconciler.handle(FULL, second).status is Status.FAILED
    assert [v.version for v in controller.store.history(ENV, f"{NAMESPACE}/{SECRET}")] == [2, 1]


def test_a_restore_applies_the_old_value_as_a_new_version(
    world: World, controller: Controller
) -> None:
    _seed(world, controller)
    _seed(world, controller, value=SECOND)
    assert _kube_password(world) == SECOND
    number = _open(world, base=2, restore="{version: 1}")
    controller.reconciler.handle(FULL, number)
    history = controller.store.history(ENV, f"{NAMESPACE}/{SECRET}")
    now, old = history[0].fingerprints["password"], history[1].fingerprints["password"]
    summary = _summary(world, number)
    assert "restore (v1) | " in summary
    assert f"| `{now}` | `{old}` |" in summary
    rollouts = world.rollouts()
    world.approve("bob", number)
    assert controller.reconciler.handle(FULL, number).status is Status.SYNCED

    assert _kube_password(world) == FIRST
    history = controller.store.history(ENV, f"{NAMESPACE}/{SECRET}")
    assert [v.version for v in history] == [3, 2, 1]
    assert history[0].change_id == f"{ENV}/pr-{number}"
    assert dict(history[0].fingerprints) == dict(history[2].fingerprints)
    assert world.rollouts() == rollouts + 1


@pytest.mark.parametrize(
    ("restore", "message"),
    [
        ("{version: 7}", "has no version 7 (its versions: 1)"),
        ("{keys: {password: 9}}", "has no version 9"),
        ("{keys: {token: 1}}", "had no key token at version 1"),
    ],
)
def test_a_restore_of_a_version_or_key_that_never_was_is_invalid(
    world: World, controller: Controller, restore: str, message: str
) -> None:
    _seed(world, controller)
    number = _open(world, restore=restore)
    world.approve("bob", number)
    result = controller.reconciler.handle(FULL, number)
    assert result.status is Status.INVALID
    assert not _merged(world, number)
    assert message in _summary(world, number)
    assert [v.version for v in controller.store.history(ENV, f"{NAMESPACE}/{SECRET}")] == [1]


def test_a_restore_is_judged_at_least_at_the_restored_versions_tier(
    world: World, controller: Controller
) -> None:
    _seed(world, controller, tier="critical")
    _seed(world, controller, value=SECOND, tier="standard")
    assert controller.store.current_tiers()[PATH].value == "standard"
    number = _open(world, restore="{version: 1}")
    controller.reconciler.handle(FULL, number)
    assert "standard → critical" in _summary(world, number)
    world.approve("bob", number)
    assert controller.reconciler.handle(FULL, number).status is Status.SYNCED
    assert controller.store.current_tiers()[PATH].value == "critical"


def test_an_approved_pull_request_merged_by_hand_and_overtaken_is_refused_by_the_store(
    world: World, controller: Controller
) -> None:
    _seed(world, controller)
    first = _open(world, value=SECOND, base=1)
    second = _open(world, value=THIRD, base=1)
    world.approve("bob", first)
    world.approve("carol", second)
    world.as_user("erin").get_repo(FULL).get_pull(second).merge()  # approved, merged by hand
    assert controller.reconciler.handle(FULL, first).status is Status.SYNCED

    result = controller.reconciler.handle(FULL, second)

    assert result.status is Status.FAILED
    said = _comments(world, second)
    assert "the store refused the change" in said
    assert f"pull request #{first} got there first" in said
    assert "without an approved sealgate decision" not in said
    assert controller.store.is_applied(f"{ENV}/pr-{second}") is None
    assert _kube_password(world) == SECOND
