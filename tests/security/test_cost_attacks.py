"""What one pull request can spend of the installation's rate limit, and stale memberships.

Everything goes through the loopback GitHub: pull requests are pushed and reviewed over its
API, and what the controller asked is read from its request log.
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.github.snapshot import MAX_CHANGED_FILES
from tests.integration.test_reconciler_world import (
    BOT,
    ENV,
    FULL,
    NAMESPACE,
    OWNER,
    REPO,
    Controller,
    World,
)
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414


def open_many(world: World, count: int, *, sealed: bool = True) -> int:
    """A pull request changing ``count`` files under ``changes/``, each a different secret.

    ``sealed=False`` writes placeholder bytes: enough for a pull request that must be refused
    before any file is read.
    """
    branch = f"many-{next(world.branches)}"
    files: Mapping[str, bytes | None] = {
        f"changes/{ENV}/{branch}-{i:04}.yaml": (
            world.change_yaml(f"{branch}-{i:04}", b"v", secret=f"{NAMESPACE}/many-{i:04}")
            if sealed
            else f"# file {i}\n".encode()
        )
        for i in range(count)
    }
    world.hub.push(OWNER, REPO, branch, files, message="many", author="alice", base="main")
    return world.hub.open_pull_request(
        OWNER, REPO, head=branch, title=f"{count} files", author="alice"
    )


def ours(world: World) -> list[str]:
    return [f"{r.method} {r.path}" for r in world.hub.request_log if r.user == BOT]


def test_a_pull_request_over_the_file_cap_is_invalid_and_reads_no_file(
    world: World, controller: Controller
) -> None:
    number = open_many(world, 1000, sealed=False)
    world.hub.reset_request_log()
    status = controller.reconciler.handle(FULL, number)
    assert status.status.value == "invalid"
    assert any(
        "changes 1000 files" in m and f"at most {MAX_CHANGED_FILES}" in m for m in status.messages
    ), status.messages
    first = ours(world)
    assert not [r for r in first if "/contents/changes" in r or r.endswith("/files")], first
    # The pull request, three lists, the rules at the base, one team, and the report.
    assert len(first) <= 16, first

    world.comment("bob", number, "please look again")
    world.hub.reset_request_log()
    assert controller.reconciler.handle(FULL, number).status.value == "invalid"
    again = ours(world)
    assert len(again) <= 8, again
    assert not world.hub.pull(OWNER, REPO, number)["merged"]


def test_a_second_pass_over_an_unchanged_pull_request_reads_no_file(
    world: World, controller: Controller
) -> None:
    number = open_many(world, 100)
    world.hub.reset_request_log()
    assert controller.reconciler.handle(FULL, number).status.value == "pending"
    blobs = [r for r in ours(world) if "/contents/changes/" in r]
    assert len(blobs) == 100, "the first pass reads each file once"

    world.approve("erin", number)  # a review that does not count: the request stays pending
    world.hub.reset_request_log()
    assert controller.reconciler.handle(FULL, number).status.value == "pending"
    assert not [r for r in ours(world) if "/contents/" in r], ours(world)

    world.hub.reset_request_log()
    controller.reconciler.expire_and_remind(FULL)
    sweep = ours(world)
    assert not [r for r in sweep if "/contents/" in r], sweep
    counted = [r for r in world.hub.request_log if r.user == BOT and r.counted]
    assert len(counted) <= 3, counted


def test_a_member_removed_from_the_team_after_approving_does_not_merge(
    world: World, controller: Controller
) -> None:
    number = world.open_pull()
    assert controller.reconciler.handle(FULL, number).status.value == "pending"  # warms the cache
    world.approve("dave", number)  # dave counts through acme/secops
    world.hub.set_team_members(OWNER, "secops", [])
    world.hub.reset_request_log()

    status = controller.reconciler.handle(FULL, number)

    assert status.status.value == "pending", status.messages
    log = ours(world)
    # Read again from GitHub, in the pass's own read (one GraphQL query also names the
    # team), not taken from the cache the first pass warmed.
    team_reads = [
        r
        for r in world.hub.request_log
        if r.user == BOT
        and (
            r.path == f"/orgs/{OWNER}/teams/secops/members"
            or (r.path == "/graphql" and r.operation == "query" and "t0" in r.body["data"])
        )
    ]
    assert team_reads, f"membership was read again: {log}"
    assert not [r for r in log if r.endswith("/merge")], log
    assert not world.hub.pull(OWNER, REPO, number)["merged"]
    assert controller.store.list_secrets() == [], "nothing was applied"
    assert world.secret() is None
    runs = world.checks(world.head(number), "sealgate")
    assert runs
    assert runs[-1]["conclusion"] != "success", runs

    # Control: with dave back in the team the same approval merges (a new controller: the
    # first one's cache now holds the emptied team for its TTL).
    world.hub.set_team_members(OWNER, "secops", ["dave"])
    later = world.controller()
    try:
        assert later.reconciler.handle(FULL, number).status.value == "synced"
    finally:
        later.close()
    assert world.hub.pull(OWNER, REPO, number)["merged"]
