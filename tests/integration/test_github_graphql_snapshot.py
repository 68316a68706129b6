"""A snapshot read through one GraphQL query says exactly what one read over REST says.

The same loopback world is read both ways, after every kind of thing people do on a pull
request: reviews of each kind, by people and by a team's member, a draft review, a dismissal,
comments by the App and by a person who took the App's name, an edited command, a push, a
flood of comments past one GraphQL page, a closed and a merged pull request. Any difference
would be a decision that depends on which API answered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.github import SnapshotReader
from controller.github.snapshot import PullRequestSnapshot
from tests.integration.test_github_adapter_world import FULL, OWNER, REPO, SLUG, World, build_world

BOT = f"{SLUG}[bot]"
NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = build_world(tmp_path)
    try:
        yield built
    finally:
        built.client.close()
        built.server.stop()


def comparable(snapshot: PullRequestSnapshot) -> PullRequestSnapshot:
    # The clock is the reader's; the repository's label ids come only with GraphQL (REST
    # shows the ids of the labels on the pull request, a subset).
    facts = dataclasses.replace(snapshot.facts, now=NOW)
    return dataclasses.replace(snapshot, facts=facts, label_ids={})


def both(world: World, number: int) -> tuple[PullRequestSnapshot, PullRequestSnapshot, int]:
    """(over REST, over GraphQL, requests the GraphQL read made)."""
    rest = SnapshotReader(world.client, graphql=False)
    graph = SnapshotReader(world.client)
    try:
        over_rest = rest.fetch(FULL, number)
        world.server.reset_request_log()
        over_graph = graph.fetch(FULL, number)
        made = len([r for r in world.server.request_log if r.user == BOT])
    finally:
        rest.close()
        graph.close()
    return comparable(over_rest), comparable(over_graph), made


def assert_same(world: World, number: int) -> PullRequestSnapshot:
    over_rest, over_graph, _ = both(world, number)
    assert over_graph == over_rest
    return over_graph


def test_a_fresh_pull_request_reads_the_same(world: World) -> None:
    number = world.open_pull()
    snapshot = assert_same(world, number)
    assert snapshot.node_id
    assert snapshot.rules_sha


def test_reviews_of_every_kind_read_the_same(world: World) -> None:
    number = world.open_pull()
    world.approve("bob", number)
    world.approve("dave", number)  # through the team the policy names
    world.approve("carol", number, event="REQUEST_CHANGES", body="not yet")
    world.approve("erin", number, event="COMMENT", body="looks fine")
    # A draft: only its author sees it, and it never counts.
    world.pull_as("mallory", number).create_review(body="draft")
    snapshot = assert_same(world, number)
    assert {r.user for r in snapshot.facts.reviews} == {"bob", "dave", "carol", "erin"}
    assert snapshot.facts.teams["acme/secops"] == frozenset({"dave"})


def test_a_dismissal_reads_the_same(world: World) -> None:
    number = world.open_pull()
    world.approve("bob", number)
    review = next(iter(world.pull_as("erin", number).get_reviews()))
    review.dismiss("stale")
    snapshot = assert_same(world, number)
    (dismissed,) = snapshot.facts.reviews
    assert dismissed.dismissed_by == "erin"


def test_the_app_and_a_person_with_its_name_stay_apart(world: World) -> None:
    number = world.open_pull()
    world.tokens[SLUG] = world.server.add_user(SLUG)  # a person who took the App's name
    world.server.add_collaborator(OWNER, REPO, SLUG, "write")
    world.as_user(SLUG).get_repo(FULL).get_issue(number).create_comment(
        "<!-- sealgate:summary -->\nall approved"
    )
    world.evaluate(number)  # the App's own sticky comment
    snapshot = assert_same(world, number)
    authors = sorted(c.user for c in snapshot.facts.comments)
    assert authors == sorted([SLUG, BOT])


def test_an_edited_command_reads_as_edited(world: World) -> None:
    number = world.open_pull()
    issue = world.as_user("bob").get_repo(FULL).get_issue(number)
    comment = issue.create_comment("/sealgate merge")
    world.as_user("erin").get_repo(FULL).get_issue(number).get_comment(comment.id).edit(
        "/sealgate merge now"
    )
    snapshot = assert_same(world, number)
    (edited,) = [c for c in snapshot.facts.comments if c.user == "bob"]
    assert edited.edited


def test_a_push_reads_the_same(world: World) -> None:
    number = world.open_pull()
    world.approve("bob", number)
    before = assert_same(world, number)
    world.push(number, {"changes/production/extra.yaml": b"# more\n"}, author="mallory")
    after = assert_same(world, number)
    assert after.facts.head_sha != before.facts.head_sha


def test_a_flood_past_one_page_is_read_whole(world: World) -> None:
    number = world.open_pull()
    issue = world.as_user("mallory").get_repo(FULL).get_issue(number)
    for index in range(101):
        issue.create_comment(f"noise {index}")
    world.as_user("bob").get_repo(FULL).get_issue(number).create_comment("/sealgate merge")
    snapshot = assert_same(world, number)
    assert len(snapshot.facts.comments) == 102
    assert snapshot.facts.comments[-1].user == "bob"


def test_closed_and_merged_read_the_same(world: World) -> None:
    closed = world.open_pull()
    world.pull_as("alice", closed).edit(state="closed")
    assert assert_same(world, closed).state.value == "closed"
    merged = world.open_pull()
    world.pull_as("erin", merged).merge()
    assert assert_same(world, merged).state.value == "merged"


def test_a_decision_after_a_review_is_one_graphql_read_and_one_activity_read(
    world: World,
) -> None:
    number = world.open_pull()
    reader = SnapshotReader(world.client)
    try:
        reader.fetch(FULL, number)  # the head's files and commits are kept from here on
        world.approve("bob", number)
        world.server.reset_request_log()
        reader.fetch(FULL, number)
        made = [(r.method, r.path) for r in world.server.request_log if r.user == BOT]
    finally:
        reader.close()
    assert sorted(made) == sorted([("POST", "/graphql"), ("GET", f"/repos/{FULL}/activity")]), made
