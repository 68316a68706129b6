"""Read what really happened from the servers' and the store's own state, never from logs.

The story, its tests and the crash test all verify steps with these: the loopback GitHub's
pull requests and check runs, the loopback clusters' Secrets and rollout counters, and the
store's git history and audit log.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import git

from controller.errors import SealgateError
from controller.keyring import Keyring, LocalKekFile
from controller.sandbox.world import DEPLOYMENT, NAMESPACE, OWNER, REPO, World
from controller.store import Store

T = TypeVar("T")
POLL_SECONDS = 0.05
CHECK_NAME = "sealgate"
PULL_REQUEST_ANNOTATION = "sealgate.dev/pull-request"
_CODE = re.compile(r"`([^`]+)`")


class NotObserved(SealgateError):
    """A step did not happen within its time: ``what`` says which, ``seen`` the last state."""

    def __init__(self, what: str, seen: str = "") -> None:
        super().__init__(what + (f" (last seen: {seen})" if seen else ""))
        self.what = what
        self.seen = seen


class StoryFailed(SealgateError):
    """A step of the sandbox story did not happen: ``step`` names it, ``reason`` says what."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    *,
    timeout: float,
    describe: Callable[[], str] | None = None,
) -> T:
    """Poll ``probe`` until it returns something other than None (or False)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None and found is not False:
            return found
        if time.monotonic() >= deadline:
            raise NotObserved(what, describe() if describe is not None else "")
        time.sleep(POLL_SECONDS)


# ------------------------------------------------------------------------------- GitHub


def check_run(world: World, sha: str, name: str = CHECK_NAME) -> dict[str, Any] | None:
    """The newest check run called ``name`` on ``sha``."""
    runs = [r for r in world.github.check_runs(OWNER, REPO, sha) if r["name"] == name]
    return max(runs, key=lambda r: int(r["id"])) if runs else None


def can_still_approve(summary: str) -> set[str]:
    """Logins in the "Can still approve" column of the summary table."""
    people: set[str] = set()
    for line in summary.splitlines():
        if line.startswith("| ") and not line.startswith("| Environment") and "---" not in line:
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            people.update(_CODE.findall(cells[-1]))
    return people


def pull(world: World, number: int) -> dict[str, Any]:
    return world.github.pull(OWNER, REPO, number)


def approvals_on_github(world: World, number: int) -> list[str]:
    return [
        str(r["user"]["login"])
        for r in world.github.reviews(OWNER, REPO, number)
        if r["state"] == "APPROVED"
    ]


# ------------------------------------------------------------------------------ clusters


def secret_object(world: World, environment: str, secret: str) -> dict[str, Any] | None:
    namespace, name = secret.split("/", 1)
    return world.cluster_for(environment).get("v1", "Secret", namespace, name)


def annotations_of(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("annotations") or {})


def rollout_count(world: World, environment: str) -> int:
    return world.cluster_for(environment).rollout_count(NAMESPACE, "Deployment", DEPLOYMENT)


def rollout_complete(world: World, environment: str) -> bool:
    obj = world.cluster_for(environment).get("apps/v1", "Deployment", NAMESPACE, DEPLOYMENT)
    if obj is None:
        return False
    status, spec = obj.get("status", {}), obj.get("spec", {})
    return bool(
        status.get("observedGeneration") == obj["metadata"].get("generation")
        and status.get("updatedReplicas") == spec.get("replicas")
        and status.get("availableReplicas") == spec.get("replicas")
    )


# --------------------------------------------------------------------------------- store


@contextmanager
def open_store(world: World) -> Iterator[Store]:
    kek = LocalKekFile(world.kek_file)
    with Store(world.store, kek, Keyring(world.keys, kek)) as store:
        yield store


@dataclass(frozen=True)
class StoreCommit:
    sha: str
    subject: str
    trailers: dict[str, str]


def store_commits(world: World) -> list[StoreCommit]:
    """Every commit of the store, oldest first, with its trailers."""
    if not (world.store / "HEAD").exists():
        return []
    repo = git.Repo(world.store)
    try:
        try:
            commits = list(repo.iter_commits())
        except (ValueError, git.GitCommandError):
            return []  # no commit yet
        out: list[StoreCommit] = []
        for commit in reversed(commits):
            message = str(commit.message)
            subject, _, rest = message.partition("\n")
            trailers: dict[str, str] = {}
            for line in rest.splitlines():
                name, sep, value = line.partition(": ")
                if sep and name and " " not in name:
                    trailers[name] = value
            out.append(StoreCommit(commit.hexsha, subject, trailers))
        return out
    finally:
        repo.close()


def store_commits_for(world: World, number: int) -> list[StoreCommit]:
    return [c for c in store_commits(world) if c.trailers.get("Pull-Request") == str(number)]
