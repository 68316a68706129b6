"""Attacks on who counts: forged commit identities, edited comments, pushes after a
command, commands in code.

Each attack is carried out as the attacker would, through the loopback GitHub server with
the attacker's own token (a real ``git push`` over smart HTTP with any author and committer
they like, editing someone else's comment via the REST API, pushing to their branch), and
is judged from what the servers and the store hold afterwards: the pull
request is not merged, nothing is applied, the cluster's Secret is untouched.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from controller.reconciler.status import Status
from tests.integration.test_reconciler_world import (
    ENV,
    FULL,
    OWNER,
    POLICY_YAML,
    REPO,
    Controller,
    World,
    build_world,
    next_second,
)

SOFT = POLICY_YAML + b"  enforcement: soft\n  bypassers:\n    users: [alice]\n"
EXPLICIT = POLICY_YAML + b"  autoMerge: false\n"


def _world(tmp_path: Path, policy: bytes) -> Iterator[World]:
    w = build_world(tmp_path, policy=policy)
    try:
        yield w
    finally:
        w.hub.stop()
        w.kube.stop()


@pytest.fixture
def plain_world(tmp_path: Path) -> Iterator[World]:
    yield from _world(tmp_path, POLICY_YAML)


@pytest.fixture
def soft_world(tmp_path: Path) -> Iterator[World]:
    yield from _world(tmp_path, SOFT)


@pytest.fixture
def explicit_world(tmp_path: Path) -> Iterator[World]:
    yield from _world(tmp_path, EXPLICIT)


def edit_last_comment_of(world: World, editor: str, number: int, author: str, body: str) -> None:
    """``editor`` rewrites ``author``'s latest comment through the REST API, as anyone with
    write access to the repository may (a second later: GitHub's times have one-second
    precision, and an edit in the comment's own second cannot be told from no edit)."""
    next_second()
    issue = world.as_user(editor).get_repo(FULL).get_issue(number)
    target = [c for c in issue.get_comments() if c.user.login == author][-1]
    target.edit(body)


def assert_nothing_happened(world: World, controller: Controller, number: int) -> None:
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert world.secret() is None
    assert controller.store.is_applied(f"{ENV}/pr-{number}") is None


def test_a_comment_edited_into_a_bypass_by_another_user_is_ignored(soft_world: World) -> None:
    world = soft_world
    controller = world.controller()
    try:
        number = world.open_pull(b"alices-value")
        # erin: write access, neither approver nor bypasser. She pushes her own value, then
        # turns alice's (the author's, a bypasser's) harmless comment into a bypass.
        world.push_more(number, b"erins-value", author="erin")
        world.comment("alice", number, "thanks, having a look")
        edit_last_comment_of(world, "erin", number, "alice", "/sealgate bypass urgent, ship it now")

        status = controller.reconciler.handle(FULL, number)
        assert status.status is Status.PENDING, status.messages
        assert any("was edited" in m for m in status.messages), status.messages
        assert_nothing_happened(world, controller, number)
    finally:
        controller.close()


def test_a_comment_edited_into_a_merge_command_is_ignored(explicit_world: World) -> None:
    world = explicit_world
    controller = world.controller()
    try:
        number = world.open_pull(b"explicit")
        world.approve("bob", number)
        world.comment("alice", number, "waiting for the change window")
        edit_last_comment_of(world, "erin", number, "alice", "/sealgate merge")

        status = controller.reconciler.handle(FULL, number)
        assert status.status is Status.APPROVED, status.messages  # approved, not merged
        assert any("was edited" in m for m in status.messages), status.messages
        assert_nothing_happened(world, controller, number)
    finally:
        controller.close()


def test_a_push_after_a_refused_bypass_is_not_applied_without_review(soft_world: World) -> None:
    world = soft_world
    controller = world.controller()
    try:
        branch = "broken"
        world.hub.push(
            OWNER,
            REPO,
            branch,
            {f"changes/{ENV}/{branch}.yaml": b"kind: SecretChange\nspec: [not, valid]\n"},
            message="an invalid change",
            author="alice",
            base="main",
        )
        number = world.hub.open_pull_request(
            OWNER, REPO, head=branch, title="broken", author="alice"
        )
        world.comment("alice", number, "/sealgate bypass INC-7 payments are down")
        refused = controller.reconciler.handle(FULL, number)
        assert refused.status is Status.INVALID, refused.messages

        # erin fixes the file with her own value, hoping alice's bypass now carries it.
        world.hub.push(
            OWNER,
            REPO,
            branch,
            {f"changes/{ENV}/{branch}.yaml": world.change_yaml(branch, b"erins-value")},
            message="fix the change",
            author="erin",
        )
        status = controller.reconciler.handle(FULL, number)
        assert status.status is Status.PENDING, status.messages
        assert any("before the head" in m for m in status.messages)
        assert_nothing_happened(world, controller, number)
    finally:
        controller.close()


def test_a_merge_command_inside_a_code_block_does_not_merge(explicit_world: World) -> None:
    world = explicit_world
    controller = world.controller()
    try:
        number = world.open_pull(b"explicit")
        world.approve("bob", number)
        world.comment("alice", number, "Once CI passes I will say\n```\n/sealgate merge\n```")
        status = controller.reconciler.handle(FULL, number)
        assert status.status is Status.APPROVED, status.messages
        assert_nothing_happened(world, controller, number)

        next_second()
        world.comment("alice", number, "/sealgate merge")
        done = controller.reconciler.handle(FULL, number)
        assert done.status is Status.SYNCED, done.messages
        assert world.hub.pull(OWNER, REPO, number)["merged"] is True
    finally:
        controller.close()


# ------------------------------------------------------------- forged identities


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout.strip()


def forged_push(
    world: World,
    number: int,
    pusher: str,
    value: bytes,
    *,
    name: str,
    email: str,
    trailers: str = "",
) -> str:
    """``pusher`` clones the pull request's branch over HTTP with their own token, commits a
    new value labelled with any identity they like, and pushes: what GitHub allows anyone
    with write access to do."""
    branch = str(world.hub.pull(OWNER, REPO, number)["head"]["ref"])
    where = urlsplit(world.hub.url)
    remote = f"http://x-access-token:{world.tokens[pusher]}@{where.netloc}/{OWNER}/{REPO}.git"
    checkout = world.root / f"checkout-{pusher}-{number}"
    subprocess.run(
        ["git", "clone", "--quiet", "--branch", branch, remote, str(checkout)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (checkout / f"changes/{ENV}/{branch}.yaml").write_bytes(world.change_yaml(branch, value))
    git(checkout, "add", "-A")
    identity = ["-c", f"user.name={name}", "-c", f"user.email={email}"]
    git(checkout, *identity, "commit", "--quiet", "-m", f"Adjust the value\n\n{trailers}")
    git(checkout, "push", "--quiet", "origin", branch)
    return git(checkout, "rev-parse", "HEAD")


def noreply(world: World, login: str) -> str:
    user = world.as_user(login).get_user(login)
    return f"{user.id}+{login}@users.noreply.github.com"


def test_an_approver_who_pushed_as_the_author_cannot_approve_it(plain_world: World) -> None:
    world = plain_world
    controller = world.controller()
    try:
        number = world.open_pull(b"alices-value")
        # carol (an approver, with push access) rewrites the value as alice, then approves.
        head = forged_push(
            world, number, "carol", b"carols-value", name="alice", email=noreply(world, "alice")
        )
        assert world.head(number) == head
        world.approve("carol", number)

        status = controller.reconciler.handle(FULL, number)
        assert status.status is Status.PENDING, status.messages
        assert any("approval by carol does not count" in m for m in status.messages)
        assert_nothing_happened(world, controller, number)
    finally:
        controller.close()


def test_a_commit_by_an_email_linked_to_no_account_blocks_approval(plain_world: World) -> None:
    world = plain_world
    controller = world.controller()
    try:
        number = world.open_pull(b"alices-value")
        forged_push(world, number, "alice", b"whose-value", name="Nobody", email="x@nowhere.test")
        world.approve("bob", number)

        status = controller.reconciler.handle(FULL, number)
        assert status.status is Status.PENDING, status.messages
        assert any("linked to no GitHub account" in m for m in status.messages)
        assert_nothing_happened(world, controller, number)
    finally:
        controller.close()


def test_a_co_author_cannot_approve(plain_world: World) -> None:
    world = plain_world
    controller = world.controller()
    try:
        number = world.open_pull(b"alices-value")
        trailer = f"Co-authored-by: Bob <{noreply(world, 'bob')}>"
        forged_push(
            world,
            number,
            "alice",
            b"bobs-value",
            name="alice",
            email=noreply(world, "alice"),
            trailers=trailer,
        )
        world.approve("bob", number)

        status = controller.reconciler.handle(FULL, number)
        assert status.status is Status.PENDING, status.messages
        assert any("approval by bob does not count" in m for m in status.messages)
        assert_nothing_happened(world, controller, number)
    finally:
        controller.close()
