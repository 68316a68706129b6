"""`GET /repos/{owner}/{repo}/issues/{issue_number}/timeline`, for pull requests.

Only `review_dismissed` events (GitHub's `review-dismissed-issue-event`: the reviews API
says a review was dismissed but not by whom, and the timeline is where GitHub tells) and
`closed` events (`state-change-issue-event`: who closed it) are imitated. Events come
oldest first with GitHub's page-number paging.
"""

from __future__ import annotations

from typing import Any

from controller.sandbox.github_server.context import Ctx, Reply, paginate
from controller.sandbox.github_server.render import node_id, ts
from controller.sandbox.github_server.state import Closing, Dismissal, Repo


def _dismissed(ctx: Ctx, repo: Repo, event: Dismissal) -> dict[str, Any]:
    return {
        "id": event.id,
        "node_id": node_id("ReviewDismissedEvent", event.id),
        "url": f"{ctx.hub.render.repo_url(repo)}/issues/events/{event.id}",
        "actor": ctx.hub.render.user(event.actor),
        "event": "review_dismissed",
        "commit_id": None,
        "commit_url": None,
        "created_at": ts(event.created_at),
        "performed_via_github_app": None,
        "dismissed_review": {
            "state": event.state.lower(),
            "review_id": event.review_id,
            "dismissal_message": event.message or None,
            "dismissal_commit_id": event.commit_id,
        },
    }


def _closed(ctx: Ctx, repo: Repo, event: Closing) -> dict[str, Any]:
    return {
        "id": event.id,
        "node_id": node_id("ClosedEvent", event.id),
        "url": f"{ctx.hub.render.repo_url(repo)}/issues/events/{event.id}",
        "actor": ctx.hub.render.user(event.actor),
        "event": "closed",
        "commit_id": None,
        "commit_url": None,
        "created_at": ts(event.created_at),
        "performed_via_github_app": None,
        "state_reason": None,
    }


def list_timeline(ctx: Ctx, owner: str, repo: str, issue_number: int) -> Reply:
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, issue_number)
    events: list[Dismissal | Closing] = [*pull.dismissals, *pull.closings]
    events.sort(key=lambda e: (e.created_at, e.id))

    def render(event: Dismissal | Closing) -> dict[str, Any]:
        if isinstance(event, Closing):
            return _closed(ctx, r, event)
        return _dismissed(ctx, r, event)

    return paginate(ctx, events, render)


ROUTES = [("GET", "/repos/{owner}/{repo}/issues/{issue_number}/timeline", list_timeline)]
