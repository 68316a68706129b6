"""Snapshot reads made at once must still describe one head, and fresh teams must be fresh.

The reads of a snapshot go out together, so a push can land between the answer giving the
head and the answers describing it. Each push here is made while one read is held back by
the loopback server (a slow answer, not a timing assertion): the snapshot must refuse to mix
the two heads, and the next read must see the new one whole.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.errors import ConflictError
from controller.github.pull_reads import files_head
from controller.github.teams import FRESH_WITHIN_SECONDS, TeamDirectory
from tests.integration.test_github_adapter_world import (
    FULL,
    OWNER,
    World,
    build_world,
    change_yaml,
    response_problems,
)

HELD_S = 0.6
"""How long the held-back read waits: long enough for a push to land meanwhile."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(Path(tmp_path_factory.mktemp("snapshot-concurrency")))
    try:
        yield w
    finally:
        w.client.close()
        w.server.stop()


@pytest.fixture(autouse=True)
def clean_server(world: World) -> Iterator[None]:
    world.server.clear_faults()
    world.server.reset_request_log()
    yield
    world.server.clear_faults()
    assert response_problems(world.server.request_log) == []


def _push_while_held(world: World, number: int, held: str) -> tuple[str, BaseException | None]:
    """Fetch ``number`` with the read whose path ends in ``held`` held back, pushing a new
    commit while it waits; the new head and what the fetch raised (None if nothing)."""
    world.server.inject_faults(
        status=200, count=1, path_contains=f"/pulls/{number}/{held}", delay_seconds=HELD_S
    )
    raised: list[BaseException] = []

    def fetch() -> None:
        try:
            world.reader.fetch(FULL, number)
        except BaseException as exc:  # handed to the test thread
            raised.append(exc)

    reader = threading.Thread(target=fetch)
    reader.start()
    # The held read is on its way once the server has logged the pull request's own read.
    pull_paths = {f"/repos/{FULL}/pulls/{number}", "/graphql"}
    while not any(r.path in pull_paths for r in world.server.request_log):
        threading.Event().wait(0.01)
    head = world.push(
        number, {"changes/production/later.yaml": change_yaml("later", "later/s")}, author="alice"
    )
    reader.join(timeout=30)
    return head, raised[0] if raised else None


def test_commits_of_another_head_are_refused(world: World) -> None:
    number = world.open_pull()
    head, raised = _push_while_held(world, number, "commits")
    assert isinstance(raised, ConflictError), raised
    again = world.reader.fetch(FULL, number)
    assert again.facts.head_sha == head
    assert again.facts.commits[-1].sha == head
    assert "changes/production/later.yaml" in again.facts.changed_files


def test_files_of_another_head_are_refused(world: World) -> None:
    number = world.open_pull()  # never read: its files are asked for after the pull request
    head, raised = _push_while_held(world, number, "files")
    assert isinstance(raised, ConflictError), raised
    again = world.reader.fetch(FULL, number)
    assert again.facts.head_sha == head
    assert "changes/production/later.yaml" in again.facts.changed_files


def test_a_push_after_a_snapshot_is_read_whole_at_the_new_head(world: World) -> None:
    number = world.open_pull()
    first = world.reader.fetch(FULL, number)
    head = world.push(
        number, {"changes/production/next.yaml": change_yaml("next", "next/s")}, author="alice"
    )
    world.server.reset_request_log()
    second = world.reader.fetch(FULL, number)
    assert second.facts.head_sha == head != first.facts.head_sha
    assert second.facts.commits[-1].sha == head
    assert set(second.facts.changed_files) > set(first.facts.changed_files)
    # The guess (the old head) was wrong: the files and commits were asked for at the new one.
    asked = [r.path for r in world.server.request_log]
    assert f"/repos/{FULL}/pulls/{number}/files" in asked
    assert f"/repos/{FULL}/pulls/{number}/commits" in asked


def test_a_snapshot_reads_the_teams_from_github_not_the_cache(world: World) -> None:
    number = world.open_pull()
    assert world.reader.fetch(FULL, number).facts.teams["acme/secops"] == {"dave"}
    world.server.set_team_members(OWNER, "secops", [])
    try:
        # Well within the membership cache's minute: removed from the team, dave no longer
        # counts in the very next snapshot (whose merge would rest on it).
        assert world.reader.fetch(FULL, number).facts.teams["acme/secops"] == frozenset()
    finally:
        world.server.set_team_members(OWNER, "secops", ["dave"])


def test_a_fresh_read_reuses_only_a_read_from_github_moments_old(world: World) -> None:
    now = [0.0]
    teams = TeamDirectory(world.client, ttl=60, clock=lambda: now[0])
    assert teams.members("acme/secops") == {"dave"}
    world.server.set_team_members(OWNER, "secops", ["dave", "erin"])
    try:
        now[0] = FRESH_WITHIN_SECONDS / 2
        assert teams.members("acme/secops", fresh=True) == {"dave"}, "the same read"
        now[0] = FRESH_WITHIN_SECONDS
        assert teams.members("acme/secops", fresh=True) == {"dave", "erin"}
        assert teams.members("acme/secops") == {"dave", "erin"}, "and the cache refreshed"
    finally:
        world.server.set_team_members(OWNER, "secops", ["dave"])
    teams.close()


def test_the_files_list_names_its_head() -> None:
    url = "https://api.example/repos/o/r/contents/changes/a.yaml?ref="
    assert files_head(({"contents_url": url + "abc"}, {"contents_url": url + "abc"})) == "abc"
    assert files_head(({"contents_url": url + "abc"}, {"contents_url": url + "def"})) is None
    assert files_head(({"contents_url": "https://api.example/contents/a.yaml"},)) is None
    assert files_head(({"filename": "a.yaml"},)) is None
    assert files_head(()) is None
