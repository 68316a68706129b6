"""Every ``/sealgate`` comment gets exactly one answer, through the loopback GitHub.

Commands are posted as the people would post them (PyGithub over HTTP); what sealgate
answered is read back from the server's comments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.reconciler import Status
from controller.reconciler.answers import MAX_PER_PASS
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

_REPLY = re.compile(r"<!-- sealgate:note:reply:(\d+) -->")


def replies(world: World, number: int) -> dict[int, list[str]]:
    """Command comment id -> the bodies of sealgate's answers to it."""
    out: dict[int, list[str]] = {}
    for comment in world.hub.comments(OWNER, REPO, number):
        match = _REPLY.match(str(comment["body"]))
        if match and str(comment["user"]["login"]).endswith("[bot]"):
            out.setdefault(int(match.group(1)), []).append(str(comment["body"]))
    return out


def comment_id(world: World, number: int, body: str) -> int:
    found = [c for c in world.hub.comments(OWNER, REPO, number) if c["body"] == body]
    assert len(found) == 1, found
    return int(found[0]["id"])


def answer(world: World, number: int, body: str) -> str:
    """The one answer to the comment ``body``."""
    got = replies(world, number).get(comment_id(world, number, body), [])
    assert len(got) == 1, got
    return got[0]


@pytest.fixture
def explicit_world(tmp_path: Path) -> Iterator[World]:
    """Policies that wait for ``/sealgate merge``."""
    policy = POLICY_YAML.replace(
        b"  expiresAfter: 7d\n", b"  expiresAfter: 7d\n  autoMerge: false\n"
    )
    w = build_world(tmp_path, policy=policy)
    try:
        yield w
    finally:
        w.hub.stop()
        w.kube.stop()


@pytest.fixture
def explicit(explicit_world: World) -> Iterator[Controller]:
    c = explicit_world.controller()
    try:
        yield c
    finally:
        c.close()


def test_help_lists_every_command_and_an_unknown_one_gets_the_nearest(
    world: World, controller: Controller
) -> None:
    number = world.open_pull()
    world.comment("alice", number, "/sealgate help")
    world.comment("bob", number, "/sealgate mrege")
    world.comment("carol", number, "Looks fine.\n/sealgate")
    controller.reconciler.handle(FULL, number)

    helped = answer(world, number, "/sealgate help")
    for command in ("/sealgate merge", "/sealgate bypass <reason>", "/sealgate plan"):
        assert command in helped
    unknown = answer(world, number, "/sealgate mrege")
    assert "`mrege` is not a sealgate command" in unknown
    assert "did you mean `/sealgate merge`?" in unknown
    assert "No command given" in answer(world, number, "Looks fine.\n/sealgate")

    # Every later pass finds its answers and posts nothing more.
    world.hub.reset_request_log()
    controller.reconciler.handle(FULL, number)
    assert not [r for r in world.github_writes() if "/comments" in r]
    assert all(len(v) == 1 for v in replies(world, number).values())


def test_merge_while_pending_says_how_many_more_approvals(
    explicit_world: World, explicit: Controller
) -> None:
    world = explicit_world
    number = world.open_pull(b"pending-merge")
    world.comment("alice", number, "/sealgate merge")
    status = explicit.reconciler.handle(FULL, number)
    assert status.status is Status.PENDING
    text = answer(world, number, "/sealgate merge")
    assert "**Not merged:** needs 1 more approval" in text
    assert "bob" in text
    assert "carol" in text


def test_merge_by_someone_who_may_not_says_who_may(
    explicit_world: World, explicit: Controller
) -> None:
    world = explicit_world
    number = world.open_pull(b"not-allowed")
    world.approve("bob", number)
    world.comment("erin", number, "/sealgate merge")  # an admin no policy names
    assert explicit.reconciler.handle(FULL, number).status is Status.APPROVED
    text = answer(world, number, "/sealgate merge")
    assert "**Not allowed:** only the author (alice)" in text
    assert "carol" in text
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False


def test_an_edited_command_is_answered_as_not_a_command(
    explicit_world: World, explicit: Controller
) -> None:
    world = explicit_world
    number = world.open_pull(b"edited")
    world.approve("bob", number)
    world.comment("carol", number, "LGTM")
    edited = next(
        c
        for c in world.as_user("erin").get_repo(FULL).get_issue(number).get_comments()
        if c.body == "LGTM"
    )
    edited.edit("/sealgate merge")  # erin puts words in carol's mouth
    assert explicit.reconciler.handle(FULL, number).status is Status.APPROVED
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    text = answer(world, number, "/sealgate merge")
    assert "**Not taken as a command:** this comment was edited" in text


