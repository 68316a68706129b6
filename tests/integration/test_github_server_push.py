"""Real `git push` to the loopback GitHub: who pushed, commit accounts, verification, activity.

Every REST answer is checked against GitHub's description and every webhook against its
schema by the `github` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.github_push_support import Identity, clone, ssh_key
from tests.integration.github_server_support import FULL, OWNER, REPO, Receiver, World
from tests.integration.github_server_support import github as github  # noqa: PLC0414


@pytest.fixture
def receiver(github: World) -> Iterator[Receiver]:
    with Receiver() as rx:
        github.server.set_webhook(rx.url, "secret")
        yield rx


def _me(github: World, login: str) -> Identity:
    return Identity(login, github.server.noreply_email(login))


def _activity(github: World, **params: str) -> requests.Response:
    url = f"{github.server.url}/repos/{FULL}/activity"
    headers = {"Authorization": f"token {github.tokens['bob']}"}
    return requests.get(url, params=params, headers=headers, timeout=10)


def test_forged_push_is_attributed_to_the_pusher(
    github: World, receiver: Receiver, tmp_path: Path
) -> None:
    number = github.open_change()
    bob = clone(github.server, OWNER, REPO, tmp_path / "bob", github.tokens["bob"])
    bob.git("fetch", "-q", "origin", "change-1")
    bob.switch("change-1", start="origin/change-1")
    alice = _me(github, "alice")
    sha = bob.commit({"x.txt": b"x\n"}, "Looks like alice", author=alice, committer=alice)
    pushed = bob.push("change-1")
    assert pushed.returncode == 0, pushed.stderr
    assert github.server.pull(OWNER, REPO, number)["head"]["sha"] == sha
    assert github.server.wait_for_deliveries(10)
    sync = [d for d in github.server.deliveries if d.action == "synchronize"]
    assert [(d.payload["sender"]["login"], d.payload["after"]) for d in sync] == [("bob", sha)]
    # The commit itself claims alice: GitHub links the forged email, and says it is unsigned.
    commits = list(github.client("carol").get_repo(FULL).get_pull(number).get_commits())
    last = commits[-1]
    assert (last.sha, last.author.login, last.committer.login) == (sha, "alice", "alice")
    assert last.raw_data["commit"]["verification"]["reason"] == "unsigned"
    # The activity API knows better.
    listed = _activity(github, ref="change-1").json()
    assert next((a["actor"]["login"], a["after"], a["activity_type"]) for a in listed) == (
        "bob",
        sha,
        "push",
    )


def test_unknown_emails_give_null_accounts_and_verified_emails_link(
    github: World, tmp_path: Path
) -> None:
    github.server.add_email("carol", "carol@acme.example")
    number = github.open_change()
    bob = clone(github.server, OWNER, REPO, tmp_path / "bob", github.tokens["bob"])
    bob.switch("change-1", start="origin/change-1")
    ghost = Identity("alice", "alice@nowhere.example")
    bob.commit(
        {"g.txt": b"g\n"},
        "ghost",
        author=ghost,
        committer=Identity("carol", "Carol@acme.example"),
        co_authors=[_me(github, "dave")],
    )
    assert bob.push("change-1").returncode == 0
    last = list(github.client("alice").get_repo(FULL).get_pull(number).get_commits())[-1]
    assert last.raw_data["author"] is None
    assert last.committer.login == "carol"
    assert last.commit.message.endswith(
        f"Co-authored-by: dave <{github.server.noreply_email('dave')}>"
    )


def test_pushes_need_a_token_with_write_permission(github: World, tmp_path: Path) -> None:
    before = github.server.branch_sha(OWNER, REPO, "main")
    anonymous = clone(github.server, OWNER, REPO, tmp_path / "anon", None)
    assert (anonymous.path / "README.md").read_bytes() == b"requests\n"
    anonymous.commit({"a.txt": b"a\n"}, "anon", author=_me(github, "dave"))
    refused = anonymous.push("HEAD:main")
    assert refused.returncode != 0
    dave = clone(github.server, OWNER, REPO, tmp_path / "dave", github.tokens["dave"])
    dave.commit({"d.txt": b"d\n"}, "triage only", author=_me(github, "dave"))
    denied = dave.push("HEAD:main")
    assert denied.returncode != 0
    assert "denied to dave" in denied.stderr
    bad = clone(github.server, OWNER, REPO, tmp_path / "bad", None)
    bad.git("remote", "set-url", "origin", github.server.git_url(OWNER, REPO, "ghp_wrong"))
    bad.commit({"b.txt": b"b\n"}, "bad token", author=_me(github, "dave"))
    assert bad.push("HEAD:main").returncode != 0
    assert github.server.branch_sha(OWNER, REPO, "main") == before
    url = f"{github.server.url}/{FULL}.git/info/refs?service=git-receive-pack"
    assert requests.get(url, timeout=10).status_code == 401
    auth = ("dave", github.tokens["dave"])
    assert requests.get(url, auth=auth, timeout=10).status_code == 403
    assert requests.get(url, auth=("x", "ghp_wrong"), timeout=10).status_code == 401
    assert github.server.activity(OWNER, REPO)[-1].actor == "carol"  # only the initial commit


def test_activity_records_every_ref_update_with_filters_and_cursor_paging(
    github: World, receiver: Receiver, tmp_path: Path
) -> None:
    number = github.open_change()  # alice pushes change-1 (branch_creation)
    bob = clone(github.server, OWNER, REPO, tmp_path / "bob", github.tokens["bob"])
    bob.switch("side", start="origin/main")
    bob.commit({"s.txt": b"s\n"}, "side", author=_me(github, "bob"))
    assert bob.push("side").returncode == 0  # branch_creation by bob
    bob.switch("change-1", start="origin/change-1")
    bob.git("reset", "-q", "--hard", "origin/main")
    bob.commit({"f.txt": b"f\n"}, "rewrite", author=_me(github, "alice"))
    assert bob.push("change-1", force=True).returncode == 0  # force_push by bob
    github.client("carol").get_repo(FULL).get_pull(number).merge()  # pr_merge by carol
    assert bob.push(":side").returncode == 0  # branch_deletion by bob
    kinds = [(a.activity_type, a.actor, a.ref) for a in github.server.activity(OWNER, REPO)]
    assert kinds == [
        ("branch_creation", "carol", "refs/heads/main"),
        ("branch_creation", "alice", "refs/heads/change-1"),
        ("branch_creation", "bob", "refs/heads/side"),
        ("force_push", "bob", "refs/heads/change-1"),
        ("pr_merge", "carol", "refs/heads/main"),
        ("branch_deletion", "bob", "refs/heads/side"),
    ]
    assert [a["activity_type"] for a in _activity(github, actor="bob").json()] == [
        "branch_deletion",
        "force_push",
        "branch_creation",
    ]
    assert len(_activity(github, activity_type="pr_merge").json()) == 1
    assert _activity(github, activity_type="nonsense").status_code == 422
    # Cursor paging, oldest first, one a page, following the Link header to the end.
    seen: list[str] = []
    response = _activity(github, direction="asc", per_page="1")
    while True:
        seen += [a["activity_type"] for a in response.json()]
        if "next" not in response.links:
            break
        response = requests.get(
            response.links["next"]["url"],
            headers={"Authorization": f"token {github.tokens['bob']}"},
            timeout=10,
        )
    assert seen == [k for k, _, _ in kinds]
    back = requests.get(response.links["prev"]["url"], timeout=10).json()
    assert [a["activity_type"] for a in back] == ["pr_merge"]


def test_github_made_commits_are_verified_and_pushed_ones_unsigned(github: World) -> None:
    github.server.push(
        OWNER, REPO, "web", {"w.txt": b"w\n"}, message="web", author="alice", web=True
    )
    number = github.server.open_pull_request(OWNER, REPO, head="web", title="Web", author="alice")
    github.server.push(OWNER, REPO, "web", {"p.txt": b"p\n"}, message="push", author="alice")
    repo = github.client("bob").get_repo(FULL)
    commits = list(repo.get_pull(number).get_commits())
    web, pushed = (c.raw_data["commit"]["verification"] for c in commits)
    assert (web["verified"], web["reason"], commits[0].committer.login) == (
        True,
        "valid",
        "web-flow",
    )
    assert web["signature"].startswith("-----BEGIN SSH SIGNATURE-----")
    assert web["payload"]
    assert web["verified_at"]
    assert (pushed["verified"], pushed["reason"], pushed["signature"]) == (False, "unsigned", None)
    merged = repo.get_pull(number).merge(merge_method="squash").sha
    assert repo.get_commit(merged).raw_data["commit"]["verification"]["reason"] == "valid"


def test_ssh_signed_pushes_are_checked_against_registered_keys(
    github: World, tmp_path: Path
) -> None:
    key, public = ssh_key(tmp_path, "bob-signing")
    stranger, _ = ssh_key(tmp_path, "unregistered")
    github.server.add_signing_key("bob", public)
    number = github.open_change()
    bob = clone(github.server, OWNER, REPO, tmp_path / "bob", github.tokens["bob"])
    bob.switch("change-1", start="origin/change-1")
    me, alice = _me(github, "bob"), _me(github, "alice")
    bob.commit({"1.txt": b"1\n"}, "signed", author=me, sign_key=key)
    bob.commit({"2.txt": b"2\n"}, "signed as alice", author=alice, committer=alice, sign_key=key)
    bob.commit({"3.txt": b"3\n"}, "unknown key", author=me, sign_key=stranger)
    assert bob.push("change-1").returncode == 0
    commits = list(github.client("carol").get_repo(FULL).get_pull(number).get_commits())[-3:]
    reasons = [c.raw_data["commit"]["verification"]["reason"] for c in commits]
    assert reasons == ["valid", "bad_email", "unknown_key"]


def test_comment_edits_by_a_writer_carry_the_editor_and_move_updated_at(
    github: World, receiver: Receiver
) -> None:
    number = github.open_change()
    created = github.client("alice").get_repo(FULL).get_issue(number).create_comment("lgtm")
    assert created.created_at == created.updated_at
    other = github.client("bob").get_repo(FULL).get_issue(number).get_comment(created.id)
    other.edit("/sealgate merge")
    again = github.client("carol").get_repo(FULL).get_issue(number).get_comment(created.id)
    assert (again.body, again.user.login) == ("/sealgate merge", "alice")
    assert again.updated_at > again.created_at
    assert github.server.wait_for_deliveries(10)
    edited = [d for d in github.server.deliveries if d.action == "edited"]
    assert [
        (d.payload["sender"]["login"], d.payload["changes"]["body"]["from"]) for d in edited
    ] == [("bob", "lgtm")]
