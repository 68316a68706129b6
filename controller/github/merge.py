"""Merging an approved pull request, guarded by the head SHA the decision was made on.

GitHub refuses the merge with 409 when the head moved after the decision: a late push can
never ride on an earlier approval. That refusal becomes :class:`ConflictError`, telling the
caller to take a fresh snapshot and decide again. 405 (not mergeable: conflicts, failing
required checks, draft) is final for this head and carries GitHub's reason.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from github import GithubException

from controller.errors import GitHubError
from controller.github.client import GitHubClient
from controller.github.failures import github_errors, github_message


class MergeMethod(enum.StrEnum):
    MERGE = "merge"
    SQUASH = "squash"
    REBASE = "rebase"


@dataclass(frozen=True, slots=True)
class MergeResult:
    merged: bool
    sha: str
    """The commit the merge produced on the base branch."""
    message: str


def merge(
    client: GitHubClient,
    repo_name: str,
    number: int,
    head_sha: str,
    method: MergeMethod | str = MergeMethod.SQUASH,
    *,
    commit_title: str | None = None,
) -> MergeResult:
    """Merge ``number`` if and only if its head is still ``head_sha``."""
    merge_method = MergeMethod(method)
    if not head_sha:
        raise ValueError("a guarded merge needs the head SHA the decision was made on")
    where = f"merge {repo_name}#{number} at {head_sha[:12]}"
    pr = client.repo(repo_name).get_pull(number)
    with github_errors(where, conflict_on_409=True):
        try:
            if commit_title is None:
                status = pr.merge(merge_method=merge_method.value, sha=head_sha)
            else:
                status = pr.merge(
                    merge_method=merge_method.value, sha=head_sha, commit_title=commit_title
                )
        except GithubException as exc:
            if exc.status == 405:
                raise GitHubError(
                    f"{where}: GitHub will not merge it: {github_message(exc)}", retryable=False
                ) from exc
            raise
    if not status.merged:
        raise GitHubError(f"{where}: GitHub did not merge it: {status.message}", retryable=False)
    return MergeResult(merged=True, sha=status.sha, message=status.message)
