"""Who put content into a pull request, from what GitHub knows rather than commit metadata.

Commit author and committer are git metadata anyone can write: a pusher can label their
commit with the pull request author's identity. So the contributors are the author, every
pusher GitHub reports for the head branch, and every linked author, committer and co-author
of a commit. An identity GitHub cannot link to an account, or a head whose pusher is
unknown, could hide anyone: approvals cannot count until it is resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controller.model import Policy, PullRequestFacts
from controller.policy.text import names, short_sha


def _key(login: str) -> str:
    return login.casefold()


@dataclass(frozen=True, slots=True)
class Contributors:
    people: frozenset[str]
    """Case-folded logins of everyone who put content into the pull request."""
    unknown: tuple[str, ...]
    """Why some contributor cannot be known: each blocks approval, saying what to do."""


def contributors(facts: PullRequestFacts) -> Contributors:
    people = {_key(facts.author)}
    people.update(_key(push.pusher) for push in facts.pushes)
    unknown: list[str] = []
    for commit in facts.commits:
        linked = [login for login in (commit.author, commit.committer) if login]
        people.update(_key(login) for login in (*linked, *commit.co_authors))
        missing = [
            role
            for role, login in (("author", commit.author), ("committer", commit.committer))
            if not login
        ]
        if missing:
            unknown.append(
                f"the {' and '.join(missing)} of commit {short_sha(commit.sha)} use an email"
                " linked to no GitHub account, so sealgate cannot tell who wrote it; link"
                " that email to its owner's account or replace the commit"
            )
        if commit.unlinked_co_authors:
            unknown.append(
                f"commit {short_sha(commit.sha)} names co-author(s)"
                f" {names(commit.unlinked_co_authors)} by an email sealgate cannot map to a"
                " login; use their <id>+<login>@users.noreply.github.com address or remove"
                " the Co-authored-by trailer"
            )
    if facts.commits and not any(push.sha == facts.head_sha for push in facts.pushes):
        unknown.append(
            f"GitHub does not report who pushed the head {short_sha(facts.head_sha)}, so"
            " sealgate cannot rule out that an approver pushed it; push the branch again"
        )
    return Contributors(people=frozenset(people), unknown=tuple(unknown))


def head_pushed_at(facts: PullRequestFacts) -> datetime | None:
    """When the current head last appeared on the branch; None when no push reports it.

    The latest push wins: a branch moved away and back to the same commit voids commands
    given in between, which is the cautious reading.
    """
    times = [push.pushed_at for push in facts.pushes if push.sha == facts.head_sha]
    return max(times) if times else None


def unverified_commits(policy: Policy, facts: PullRequestFacts) -> str | None:
    """Why ``policy`` refuses the commits for lack of signatures, if it does."""
    if not policy.require_verified_commits:
        return None
    unsigned = [short_sha(commit.sha) for commit in facts.commits if not commit.verified]
    if not unsigned:
        return None
    return (
        f"Policy '{policy.name}' requires signed commits (requireVerifiedCommits) and GitHub"
        f" does not verify the signature of commit(s) {names(unsigned)}; sign them with a key"
        " registered on the author's GitHub account and push again."
    )