def test_a_counted_merge_is_answered_done_once_merged(
    explicit_world: World, explicit: Controller
) -> None:
    world = explicit_world
    number = world.open_pull(b"done")
    world.approve("bob", number)
    world.comment("carol", number, "/sealgate merge")
    status = explicit.reconciler.handle(FULL, number)
    assert status.status is Status.SYNCED, status.messages
    assert "**Merged** head" in answer(world, number, "/sealgate merge")
    # After the merge, the merged pull request's passes keep the single answer.
    explicit.reconciler.handle(FULL, number)
    assert len(replies(world, number)) == 1


def test_a_reply_never_echoes_what_was_typed_after_the_command(
    world: World, controller: Controller
) -> None:
    number = world.open_pull()
    typed = "hunter2-Sup3rSecret-value-pasted"
    world.comment("alice", number, f"/sealgate bypass {typed}")
    world.comment("bob", number, f"/sealgate {typed}")
    controller.reconciler.handle(FULL, number)
    bypass = answer(world, number, f"/sealgate bypass {typed}")
    assert "**Not allowed:**" in bypass
    assert "hard enforcement" in bypass
    unknown = answer(world, number, f"/sealgate {typed}")
    assert "That is not a sealgate command" in unknown
    for body in (bypass, unknown):
        assert typed.casefold() not in body.casefold()


def test_a_look_alike_marker_from_someone_else_does_not_silence_a_command(
    world: World, controller: Controller
) -> None:
    number = world.open_pull()
    world.comment("bob", number, "/sealgate help")
    target = comment_id(world, number, "/sealgate help")
    world.comment("bob", number, f"<!-- sealgate:note:reply:{target} -->\ndone")
    controller.reconciler.handle(FULL, number)
    assert len(replies(world, number)[target]) == 1


def _comments(world: World, number: int) -> list[dict[str, Any]]:
    return world.hub.comments(OWNER, REPO, number)


def test_answered_exactly_once_across_a_crash_and_two_controllers(world: World) -> None:
    number = world.open_pull()
    world.comment("alice", number, "/sealgate help")
    target = comment_id(world, number, "/sealgate help")

    # Seen, not answered: the process dies right before posting.
    died = world.run_child(number, "reconciler.before-reply")
    assert died.returncode == 137, died.stderr.decode()
    assert target not in replies(world, number)

    # Answered, then the process dies before anything else.
    died = world.run_child(number, "reconciler.after-reply")
    assert died.returncode == 137, died.stderr.decode()
    assert len(replies(world, number)[target]) == 1

    # Two more controllers, one after the other: neither answers again.
    for _ in range(2):
        again = world.controller()
        try:
            again.reconciler.handle(FULL, number)
        finally:
            again.close()
    assert len(replies(world, number)[target]) == 1
    assert len([c for c in _comments(world, number) if c["body"] == "/sealgate help"]) == 1


def test_a_merge_whose_controller_died_right_after_merging_is_answered_done_by_the_next(
    explicit_world: World,
) -> None:
    world = explicit_world
    number = world.open_pull(b"crash-merge")
    world.approve("bob", number)
    world.comment("carol", number, "/sealgate merge")
    died = world.run_child(number, "reconciler.after-merge")
    assert died.returncode == 137, died.stderr.decode()
    assert world.hub.pull(OWNER, REPO, number)["merged"] is True
    assert replies(world, number) == {}

    after = world.controller()
    try:
        assert after.reconciler.handle(FULL, number).status is Status.SYNCED
    finally:
        after.close()
    assert "**Merged** head" in answer(world, number, "/sealgate merge")


def test_a_command_on_a_closed_pull_request_is_told_nothing_was_done(
    world: World, controller: Controller
) -> None:
    number = world.open_pull()
    world.comment("alice", number, "/sealgate merge")
    world.as_user("alice").get_repo(FULL).get_pull(number).edit(state="closed")
    assert controller.reconciler.handle(FULL, number).status is Status.CLOSED
    assert "**Nothing done:** the pull request is closed." in answer(
        world, number, "/sealgate merge"
    )


def test_a_flood_of_commands_is_answered_over_several_passes_each_once(
    world: World, controller: Controller
) -> None:
    number = world.open_pull()
    issue = world.as_user("bob").get_repo(FULL).get_issue(number)
    for index in range(MAX_PER_PASS + 3):
        issue.create_comment(f"/sealgate nope{index}")
    controller.reconciler.handle(FULL, number)
    assert len(replies(world, number)) == MAX_PER_PASS
    controller.reconciler.handle(FULL, number)
    answered = replies(world, number)
    assert len(answered) == MAX_PER_PASS + 3
    assert all(len(v) == 1 for v in answered.values())
