"""What a REST handler receives (`Ctx`) and returns (`Reply`), and GitHub-style paging."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request

from controller.sandbox.github_server.actions import Hub
from controller.sandbox.github_server.errors import ApiError, invalid
from controller.sandbox.github_server.limits import RateLimiter
from controller.sandbox.github_server.state import Identity

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 30


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None


@dataclass
class Ctx:
    request: Request
    identity: Identity
    hub: Hub
    limiter: RateLimiter

    @property
    def login(self) -> str | None:
        return self.identity.login

    def actor(self) -> str:
        """The acting account; anonymous callers get GitHub's 401."""
        if self.identity.is_app_jwt:
            raise ApiError(403, "Resource not accessible by integration")
        if self.identity.login is None:
            raise ApiError(401, "Requires authentication")
        return self.identity.login

    def json(self) -> dict[str, Any]:
        body = self.json_any()
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise ApiError(400, "Problems parsing JSON")
        return body

    def json_any(self) -> Any:
        if not self.request.get_data():
            return None
        body = self.request.get_json(force=True, silent=True)
        if body is None:
            raise ApiError(400, "Problems parsing JSON")
        return body

    def int_arg(self, name: str, default: int) -> int:
        raw = self.request.args.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError as exc:
            raise invalid("Query", name) from exc


def paginate(ctx: Ctx, items: Sequence[Any], render: Callable[[Any], Any] | None = None) -> Reply:
    """One page of `items` with a `Link` header laid out exactly as GitHub lays it out."""
    per_page = min(max(ctx.int_arg("per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    page = max(ctx.int_arg("page", 1), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    body = [render(x) for x in chunk] if render is not None else list(chunk)
    links: list[str] = []
    if page > 1:
        links.append(_link(ctx, min(page - 1, last), "prev"))
    if page < last:
        links.append(_link(ctx, page + 1, "next"))
        links.append(_link(ctx, last, "last"))
    if page > 1:
        links.append(_link(ctx, 1, "first"))
    headers = {"Link": ", ".join(links)} if links else {}
    return Reply(200, body, headers)


def _link(ctx: Ctx, page: int, rel: str) -> str:
    # Keep the caller's own query parameters in order, with `page` replaced or appended.
    pairs = [(k, v) for k, v in ctx.request.args.items(multi=True) if k != "page"]
    pairs.append(("page", str(page)))
    base = ctx.hub.render.origin + ctx.request.script_root + ctx.request.path
    return f'<{base}?{urlencode(pairs)}>; rel="{rel}"'
