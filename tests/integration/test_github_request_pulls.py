"""Pull requests the controller opens itself, through PyGithub against the loopback GitHub.

The controller acts as its GitHub App's bot. Every answer the server gave is checked against
GitHub's description after each test (the ``github`` fixture), the new endpoints included:
``PUT contents`` and ``DELETE git/refs``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import requests

from controller.errors import GitHubError
from controller.github import GitHubClient
from controller.github.client import RetryPolicy
from controller.github.request_pulls import (
    OpenedPull,
    close_pull,
    open_file_pull,
    request_branch,
)
from tests.integration.github_server_support import (
    FULL,
    OWNER,
    REPO,
    World,
    rsa_private_key,
)
from tests.integration.github_server_support import github as github  # noqa: PLC0414

APP_ID = 5151
INSTALLATION_ID = 91
SLUG = "sealgate"
FAST = RetryPolicy(attempts=0, backoff_factor=0.0, timeout=10)
PATH = "access/production/ci-deploy-7.yaml"
CONTENT = b"apiVersion: sealgate.dev/v1\nkind: AccessRequest\nmetadata:\n  name: ci-deploy-7\n"
BRANCH = request_branch("production", "ci-deploy-7")


@pytest.fixture
def bot(github: World) -> Iterator[GitHubClient]:
    private, public = rsa_private_key()
    github.server.register_app(APP_ID, SLUG, public, installation_id=INSTALLATION_ID, owner=OWNER)
    client = GitHubClient.from_app(
        APP_ID, private, INSTALLATION_ID, slug=SLUG, base_url=github.server.url, retry=FAST
    )
    # The labels exist beforehand, described, as a repository set up for sealgate has them.
    for name in ("sealgate/access", "agent"):
        client.repo(FULL).create_label(name, "0e8a16", description=f"{name} requests")
    yield client
    client.close()


def open_it(bot: GitHubClient, content: bytes = CONTENT) -> OpenedPull:
    return open_file_pull(
        bot,
        FULL,
        branch=BRANCH,
        path=PATH,
        content=content,
        title="Access request ci-deploy-7 (production)",
        body="Requested by system:serviceaccount:ci:deployer@prod-eu-1",
        commit_message="Access request ci-deploy-7",
        labels=["sealgate/access", "agent"],
    )


def test_a_pull_request_adds_one_file_on_a_branch_of_its_own(
    github: World, bot: GitHubClient
) -> None:
    base_before = github.server.branch_sha(OWNER, REPO, "main")
    opened = open_it(bot)
    assert opened.created
    pull = github.server.pull(OWNER, REPO, opened.number)
    assert pull["user"]["login"] == "sealgate[bot]"
    assert (pull["head"]["ref"], pull["base"]["ref"]) == (BRANCH, "main")
    assert pull["head"]["sha"] == opened.head_sha
    assert opened.url == pull["html_url"]
    assert pull["body"].startswith("Requested by system:serviceaccount:ci:deployer@prod-eu-1")
    assert sorted(github.server.labels(OWNER, REPO, opened.number)) == ["agent", "sealgate/access"]
    assert github.server.read_file(OWNER, REPO, BRANCH, PATH) == CONTENT
    assert github.server.branch_sha(OWNER, REPO, "main") == base_before
    files = bot.repo(FULL).get_pull(opened.number).get_files()
    assert [f.filename for f in files] == [PATH]
    # Written through the API: authored by the bot, committed and signed by GitHub.
    commit = bot.repo(FULL).get_commit(opened.head_sha)
    git_commit = commit.raw_data["commit"]
    assert git_commit["author"]["name"] == "sealgate[bot]"
    assert git_commit["committer"]["name"] == "GitHub"
    assert git_commit["verification"]["verified"] is True
    assert [p["sha"] for p in commit.raw_data["parents"]] == [base_before]


def test_a_retry_finds_what_the_first_try_made(github: World, bot: GitHubClient) -> None:
    first = open_it(bot)
    github.server.reset_request_log()
    again = open_it(bot)
    assert again == OpenedPull(first.number, first.url, first.head_sha, created=False)
    writes = [r for r in github.server.request_log if r.writes]
    assert writes == [], "a retry of a finished open writes nothing"
    assert [p.number for p in bot.repo(FULL).get_pulls(state="all")] == [first.number]


@pytest.mark.parametrize("fails_at", ["/git/refs", "/contents/", "/labels"])
def test_a_failure_midway_is_retryable_and_the_retry_finishes(
    github: World, bot: GitHubClient, fails_at: str
) -> None:
    github.server.inject_faults(status=502, count=1, path_contains=fails_at)
    with pytest.raises(GitHubError) as caught:
        open_it(bot)
    assert caught.value.retryable
    opened = open_it(bot)
    assert [f.filename for f in bot.repo(FULL).get_pull(opened.number).get_files()] == [PATH]
    assert len(list(bot.repo(FULL).get_pulls(state="all"))) == 1
    assert sorted(github.server.labels(OWNER, REPO, opened.number)) == ["agent", "sealgate/access"]


@pytest.mark.parametrize("made", ["branch", "file", "pull"])
def test_a_retry_after_a_lost_answer_goes_on_from_there(
    github: World, bot: GitHubClient, made: str
) -> None:
    """What an earlier try made before its answer was lost: the branch, then the file on
    it, then the pull request (its labels not yet added)."""
    main = github.server.branch_sha(OWNER, REPO, "main")
    if made == "branch":
        bot.repo(FULL).create_git_ref(f"refs/heads/{BRANCH}", main)
    else:
        github.server.push(
            OWNER, REPO, BRANCH, {PATH: CONTENT}, message="m", author="sealgate[bot]"
        )
    if made == "pull":
        github.server.open_pull_request(
            OWNER, REPO, head=BRANCH, title="t", author="sealgate[bot]", body=""
        )
    opened = open_it(bot)
    assert opened.created is (made != "pull")
    assert [f.filename for f in bot.repo(FULL).get_pull(opened.number).get_files()] == [PATH]
    assert len(list(bot.repo(FULL).get_pulls(state="all"))) == 1
    assert sorted(github.server.labels(OWNER, REPO, opened.number)) == ["agent", "sealgate/access"]


def test_a_branch_someone_else_wrote_to_is_refused(github: World, bot: GitHubClient) -> None:
    open_it(bot)
    github.server.push(
        OWNER, REPO, BRANCH, {"policies/default.yaml": b"kind: ApprovalPolicy\n"},
        message="sneak a rule change in", author="alice",
    )  # fmt: skip
    with pytest.raises(GitHubError) as caught:
        open_it(bot)
    assert not caught.value.retryable
    assert "changes 2 file(s)" in str(caught.value)


def test_a_branch_holding_other_bytes_is_refused(github: World, bot: GitHubClient) -> None:
    github.server.push(
        OWNER, REPO, BRANCH, {PATH: b"kind: AccessRequest\nsomething: else\n"},
        message="squat the branch", author="alice",
    )  # fmt: skip
    with pytest.raises(GitHubError) as caught:
        open_it(bot)
    assert not caught.value.retryable
    assert "different" in str(caught.value)
    assert list(bot.repo(FULL).get_pulls(state="all")) == []


def test_a_pull_request_someone_else_opened_from_the_branch_is_refused(
    github: World, bot: GitHubClient
) -> None:
    github.server.push(OWNER, REPO, BRANCH, {PATH: CONTENT}, message="same bytes", author="alice")
    github.server.open_pull_request(OWNER, REPO, head=BRANCH, title="mine", author="alice")
    with pytest.raises(GitHubError) as caught:
        open_it(bot)
    assert "opened by alice" in str(caught.value)


def test_closing_closes_and_deletes_the_branch_and_can_be_retried(
    github: World, bot: GitHubClient
) -> None:
    opened = open_it(bot)
    close_pull(bot, FULL, opened.number)
    assert github.server.pull(OWNER, REPO, opened.number)["state"] == "closed"
    refs = bot.repo(FULL).get_git_matching_refs(f"heads/{BRANCH}")
    assert [r.ref for r in refs] == []
    close_pull(bot, FULL, opened.number)
    # A closed request is not reopened by a late retry of its opening.
    with pytest.raises(GitHubError) as caught:
        open_it(bot)
    assert "closed" in str(caught.value)


def test_closing_leaves_branches_that_are_not_the_controllers(
    github: World, bot: GitHubClient
) -> None:
    number = github.open_change("alice-change")
    close_pull(bot, FULL, number)
    assert github.server.pull(OWNER, REPO, number)["state"] == "closed"
    assert github.server.branch_sha(OWNER, REPO, "alice-change")


def test_only_branches_of_the_controllers_own_are_used(bot: GitHubClient) -> None:
    for branch in ("main", "feature/x", "sealgate/access/../main", "sealgate/access/x.lock"):
        with pytest.raises(ValueError, match="not a branch of the controller's own"):
            open_file_pull(
                bot, FULL, branch=branch, path=PATH, content=CONTENT, title="t", body="",
                commit_message="m",
            )  # fmt: skip


# ------------------------------------------------------------ the loopback endpoints


def put(
    github: World, path: str, body: dict[str, object], login: str = "alice"
) -> requests.Response:
    return requests.put(
        f"{github.server.url}/repos/{FULL}/contents/{path}",
        json=body,
        headers={"Authorization": f"token {github.tokens[login]}"},
        timeout=10,
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_put_contents_creates_replaces_and_guards_with_the_blob_sha(github: World) -> None:
    created = put(github, "notes/a.txt", {"message": "add", "content": b64(b"one\n")})
    assert created.status_code == 201
    blob = created.json()["content"]["sha"]
    assert created.json()["content"]["path"] == "notes/a.txt"
    assert "content" not in created.json()["content"]
    missing_sha = put(github, "notes/a.txt", {"message": "edit", "content": b64(b"two\n")})
    assert missing_sha.status_code == 422
    assert "sha" in missing_sha.json()["message"]
    stale = put(
        github, "notes/a.txt", {"message": "edit", "content": b64(b"two\n"), "sha": "0" * 40}
    )
    assert stale.status_code == 409
    replaced = put(
        github, "notes/a.txt", {"message": "edit", "content": b64(b"two\n"), "sha": blob}
    )
    assert replaced.status_code == 200
    assert github.server.read_file(OWNER, REPO, "main", "notes/a.txt") == b"two\n"
    no_branch = put(
        github, "notes/b.txt", {"message": "add", "content": b64(b"x"), "branch": "nope"}
    )
    assert no_branch.status_code == 404
    bad = put(github, "notes/c.txt", {"message": "add", "content": "***"})
    assert bad.status_code == 422
    assert put(github, "notes/d.txt", {"content": b64(b"x")}).status_code == 422
    # Dots percent-encoded, or the HTTP client would resolve them before sending.
    for path in ("notes/%2E%2E/x.txt", "notes//x.txt", ".git/config", "notes/%2E/x"):
        assert put(github, path, {"message": "m", "content": b64(b"x")}).status_code == 422
    assert (
        put(github, "notes/e.txt", {"message": "m", "content": b64(b"x")}, "dave").status_code
        == 403
    )


def test_delete_ref_removes_a_branch_and_closes_its_pull_requests(github: World) -> None:
    number = github.open_change("to-delete")
    headers = {"Authorization": f"token {github.tokens['alice']}"}
    url = f"{github.server.url}/repos/{FULL}/git/refs/heads/to-delete"
    assert requests.delete(url, headers=headers, timeout=10).status_code == 204
    assert github.server.pull(OWNER, REPO, number)["state"] == "closed"
    again = requests.delete(url, headers=headers, timeout=10)
    assert again.status_code == 422
    main = f"{github.server.url}/repos/{FULL}/git/refs/heads/main"
    assert requests.delete(main, headers=headers, timeout=10).status_code == 422
