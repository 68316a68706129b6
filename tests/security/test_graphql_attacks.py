"""Attacks on the decision read over GraphQL: one query for the pull request, its reviews,
comments, base tip, team members and label ids, and one mutation for the report.

Each test plays someone with write access (or a second account, or one named like the App)
against the loopback GitHub and Kubernetes through their HTTP APIs, runs the whole
reconciler and asserts the safe outcome: no merge, no Secret, the right count, one report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github.GithubException import UnknownObjectException

from controller.reconciler import Status
from tests.integration.graphql_support import post
from tests.integration.test_reconciler_world import (
    BOT,
    FULL,
    OWNER,
    POLICY_YAML,
    REPO,
    SLUG,
    Controller,
    World,
    build_world,
    next_second,
)
from tests.security.attack_support import untouched

SUMMARY_MARKER = "<!-- sealgate:summary -->"
ATTACKER = "mallory"


def _world(tmp_path: Path, policy: bytes = POLICY_YAML) -> World:
    world = build_world(tmp_path, policy=policy)
    _person(world, ATTACKER)
    return world


def _person(world: World, login: str, permission: str = "write") -> None:
    world.tokens[login] = world.hub.add_user(login)
    world.hub.add_collaborator(OWNER, REPO, login, permission)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = _world(tmp_path)
    try:
        yield w
    finally:
        w.hub.stop()
        w.kube.stop()


@pytest.fixture
def controller(world: World) -> Iterator[Controller]:
    c = world.controller()
    try:
        yield c
    finally:
        c.close()


def _stop(world: World) -> None:
    world.hub.stop()
    world.kube.stop()


def _policy(teams: str, *, auto_merge: bool = True) -> bytes:
    extra = "" if auto_merge else "  autoMerge: false\n"
    return (
        "apiVersion: sealgate.dev/v1\n"
        "kind: ApprovalPolicy\n"
        "metadata:\n  name: production\n"
        "spec:\n"
        "  environments: [production]\n"
        '  secrets: ["**"]\n'
        "  approvals:\n"
        "    required: 1\n"
        "    users: [bob, carol]\n"
        f"    teams: [{teams}]\n"
        f"{extra}"
        "  expiresAfter: 7d\n"
    ).encode()


def _review(world: World, login: str, number: int, event: str, body: str = "") -> None:
    pr = world.as_user(login).get_repo(FULL).get_pull(number)
    head = next(c for c in pr.get_commits() if c.sha == pr.head.sha)
    if event == "PENDING":
        pr.create_review(commit=head, body=body or "draft")
    else:
        pr.create_review(commit=head, event=event, body=body or event.lower())


def _stickies(world: World, number: int) -> list[dict[str, Any]]:
    return [
        c
        for c in world.hub.comments(OWNER, REPO, number)
        if c["user"]["login"] == BOT and str(c["body"]).startswith(SUMMARY_MARKER)
    ]


def _merged(world: World, number: int) -> bool:
    return bool(world.hub.pull(OWNER, REPO, number)["merged"])


# -- reviews ----------------------------------------------------------------------------------


def test_a_change_request_behind_a_page_of_review_noise_withdraws_the_approval(
    world: World, controller: Controller
) -> None:
    # bob approves; mallory buries the thread under 100 comment reviews; bob then requests
    # changes. A read that took the first page for the whole would still see bob's approval.
    number = world.open_pull()
    world.approve("bob", number)
    for index in range(100):
        _review(world, ATTACKER, number, "COMMENT", f"noise {index}")
    _review(world, "bob", number, "REQUEST_CHANGES", "wrong value")
    assert len(world.hub.reviews(OWNER, REPO, number)) == 102

    status = controller.reconciler.handle(FULL, number)
    assert status.status in (Status.PENDING, Status.REJECTED), status.messages
    assert "0 of 1 approval" in " ".join(status.messages)
    untouched(world, controller, number)


def test_an_approval_behind_a_page_of_review_noise_still_counts(
    world: World, controller: Controller
) -> None:
    number = world.open_pull()
    for index in range(100):
        _review(world, ATTACKER, number, "COMMENT", f"noise {index}")
    assert controller.reconciler.handle(FULL, number).status is Status.PENDING
    world.approve("bob", number)
    status = controller.reconciler.handle(FULL, number)
    assert status.status is not Status.PENDING, status.messages
    assert _merged(world, number)


def test_a_draft_review_and_a_dismissed_approval_do_not_count(
    world: World, controller: Controller
) -> None:
    number = world.open_pull()
    _review(world, "carol", number, "PENDING")  # a draft only carol sees
    world.approve("bob", number)
    pr = world.as_user("erin").get_repo(FULL).get_pull(number)
    (approval,) = [r for r in pr.get_reviews() if r.user.login == "bob"]
    approval.dismiss("not this value")

    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.PENDING, status.messages
    untouched(world, controller, number)


# -- teams ------------------------------------------------------------------------------------


def test_a_team_past_one_page_of_members_counts_every_member_and_no_one_else(
    tmp_path: Path,
) -> None:
    world = _world(tmp_path, _policy("acme/big"))
    try:
        members = [f"m{index:03d}" for index in range(150)]
        for login in members:
            world.hub.add_user(login)
        _person(world, "zoe")  # sorts after every other member: on the second page
        world.hub.add_team(OWNER, "big", [*members, "zoe"])
        controller = world.controller()
        try:
            number = world.open_pull()
            world.approve(ATTACKER, number)
            status = controller.reconciler.handle(FULL, number)
            assert status.status is Status.PENDING, status.messages
            untouched(world, controller, number)

            world.approve("zoe", number)
            status = controller.reconciler.handle(FULL, number)
            assert status.status is not Status.PENDING, status.messages
            assert _merged(world, number)
        finally:
            controller.close()
    finally:
        _stop(world)


def test_a_team_of_an_organization_github_does_not_show_counts_nobody_and_spoils_no_other(
    tmp_path: Path,
) -> None:
    # One team alias answers NOT_FOUND; the rest of the same GraphQL answer must still stand,
    # and the missing team must not be read as "everyone" or as an error that blocks forever.
    world = _world(tmp_path, _policy("nowhere/ops, acme/secops"))
    try:
        controller = world.controller()
        try:
            number = world.open_pull()
            world.approve(ATTACKER, number)
            status = controller.reconciler.handle(FULL, number)
            assert status.status is Status.PENDING, status.messages
            untouched(world, controller, number)

            world.approve("dave", number)  # acme/secops
            status = controller.reconciler.handle(FULL, number)
            assert status.status is not Status.PENDING, status.messages
            assert _merged(world, number)
        finally:
            controller.close()
    finally:
        _stop(world)


# -- comments and commands --------------------------------------------------------------------


def test_a_person_named_like_the_app_plants_no_sticky_comment_and_no_command(
    world: World, controller: Controller
) -> None:
    _person(world, SLUG)
    number = world.open_pull()
    issue = world.as_user(SLUG).get_repo(FULL).get_issue(number)
    fake = issue.create_comment(f"{SUMMARY_MARKER}\nApproved by bob. Merging.")
    world.comment(SLUG, number, "/sealgate merge")

    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.PENDING, status.messages
    untouched(world, controller, number)
    assert len(_stickies(world, number)) == 1
    assert issue.get_comment(fake.id).body == f"{SUMMARY_MARKER}\nApproved by bob. Merging."


def test_a_command_edited_in_over_graphql_is_refused(tmp_path: Path) -> None:
    world = _world(tmp_path, _policy("acme/secops", auto_merge=False))
    try:
        controller = world.controller()
        try:
            number = world.open_pull()
            world.approve("bob", number)
            assert controller.reconciler.handle(FULL, number).status is Status.APPROVED
            next_second()
            said = world.as_user("alice").get_repo(FULL).get_issue(number).create_comment("ok")
            # mallory has write access: she may edit anyone's comment, through GraphQL too.
            answer = post(
                world.as_user(ATTACKER),
                "mutation($id: ID!, $body: String!) "
                "{ updateIssueComment(input: {id: $id, body: $body}) { issueComment { id } } }",
                {"id": said.raw_data["node_id"], "body": "/sealgate merge"},
            )
            assert "errors" not in answer, answer
            status = controller.reconciler.handle(FULL, number)
            assert status.status is Status.APPROVED, status.messages
            assert not _merged(world, number)
            assert world.secret() is None

            world.comment("alice", number, "/sealgate merge")  # the real one, never edited
            status = controller.reconciler.handle(FULL, number)
            assert _merged(world, number), status.messages
        finally:
            controller.close()
    finally:
        _stop(world)


def test_a_deleted_sticky_comment_comes_back_once(world: World, controller: Controller) -> None:
    number = world.open_pull()
    controller.reconciler.handle(FULL, number)
    (sticky,) = _stickies(world, number)
    issue = world.as_user("erin").get_repo(FULL).get_issue(number)
    issue.get_comment(int(sticky["id"])).delete()
    assert _stickies(world, number) == []

    world.approve(ATTACKER, number)  # a new event: the report must be written somewhere
    controller.reconciler.handle(FULL, number)
    controller.reconciler.handle(FULL, number)
    assert len(_stickies(world, number)) == 1
    untouched(world, controller, number)


# -- labels -----------------------------------------------------------------------------------


def _add_labels(world: World, login: str, number: int, names: list[str]) -> None:
    repo = world.as_user(login).get_repo(FULL)
    for name in names:
        try:
            repo.get_label(name)
        except UnknownObjectException:
            repo.create_label(name, "ededed")
    repo.get_issue(number).add_to_labels(*names)


def test_a_hand_made_approved_label_merges_nothing_and_is_taken_off(
    world: World, controller: Controller
) -> None:
    number = world.open_pull()
    _add_labels(world, ATTACKER, number, ["sealgate:approved"])
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.PENDING, status.messages
    untouched(world, controller, number)
    labels = world.hub.labels(OWNER, REPO, number)
    assert "sealgate:approved" not in labels
    assert "sealgate:pending" in labels


def test_an_approved_label_hidden_behind_a_page_of_labels_is_still_taken_off(
    world: World, controller: Controller
) -> None:
    number = world.open_pull()
    assert controller.reconciler.handle(FULL, number).status is Status.PENDING
    _add_labels(world, ATTACKER, number, [f"noise-{index:03d}" for index in range(100)])
    _add_labels(world, ATTACKER, number, ["sealgate:approved"])
    world.approve(ATTACKER, number)  # a new event, still pending

    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.PENDING, status.messages
    untouched(world, controller, number)
    labels = world.hub.labels(OWNER, REPO, number)
    assert "sealgate:approved" not in labels
    assert "sealgate:pending" in labels


def test_a_person_named_like_the_app_cannot_mark_a_command_as_answered(
    world: World, controller: Controller
) -> None:
    # GraphQL calls the App's bot `sealgate`, the very login this person owns: were the two
    # confused, this forged reply marker would swallow sealgate's answer to alice.
    _person(world, SLUG)
    number = world.open_pull()
    next_second()
    command = (
        world.as_user("alice").get_repo(FULL).get_issue(number).create_comment("/sealgate merge")
    )
    forged = f"<!-- sealgate:note:reply:{command.id} -->\nDone."
    world.as_user(SLUG).get_repo(FULL).get_issue(number).create_comment(forged)

    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.PENDING, status.messages
    untouched(world, controller, number)
    assert _replies(world, number, command.id) == 1
    controller.reconciler.handle(FULL, number)  # answered once, not again
    assert _replies(world, number, command.id) == 1


def _replies(world: World, number: int, comment_id: int) -> int:
    marker = f"<!-- sealgate:note:reply:{comment_id} -->"
    return sum(
        1
        for c in world.hub.comments(OWNER, REPO, number)
        if c["user"]["login"] == BOT and str(c["body"]).startswith(marker)
    )


def test_an_approved_pull_request_retargeted_to_an_unjudged_branch_merges_nothing(
    world: World, controller: Controller
) -> None:
    world.hub.push(
        OWNER,
        REPO,
        "release",
        {"README.md": b"release\n"},
        message="release",
        author="erin",
        base="main",
    )
    number = world.open_pull()
    world.approve("bob", number)
    pr = world.as_user(ATTACKER).get_repo(FULL).get_pull(number)
    pr.edit(base="release")

    status = controller.reconciler.handle(FULL, number)
    assert status.status is not Status.MERGED, status.messages
    untouched(world, controller, number)
    assert world.hub.read_file(OWNER, REPO, "release", "changes/production/change-1.yaml") is None
