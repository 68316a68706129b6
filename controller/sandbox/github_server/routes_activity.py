"""`GET /repos/{owner}/{repo}/activity`: who moved which ref, with GitHub's cursor paging.

The shape is GitHub's `activity` schema (id, node_id, before, after, ref, timestamp,
activity_type, actor); filters and paging follow `repos/list-activities`: `ref`, `actor`,
`time_period`, `activity_type`, `direction` (newest first by default), `per_page`, and opaque
`before`/`after` cursors handed out in the `Link` header.
"""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from controller.sandbox.github_server.context import DEFAULT_PER_PAGE, MAX_PER_PAGE, Ctx, Reply
from controller.sandbox.github_server.errors import unprocessable
from controller.sandbox.github_server.pushes import ACTIVITY_TYPES
from controller.sandbox.github_server.render import node_id, ts
from controller.sandbox.github_server.state import Activity, Repo, now

PERIODS = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
    "quarter": timedelta(days=91),
    "year": timedelta(days=365),
}


def cursor(activity: Activity) -> str:
    return base64.urlsafe_b64encode(f"cursor:v2:{activity.id}".encode()).decode().rstrip("=")


def _position(items: list[Activity], value: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        ident = int(raw.removeprefix("cursor:v2:"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise unprocessable(f"Invalid cursor: {value}") from exc
    for index, item in enumerate(items):
        if item.id == ident:
            return index
    raise unprocessable(f"Invalid cursor: {value}")


def render(ctx: Ctx, activity: Activity) -> dict[str, Any]:
    """`activity`."""
    known = activity.actor is not None and ctx.hub.world.user(activity.actor) is not None
    return {
        "id": activity.id,
        "node_id": node_id("PushActivity", activity.id),
        "before": activity.before,
        "after": activity.after,
        "ref": activity.ref,
        "timestamp": ts(activity.timestamp),
        "activity_type": activity.activity_type,
        "actor": ctx.hub.render.user(activity.actor) if known and activity.actor else None,
    }


def _selected(ctx: Ctx, r: Repo) -> list[Activity]:
    args = ctx.request.args
    items = list(r.activity)
    ref = args.get("ref")
    if ref:
        full = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
        items = [a for a in items if a.ref == full]
    actor = args.get("actor")
    if actor:
        items = [a for a in items if (a.actor or "").lower() == actor.lower()]
    kind = args.get("activity_type")
    if kind:
        if kind not in ACTIVITY_TYPES:
            raise unprocessable(f"Invalid activity_type: {kind}")
        items = [a for a in items if a.activity_type == kind]
    period = args.get("time_period")
    if period:
        if period not in PERIODS:
            raise unprocessable(f"Invalid time_period: {period}")
        since = now() - PERIODS[period]
        items = [a for a in items if a.timestamp >= since]
    direction = args.get("direction", "desc")
    if direction not in ("asc", "desc"):
        raise unprocessable(f"Invalid direction: {direction}")
    items.sort(key=lambda a: a.id, reverse=direction == "desc")
    return items


def list_activity(ctx: Ctx, owner: str, repo: str) -> Reply:
    r = ctx.hub.repo(owner, repo)
    items = _selected(ctx, r)
    per_page = min(max(ctx.int_arg("per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    after, before = ctx.request.args.get("after"), ctx.request.args.get("before")
    if after:
        start = _position(items, after) + 1
        stop = start + per_page
    elif before:
        stop = _position(items, before)
        start = max(stop - per_page, 0)
    else:
        start, stop = 0, per_page
    page = items[start:stop]
    links: list[str] = []
    if page and stop < len(items):
        links.append(_link(ctx, "after", cursor(page[-1]), "next"))
    if page and start > 0:
        links.append(_link(ctx, "before", cursor(page[0]), "prev"))
    headers = {"Link": ", ".join(links)} if links else {}
    return Reply(200, [render(ctx, a) for a in page], headers)


def _link(ctx: Ctx, key: str, value: str, rel: str) -> str:
    pairs = [(k, v) for k, v in ctx.request.args.items(multi=True) if k not in ("after", "before")]
    pairs.append((key, value))
    base = ctx.hub.render.origin + ctx.request.script_root + ctx.request.path
    return f'<{base}?{urlencode(pairs)}>; rel="{rel}"'


ROUTES = [("GET", "/repos/{owner}/{repo}/activity", list_activity)]
