"""What GitHub does when a ref moves: the activity record, pull request heads, `synchronize`.

Every ref update goes through `ref_updated`, whoever made it: a `git push` over HTTP, the
control API's `push`, a merge, or a branch made through the REST API. The actor recorded is
the account GitHub authenticated, never the commit metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from controller.sandbox.github_server.git_backend import ZERO_SHA
from controller.sandbox.github_server.state import Activity, Repo, now

if TYPE_CHECKING:
    from controller.sandbox.github_server.actions import Hub

ACTIVITY_TYPES = (
    "push",
    "force_push",
    "branch_creation",
    "branch_deletion",
    "pr_merge",
    "merge_queue_merge",
)


def activity_type(repo: Repo, before: str, after: str, *, merged: bool) -> str:
    if before == ZERO_SHA:
        return "branch_creation"
    if after == ZERO_SHA:
        return "branch_deletion"
    if merged:
        return "pr_merge"
    return "push" if repo.git.is_ancestor(before, after) else "force_push"


def ref_updated(
    hub: Hub,
    repo: Repo,
    ref: str,
    before: str | None,
    after: str | None,
    *,
    actor: str | None,
    merged: bool = False,
) -> None:
    """Record one ref move by `actor` and do what GitHub does after it. Hold the world lock."""
    old, new = before or ZERO_SHA, after or ZERO_SHA
    if old == new:
        return
    stamp = now()
    repo.activity.append(
        Activity(
            id=hub.world.next_id(),
            ref=ref,
            before=old,
            after=new,
            activity_type=activity_type(repo, old, new, merged=merged),
            actor=actor,
            timestamp=stamp,
        )
    )
    repo.pushed_at = stamp
    if not ref.startswith("refs/heads/"):
        return
    branch = ref.removeprefix("refs/heads/")
    sender = actor or repo.owner
    for pull in list(repo.pulls.values()):
        if pull.state != "open":
            continue
        if new == ZERO_SHA:
            if pull.head_ref == branch and pull.head_repo is None:
                # GitHub closes a pull request whose head branch is deleted.
                pull.state, pull.closed_at, pull.updated_at = "closed", stamp, stamp
                hub.emit_pull(repo, pull, "closed", sender)
            continue
        if pull.base_ref == branch:
            pull.base_sha = new
        # A fork's pull request follows the fork's branch, not a same-named one here.
        if pull.head_ref == branch and pull.head_repo is None and pull.head_sha != new:
            previous = pull.head_sha
            pull.head_sha = new
            pull.updated_at = stamp
            hub.emit_pull(repo, pull, "synchronize", sender, before=previous, after=new)


def received(
    hub: Hub, repo: Repo, pusher: str, before: dict[str, str], after: dict[str, str]
) -> None:
    """After a receive-pack: every ref that moved was moved by the authenticated `pusher`."""
    for ref, old, new in repo.git.ref_moves(before, after):
        ref_updated(hub, repo, ref, old, new, actor=pusher)
