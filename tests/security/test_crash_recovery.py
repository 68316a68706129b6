"""Kill ``sealgate run`` (SIGKILL, or a named crash point) over and over while it works.

One seeded world is reused. For each change a developer opens a staging pull request, an SRE
approves it, and the controller is killed at random moments of its work (right after it is
ready, or while it is still starting) and, once per change, at a named crash point of the
store or the reconciler (``SEALGATE_CRASHPOINT``), then restarted, until the change is
merged, applied, synced and rolled out. After at least 100 kills, from state:

- every approved change is in the store exactly once (one commit, one history entry, one
  audit record);
- the cluster's Secret equals the store's current version;
- the Deployment rolled exactly once per change (never twice);
- the audit log verifies.
"""

from __future__ import annotations

import base64
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.sandbox import observe
from controller.sandbox.observe import wait_for
from controller.sandbox.people import Person, open_change
from controller.sandbox.runner import ControllerProcess
from controller.sandbox.world import DEVELOPER, SECRET, SRES, World, build_world
from controller.store import APPLY_STEPS, SYNC_STEPS

# A hundred kills and restarts of a real process take 2-4 minutes on a quiet 2-core machine
# and more on a busy one: the suite-wide 300 s limit is for hangs, not for this loop.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ENVIRONMENT = "staging"
MIN_KILLS = 100
MAX_CHANGES = 40
CRASHPOINTS = (
    *APPLY_STEPS,
    *SYNC_STEPS,
    "reconciler.after-merge",
    "reconciler.after-apply",
    "reconciler.after-sync",
    "reconciler.after-report",
)
CRASH_EXIT = 137
STARTUP_KILLS = 0.3
"""Share of the random kills that land while the controller is still starting."""


def phase(world: World, number: int) -> str:
    """How far the change of pull request ``number`` got, read from state."""
    if not observe.pull(world, number).get("merged"):
        return "pending"
    if not observe.store_commits_for(world, number):
        return "merged"
    obj = observe.secret_object(world, ENVIRONMENT, SECRET)
    marks = observe.annotations_of(obj) if obj is not None else {}
    if marks.get(observe.PULL_REQUEST_ANNOTATION) != str(number):
        return "applied"
    return "synced"


def finished(world: World, number: int, rollouts: int) -> bool:
    return (
        phase(world, number) == "synced"
        and observe.rollout_count(world, ENVIRONMENT) >= rollouts
        and observe.rollout_complete(world, ENVIRONMENT)
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(
        Path(tmp_path_factory.mktemp("crash")), rollout_seconds=0.05, poll_interval="1s"
    )
    # More than a hundred restarts each take a fresh installation token and poll at once:
    # the loopback's hourly budget is not what this test is about.
    w.github.set_rate_limit(1_000_000)
    try:
        yield w
    finally:
        w.stop()


def test_every_approved_change_lands_exactly_once_whatever_the_kills(
    world: World, tmp_path: Path
) -> None:
    rng = random.Random(20261121)
    developer, approver = Person(world, DEVELOPER), Person(world, SRES[0])
    controller = ControllerProcess(world.config, tmp_path / "logs", world.controller_url)
    kills = 0
    phases: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    changes: list[tuple[int, dict[str, bytes]]] = []
    untried = list(CRASHPOINTS)
    try:
        while kills < MIN_KILLS or untried:
            assert len(changes) < MAX_CHANGES, f"only {kills} kills in {MAX_CHANGES} changes"
            values = {"STRIPE_API_KEY": f"crash-{len(changes)}-{rng.getrandbits(64):x}".encode()}
            proposal = open_change(world, developer, values, environment=ENVIRONMENT)
            number = proposal.number
            changes.append((number, values))
            crashpoint = untried.pop(0) if untried else None
            # First kill: approved while the controller is still starting, before any merge.
            controller.start(wait_ready=None)
            approver.approve(number)
            time.sleep(rng.uniform(0.1, 1.5))
            controller.kill()
            kills += 1
            phases[phase(world, number)] += 1
            attempt = 0
            while not finished(world, number, len(changes)):
                assert attempt < 40, f"#{number} makes no progress across restarts"
                attempt += 1
                if crashpoint is not None:
                    controller.start(crashpoint=crashpoint)
                    if controller.wait_exit(15.0) == CRASH_EXIT:
                        hit[crashpoint] += 1
                    else:
                        untried.append(crashpoint)  # not reached this time: again later
                    crashpoint = None
                elif rng.random() < STARTUP_KILLS:
                    # Killed while still starting up (opening the store, first poll).
                    controller.start(wait_ready=None)
                    time.sleep(rng.uniform(0.1, 1.2))
                else:
                    controller.start()
                    # Later kills of one change come later in its work, so each restart
                    # can get further than the last one and the kills spread over the steps.
                    time.sleep(rng.uniform(0.0, 0.3 * attempt))
                controller.kill()
                kills += 1
                phases[phase(world, number)] += 1
            if crashpoint is not None:
                untried.insert(0, crashpoint)  # the change was done before it was tried
        controller.start()
        last = changes[-1][0]
        wait_for(
            "the last change to settle", lambda: finished(world, last, len(changes)), timeout=30
        )
    finally:
        controller.stop()
        developer.close()
        approver.close()

    summary = f"{kills} kills over {len(changes)} changes; phases {dict(phases)}; hit {dict(hit)}"
    print(summary)  # shown with -s or on failure
    assert kills >= MIN_KILLS, summary
    assert set(hit) == set(CRASHPOINTS), (
        f"crash points never reached: {set(CRASHPOINTS) - set(hit)}"
    )
    assert {"pending", "merged", "applied", "synced"} <= set(phases), summary

    numbers = [number for number, _ in changes]
    for number in numbers:
        assert observe.pull(world, number)["merged"] is True
        assert len(observe.store_commits_for(world, number)) == 1, f"#{number} applied twice"
    with observe.open_store(world) as store:
        history = store.history(ENVIRONMENT, SECRET)
        change_ids = [v.change_id for v in history]
        assert len(change_ids) == len(set(change_ids)) == len(changes)
        current = store.read_secret(ENVIRONMENT, SECRET)
        assert current is not None
        assert dict(current.data) == changes[-1][1]
        report = store.audit_verify()
        assert report.ok, report.problems
        applies = [r for r in store.audit_records() if r.event == "apply"]
        assert len(applies) == len(changes)

    obj = observe.secret_object(world, ENVIRONMENT, SECRET)
    assert obj is not None
    assert {k: base64.b64decode(v) for k, v in obj["data"].items()} == dict(current.data)
    marks = observe.annotations_of(obj)
    assert marks["sealgate.dev/store-version"] == str(current.version)
    assert marks[observe.PULL_REQUEST_ANNOTATION] == str(numbers[-1])
    assert observe.rollout_count(world, ENVIRONMENT) == len(changes)
