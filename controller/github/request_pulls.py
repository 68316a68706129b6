"""Pull requests the controller opens itself: one new file on a branch of its own.

An agent's access request becomes ``access/<env>/<id>.yaml`` on the branch
``sealgate/access/<env>/<id>``, then a pull request from it, judged like any other. Each
step looks before it writes, so a retry after a lost answer (the branch, the file or the
pull request was made but the reply never came) finds what the first try made and goes on
from there: the branch name is the idempotency key.

What is found is trusted only if it is exactly what this module would have made: a pull
request from this repository's branch into the default branch, opened by the controller's
own account, whose only file is the one asked for with the bytes asked for. Anything else
(someone pushed to the branch, or opened a pull request from it first) is refused rather
than adopted: an approval must never cover content the controller did not write.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from github import GithubException
from github.GitRef import GitRef
from github.PullRequest import PullRequest
from github.Repository import Repository

from controller.errors import GitHubError
from controller.github.client import GitHubClient
from controller.github.failures import github_errors

BRANCH_PREFIX = "sealgate/access/"
_BRANCH = re.compile(r"[a-z0-9][-a-z0-9._/]*")


@dataclass(frozen=True, slots=True)
class OpenedPull:
    number: int
    url: str
    """The pull request's page (``html_url``), to hand back to the requester."""
    head_sha: str
    created: bool
    """False when an earlier try had already opened it."""


def request_branch(environment: str, request_id: str) -> str:
    """The branch an access request's pull request comes from."""
    return f"{BRANCH_PREFIX}{environment}/{request_id}"


def _check_branch(branch: str) -> None:
    if (
        not branch.startswith(BRANCH_PREFIX)
        or not _BRANCH.fullmatch(branch)
        or ".." in branch
        or branch.endswith((".", "/", ".lock"))
    ):
        raise ValueError(f"{branch!r} is not a branch of the controller's own ({BRANCH_PREFIX}…)")


def _missing(exc: GithubException) -> bool:
    return exc.status == 404


def _find_pull(repo: Repository, branch: str) -> PullRequest | None:
    owner = repo.owner.login
    for pull in repo.get_pulls(state="all", head=f"{owner}:{branch}"):
        if pull.head.ref == branch:
            return pull
    return None


def _branch_ref(repo: Repository, branch: str) -> GitRef | None:
    # A matching-refs list is read at once, and each ref keeps the URL GitHub gave it;
    # get_git_ref would hand back a lazy object with a URL of PyGithub's making.
    for ref in repo.get_git_matching_refs(f"heads/{branch}"):
        if ref.ref == f"refs/heads/{branch}":
            return ref
    return None


def _branch_tip(repo: Repository, branch: str) -> str | None:
    ref = _branch_ref(repo, branch)
    return None if ref is None else str(ref.object.sha)


def _ensure_branch(repo: Repository, branch: str, base_sha: str) -> None:
    if _branch_tip(repo, branch) is not None:
        return
    try:
        repo.create_git_ref(ref=f"refs/heads/{branch}", sha=base_sha)
    except GithubException as exc:
        # Made by a try whose answer was lost (or a racing replica): the checks below
        # decide whether what is there is ours.
        if exc.status != 422:
            raise


def _ensure_file(repo: Repository, branch: str, path: str, content: bytes, message: str) -> bool:
    """True when this call wrote the file."""
    try:
        found = repo.get_contents(path, ref=branch)
    except GithubException as exc:
        if not _missing(exc):
            raise
        repo.create_file(path, message, content, branch=branch)
        return True
    if isinstance(found, list) or base64.b64decode(found.content or "") != content:
        raise GitHubError(
            f"{repo.full_name}: branch {branch} already holds a different {path}: the branch "
            "was not made by this request; delete it or give the request a new id",
            retryable=False,
        )
    return False


