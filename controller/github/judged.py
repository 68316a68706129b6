"""Which pull requests sealgate judges at all: into an accepted branch, from this repository.

A pull request into any other branch would be judged by that branch's rules, which anyone
with write access can loosen; one from a fork carries commits from outside the repository's
access control. Neither is judged unless the configuration says so.
"""

from __future__ import annotations

from collections.abc import Sequence


def not_judged(
    repo_name: str,
    *,
    head_repo: str | None,
    base_ref: str,
    branches: Sequence[str],
    allow_forks: bool,
) -> str | None:
    """Why the pull request is not judged (the message it is reported with), or None.

    ``head_repo`` is ``owner/name`` of the head's repository, None when it was deleted;
    ``branches`` are the accepted base branches.
    """
    if base_ref not in branches:
        names = ", ".join(f"'{b}'" for b in branches)
        return (
            f"not judged: it targets branch '{base_ref}', and sealgate judges only pull "
            f"requests into {names}, whose rules are protected; change its base branch to "
            f"{names} (or name '{base_ref}' in github.branches of the controller config)"
        )
    if head_repo is not None and head_repo.lower() == repo_name.lower():
        return None
    if allow_forks and head_repo is not None:
        return None
    origin = f"the fork {head_repo}" if head_repo else "a repository that was deleted"
    return (
        f"not judged: its head comes from {origin}, and sealgate accepts only pull "
        f"requests from branches of {repo_name} (set github.allowForks in the "
        "controller config to accept forks); push the branch to this repository"
    )
