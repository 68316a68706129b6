"""Helpers for the attack tests: open a pull request of any files, read what sealgate
reported, and check that nothing of a pull request reached GitHub's main branch, the store
or the cluster."""

from __future__ import annotations

from collections.abc import Mapping

from controller.reconciler import Status
from tests.integration.test_reconciler_world import (
    ENV,
    FULL,
    NAMESPACE,
    OWNER,
    REPO,
    SECRET,
    Controller,
    World,
)

PATH = f"{NAMESPACE}/{SECRET}"


def open_files(world: World, files: Mapping[str, bytes | None], *, author: str = "alice") -> int:
    """Open a pull request whose branch writes exactly ``files`` (None deletes)."""
    branch = f"attack-{next(world.branches)}"
    world.hub.push(
        OWNER, REPO, branch, files, message=f"attack {branch}", author=author, base="main"
    )
    return world.hub.open_pull_request(
        OWNER, REPO, head=branch, title=f"Attack {branch}", author=author
    )


def summary(world: World, number: int) -> str:
    return str(world.checks(world.head(number), "sealgate")[-1]["output"]["summary"])


def untouched(world: World, controller: Controller, number: int) -> None:
    """Nothing of ``number`` reached GitHub's main branch, the store or the cluster."""
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert controller.store.list_secrets(ENV) == []
    assert world.secret() is None
    assert world.rollouts() == 0


def approve_and_handle(world: World, controller: Controller, number: int) -> Status:
    world.approve("bob", number)
    world.approve("carol", number)
    return controller.reconciler.handle(FULL, number).status
