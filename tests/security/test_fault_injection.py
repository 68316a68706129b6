"""The sandbox story while both loopback servers misbehave ends in the same correct state.

Before each step the GitHub server is told to answer some of the next requests with server
errors, secondary rate limits (403 and 429 with ``Retry-After``) and slow answers, and the
cluster with server errors, 429s, 409 Conflicts and answers slower than the controller's
request timeout. The story's people retry as people do; the controller must cope alone.
Afterwards every step is checked from state, and the request logs must show that the
controller itself was refused and timed out, so the faults cannot have missed it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controller.sandbox.runner import ControllerProcess
from controller.sandbox.story import ENVIRONMENT, Step, demo_values, play
from controller.sandbox.world import BOT, World, build_world
from tests.e2e.test_sandbox_world import assert_story_state

CLUSTER_TIMEOUT_S = 2
SLOW_S = 3.0
"""Longer than the controller's cluster request timeout: those requests time out."""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(tmp_path / "world", poll_interval="5s", cluster_timeout=f"{CLUSTER_TIMEOUT_S}s")
    try:
        yield w
    finally:
        w.stop()


def transient_faults(world: World, step: str) -> None:
    """Trouble each client call survives with its own retries (at most 3 failures a call).

    GitHub faults sit on paths the controller only reads, and only on GET where people post to
    the same path (a person's review must not take the fault meant for the controller);
    the cluster's 409s are on writes, where a real API server answers them.
    """
    github = world.github
    cluster = world.cluster_for(ENVIRONMENT)
    if step == "pending":
        github.inject_faults(status=500, count=2, path_contains="/files", method="GET")
        github.inject_faults(status=502, count=1, path_contains="/teams/", method="GET")
        # The reviews come with the pull request in one GraphQL query: a read, so repeated.
        github.inject_faults(
            status=429, count=1, path_contains="/graphql", retry_after=1, graphql="query"
        )
    elif step == "sre_approvals":
        github.inject_faults(status=403, count=1, path_contains="/commits", retry_after=1)
        # Not the files: those of a head already read are not asked for again.
        github.inject_faults(status=503, count=1, path_contains="/activity", method="GET")
        github.inject_faults(status=200, count=2, path_contains="/issues/", delay_seconds=2.0)
    elif step == "merge":
        cluster.inject_faults(status=500, count=1, resource="secrets")
        cluster.inject_faults(status=429, count=1, resource="secrets")
        cluster.inject_faults(status=409, count=2, verb="create", resource="secrets")
        cluster.inject_faults(
            status=200, count=1, verb="get", resource="secrets", delay_seconds=SLOW_S
        )
        cluster.inject_faults(status=503, count=1, verb="patch", resource="deployments")
        cluster.inject_faults(
            status=200, count=1, verb="list", resource="deployments", delay_seconds=SLOW_S
        )


def failing_report(world: World, step: str) -> None:
    """The report of the final approval fails past every retry: the next poll must redo it."""
    if step == "security_approval":
        world.github.inject_faults(status=503, count=8, path_contains="/check-runs")


def failing_sync(world: World, step: str) -> None:
    """Creating the Secret fails past every retry of the pass that merges and applies: the
    change is merged and in the store but not in the cluster, which the next poll must
    finish (and restart the Deployment once)."""
    if step == "merge":
        world.cluster_for(ENVIRONMENT).inject_faults(
            status=503, count=12, verb="create", resource="secrets"
        )


def play_with(
    world: World, tmp_path: Path, faults: Callable[[World, str], None], *, timeout: float
) -> None:
    values = demo_values()
    steps: list[Step] = []
    with ControllerProcess(world.config, tmp_path / "logs", world.controller_url) as controller:
        controller.start()
        result = play(
            world,
            steps.append,
            values=values,
            timeout=timeout,
            before_step=lambda step: faults(world, step),
        )
        assert controller.alive, "a fault must not kill the controller"
    assert_story_state(world, result, values)


def test_the_story_ends_in_the_same_state_under_transient_faults(
    world: World, tmp_path: Path
) -> None:
    play_with(world, tmp_path, transient_faults, timeout=60)
    bot = [r for r in world.github.request_log if r.user == BOT]
    assert {500, 502, 503, 429, 403} <= {r.status for r in bot}
    cluster = {r.status for r in world.cluster_for(ENVIRONMENT).request_log}
    assert {500, 503, 429, 409} <= cluster, cluster
    timed_out = [r for r in world.cluster_for(ENVIRONMENT).request_log if r.verb == "get"]
    assert timed_out


# Polls every 2 s: 20 s per step gives the next passes ten chances.


def test_a_report_that_fails_for_good_is_redone_by_the_next_poll(
    world: World, tmp_path: Path
) -> None:
    # Writes are not retried by the client (a repeated POST could duplicate a check run), so
    # each failing pass uses up one or two of the faults: several polls pass before one
    # gets through, and that is the point.
    play_with(world, tmp_path, failing_report, timeout=60)
    assert 503 in {r.status for r in world.github.request_log if r.user == BOT}


def test_a_sync_that_fails_for_good_is_finished_by_the_next_poll(
    world: World, tmp_path: Path
) -> None:
    play_with(world, tmp_path, failing_sync, timeout=20)
    creates = [r for r in world.cluster_for(ENVIRONMENT).request_log if r.verb == "create"]
    assert 503 in {r.status for r in creates}
