"""Whoever can still approve is asked to review (GitHub's requested reviewers), once per head,
and mentioned once in the sticky comment; read back through PyGithub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.github.summary import MARKER
from controller.reconciler import Status
from tests.integration.test_reconciler_world import (
    FULL,
    OWNER,
    POLICY_YAML,
    REPO,
    Controller,
    World,
    build_world,
)
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414


def requested(world: World, number: int) -> tuple[list[str], list[str]]:
    pr = world.as_user("erin").get_repo(FULL).get_pull(number)
    users, teams = pr.get_review_requests()
    return sorted(u.login for u in users), sorted(t.slug for t in teams)


def sticky(world: World, number: int) -> str:
    found = [
        str(c["body"])
        for c in world.hub.comments(OWNER, REPO, number)
        if str(c["body"]).startswith(MARKER)
    ]
    assert len(found) == 1, found
    return found[0]


def review_request_calls(world: World) -> list[str]:
    return [
        f"{r.method} {r.path}" for r in world.hub.request_log if "requested_reviewers" in r.path
    ]


@pytest.fixture
def two_world(tmp_path: Path) -> Iterator[World]:
    """Two approvals needed, so one approval leaves the pull request pending."""
    w = build_world(tmp_path, policy=POLICY_YAML.replace(b"required: 1", b"required: 2"))
    try:
        yield w
    finally:
        w.hub.stop()
        w.kube.stop()


@pytest.fixture
def two(two_world: World) -> Iterator[Controller]:
    c = two_world.controller()
    try:
        yield c
    finally:
        c.close()


def test_who_can_approve_is_asked_and_mentioned_once_never_the_author(
    world: World, controller: Controller
) -> None:
    number = world.open_pull()
    assert controller.reconciler.handle(FULL, number).status is Status.PENDING
    assert requested(world, number) == (["bob", "carol"], ["secops"])
    body = sticky(world, number)
    assert "Review requested from @bob, @carol, @acme/secops." in body
    assert "@alice" not in body

    # Later passes on the same head ask nobody and do not read the requests again.
    world.hub.reset_request_log()
    for _ in range(2):
        controller.reconciler.handle(FULL, number)
    assert review_request_calls(world) == []
    assert sticky(world, number).count("@bob") == 1


def test_a_reviewer_who_approved_is_not_asked_again_nor_one_who_stepped_back_on_this_head(
    two_world: World, two: Controller
) -> None:
    world = two_world
    number = world.open_pull()
    two.reconciler.handle(FULL, number)
    assert requested(world, number) == (["bob", "carol"], ["secops"])

    world.approve("bob", number)  # GitHub drops bob's request as he reviews
    pr = world.as_user("carol").get_repo(FULL).get_pull(number)
    pr.delete_review_request(reviewers=["carol"])  # carol steps back
    assert two.reconciler.handle(FULL, number).status is Status.PENDING
    assert requested(world, number) == ([], ["secops"])

    # A fresh controller (a restart) reads who was asked on this head from the sticky
    # comment and asks nobody again.
    again = world.controller()
    try:
        world.hub.reset_request_log()
        assert again.reconciler.handle(FULL, number).status is Status.PENDING
        assert review_request_calls(world) == []
    finally:
        again.close()
    assert requested(world, number) == ([], ["secops"])


def test_a_new_head_asks_again_whoever_is_needed_again_but_mentions_nobody_twice(
    two_world: World, two: Controller
) -> None:
    world = two_world
    number = world.open_pull()
    two.reconciler.handle(FULL, number)
    world.approve("bob", number)
    two.reconciler.handle(FULL, number)
    assert requested(world, number) == (["carol"], ["secops"])

    world.push_more(number, b"second-value")  # bob's approval is of the old head now
    assert two.reconciler.handle(FULL, number).status is Status.PENDING
    assert requested(world, number) == (["bob", "carol"], ["secops"])
    body = sticky(world, number)
    assert body.count("@bob") == 1
    assert body.count("@carol") == 1


def test_someone_github_refuses_does_not_stop_the_others(tmp_path: Path) -> None:
    """frank is listed but has no access to the repository: GitHub refuses the batch, and
    sealgate asks the others one by one."""
    w = build_world(tmp_path, policy=POLICY_YAML.replace(b"[bob, carol]", b"[bob, carol, frank]"))
    w.hub.add_user("frank")
    c = w.controller()
    try:
        number = w.open_pull()
        assert c.reconciler.handle(FULL, number).status is Status.PENDING
        assert requested(w, number) == (["bob", "carol"], ["secops"])
        body = sticky(w, number)
        assert "@frank" not in body
        w.hub.reset_request_log()
        c.reconciler.handle(FULL, number)
        assert review_request_calls(w) == []
    finally:
        c.close()
        w.hub.stop()
        w.kube.stop()