def _ensure_pull(
    repo: Repository, branch: str, base: str, title: str, body: str
) -> tuple[PullRequest, bool]:
    found = _find_pull(repo, branch)
    if found is not None:
        return found, False
    try:
        return repo.create_pull(base=base, head=branch, title=title, body=body), True
    except GithubException as exc:
        if exc.status != 422:
            raise
        found = _find_pull(repo, branch)
        if found is None:
            raise
        return found, False


def _verify(
    client: GitHubClient, repo: Repository, pull: PullRequest, base: str, path: str
) -> None:
    where = f"{repo.full_name}#{pull.number}"
    problems = []
    if pull.state != "open":
        problems.append("it is closed: the request it carried was withdrawn or refused")
    if pull.base.ref != base:
        problems.append(f"it targets {pull.base.ref}, not {base}")
    if pull.head.repo is None or pull.head.repo.full_name != repo.full_name:
        problems.append("its head is in another repository")
    if pull.user.login.lower() != client.login().lower():
        problems.append(f"it was opened by {pull.user.login}, not by the controller")
    files = [f.filename for f in pull.get_files()]
    if files != [path]:
        problems.append(f"it changes {len(files)} file(s), not only {path}")
    if problems:
        raise GitHubError(
            f"{where}: will not use the pull request from {pull.head.ref}: "
            + "; ".join(problems)
            + ": close it and delete the branch, or give the request a new id",
            retryable=False,
        )


def open_file_pull(
    client: GitHubClient,
    repo_name: str,
    *,
    branch: str,
    path: str,
    content: bytes,
    title: str,
    body: str,
    commit_message: str,
    labels: Sequence[str] = (),
) -> OpenedPull:
    """Open (or find, on a retry) the pull request adding ``path`` with ``content`` on
    ``branch`` (created from the default branch's tip) into the default branch, labelled
    with ``labels``."""
    _check_branch(branch)
    where = f"open a pull request from {branch} in {repo_name}"
    with github_errors(where):
        repo = client.repo(repo_name)
        base = repo.default_branch
        pull = _find_pull(repo, branch)
        created = False
        if pull is None:
            base_sha = _branch_tip(repo, base)
            if base_sha is None:
                raise GitHubError(
                    f"{repo_name}: the default branch {base} has no commit to branch from",
                    retryable=False,
                )
            _ensure_branch(repo, branch, base_sha)
            _ensure_file(repo, branch, path, content, commit_message)
            pull, created = _ensure_pull(repo, branch, base, title, body)
        else:
            if pull.state != "open":
                _verify(client, repo, pull, base, path)  # refuses: never reopened or rewritten
            if _ensure_file(repo, branch, path, content, commit_message):
                pull = repo.get_pull(pull.number)
        _verify(client, repo, pull, base, path)
        have = {label.name.lower() for label in pull.labels}
        wanted = [name for name in labels if name.lower() not in have]
        if wanted:
            pull.add_to_labels(*wanted)
        return OpenedPull(pull.number, pull.html_url, pull.head.sha, created)


def close_pull(
    client: GitHubClient, repo_name: str, number: int, *, delete_branch: bool = True
) -> None:
    """Close pull request ``number`` and delete its branch when it is one of the controller's
    own (``sealgate/access/…`` in this repository). Closing a closed one, or deleting a
    branch already gone, is not an error: a retry after a lost answer succeeds."""
    where = f"close {repo_name}#{number}"
    with github_errors(where):
        repo = client.repo(repo_name)
        pull = repo.get_pull(number)
        if pull.state == "open":
            pull.edit(state="closed")
        head = pull.head
        ours = (
            head.repo is not None
            and head.repo.full_name == repo.full_name
            and head.ref.startswith(BRANCH_PREFIX)
        )
        if not (delete_branch and ours) or pull.merged:
            return
        ref = _branch_ref(repo, head.ref)
        if ref is None or ref.object.sha != head.sha:
            # Gone already, or someone pushed to it since: leave it to them.
            return
        try:
            ref.delete()
        except GithubException as exc:
            if exc.status not in (404, 422):
                raise
