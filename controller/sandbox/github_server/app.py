"""The WSGI application: routing, authentication, faults, rate limits, ETags and the request log.

Handlers (the `routes_*` modules) only see a `Ctx` and return a `Reply`; everything GitHub does
around every call (headers, conditional requests, budgets) happens here once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import http_date, parse_date
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from controller.sandbox.github_server import (
    check_annotations,
    routes_accounts,
    routes_activity,
    routes_contents,
    routes_pulls,
    routes_repo,
    routes_reviewers,
    routes_timeline,
)
from controller.sandbox.github_server.actions import Hub
from controller.sandbox.github_server.auth import identify
from controller.sandbox.github_server.context import Ctx, Reply
from controller.sandbox.github_server.errors import DOCS, ApiError
from controller.sandbox.github_server.latency import LatencyInjector
from controller.sandbox.github_server.limits import Bucket, Faults, RateLimiter, graphql_key
from controller.sandbox.github_server.state import Identity

LOG = logging.getLogger(__name__)
Handler = Callable[..., Reply]
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {rid}."
)
FAULT_MESSAGES = {
    500: "Server Error",
    502: "Server Error",
    503: "Service Unavailable",
    504: "We couldn't respond to your request in time. Sorry about that.",
}
# Path parameters that are numbers on GitHub; the rest are strings, and these two hold slashes.
INT_PARAMS = {
    "pull_number",
    "review_id",
    "comment_id",
    "check_run_id",
    "installation_id",
    "issue_number",
}
PATH_PARAMS = {"path", "ref"}
GRAPHQL = "/graphql"
# api.github.com answers GraphQL at /graphql; GitHub Enterprise Server at /api/graphql.
GRAPHQL_PATHS = (GRAPHQL, "/api/graphql")
GRAPHQL_DOCS = "https://docs.github.com/graphql"


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: str
    status: int
    counted: bool
    user: str | None
    template: str | None  # the documented path, e.g. /repos/{owner}/{repo}/pulls/{pull_number}
    body: Any  # the decoded JSON answer, None when there was none
    started: float = 0.0
    """``time.monotonic()`` when the request arrived, before any imitated latency."""
    finished: float = 0.0
    """``time.monotonic()`` when the answer was ready: ``finished - started`` is its cost."""
    operation: str | None = None
    """GraphQL only: ``query`` or ``mutation`` (a read and a write share the path)."""

    @property
    def writes(self) -> bool:
        """Whether the request could change anything (a GraphQL query cannot)."""
        return self.method not in ("GET", "HEAD") and self.operation != "query"


def to_rule(template: str) -> str:
    def convert(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in INT_PARAMS:
            return f"<int:{name}>"
        if name in PATH_PARAMS:
            return f"<path:{name}>"
        return f"<{name}>"

    return re.sub(r"\{(\w+)\}", convert, template)


def etag_for(identity: Identity, payload: bytes) -> str:
    # GitHub's ETags vary with the caller (`Vary: Authorization`), so the identity is hashed in.
    digest = hashlib.sha256(identity.key.encode() + b"\0" + payload).hexdigest()[:40]
    return f'W/"{digest}"'


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    for raw in header.split(","):
        candidate = raw.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


@dataclass
class _Call:
    """What one request has learned so far, for its headers and its log record."""

    rid: str
    identity: Identity = field(default_factory=lambda: Identity(login=None))
    template: str | None = None
    bucket: Bucket | None = None
    counted: bool = False
    body: Any = None
    resource: str = "core"
    """The budget the request spends: ``core`` (REST) or ``graphql``, each its own."""
    operation: str | None = None
    """For GraphQL: ``query`` or ``mutation``."""


class GitHubApp:
    """The WSGI callable for the loopback GitHub REST API."""

    def __init__(
        self, hub: Hub, limiter: RateLimiter, faults: Faults, latency: LatencyInjector | None = None
    ) -> None:
        self.hub = hub
        self.limiter = limiter
        self.faults = faults
        self.latency = latency or LatencyInjector()
        self._log_lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._handlers: dict[str, tuple[Handler, str]] = {}
        rules: list[Rule] = []
        modules = (
            routes_repo,
            routes_pulls,
            routes_accounts,
            routes_activity,
            routes_timeline,
            check_annotations,
            routes_reviewers,
            routes_contents,
        )
        for module in modules:
            for method, template, handler in module.ROUTES:
                endpoint = f"{method} {template}"
                self._handlers[endpoint] = (handler, template)
                rules.append(Rule(to_rule(template), endpoint=endpoint, methods=[method]))
        self.url_map = Map(rules, strict_slashes=False, merge_slashes=False)

    # -- WSGI -----------------------------------------------------------------------------

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        call = _Call(rid=uuid.uuid4().hex[:20].upper())
        started = time.monotonic()
        delay = self.latency.draw()
        self.latency.pause(delay / 2)
        try:
            status, payload, headers, call.body = self._serve(request, call)
            response = Response(payload or None, status=status, headers=headers)
            if payload:
                response.content_type = "application/json; charset=utf-8"
        except ApiError as exc:
            if exc.spends_budget and call.template is not None:
                call.bucket = self.limiter.take(call.identity.key)
                call.counted = True
            call.body = exc.body()
            response = self._json_error(exc.status, call.body, exc.headers)
        except HTTPException as exc:
            call.body = {"message": exc.description or "Bad Request", "documentation_url": DOCS}
            response = self._json_error(exc.code or 400, call.body, {})
        except Exception:
            # A bug in the imitation must surface as GitHub's own 500, not a dropped connection.
            LOG.exception("loopback GitHub failed on %s %s", request.method, request.path)
            call.body = {"message": "Server Error", "documentation_url": DOCS}
            response = self._json_error(500, call.body, {})
        self._common_headers(response, call)
        identity = call.identity
        record = RequestRecord(
            method=request.method,
            # Both GraphQL spellings are one endpoint, as both REST mounts are one API.
            path=GRAPHQL if call.template == GRAPHQL else request.path,
            query=request.query_string.decode(),
            status=response.status_code,
            counted=call.counted,
            user=f"app:{identity.app_id}" if identity.is_app_jwt else identity.login,
            template=call.template,
            body=call.body,
            started=started,
            finished=time.monotonic() + delay / 2,
            operation=call.operation,
        )
        with self._log_lock:
            self._log.append(record)
        self.latency.pause(delay / 2)
        return response

    @property
    def request_log(self) -> list[RequestRecord]:
        with self._log_lock:
            return list(self._log)

    def reset_request_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def _serve(self, request: Request, call: _Call) -> tuple[int, bytes, dict[str, str], Any]:
        """Authenticate, route, throttle, run the handler; returns status, bytes, headers, JSON."""
        call.identity = identify(self.hub.world, request.headers.get("Authorization"))
        if request.method == "POST" and not request.script_root and request.path in GRAPHQL_PATHS:
            return self._serve_graphql(request, call)
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, params = adapter.match()
        except (MethodNotAllowed, NotFound) as exc:
            raise ApiError(404, "Not Found") from exc
        handler, call.template = self._handlers[str(endpoint)]
        self._apply_fault(request.path, request.method, call.rid)
        free = call.template == "/rate_limit"  # GitHub does not charge for reading the budget
        if not free and self.limiter.peek(call.identity.key).remaining <= 0:
            raise self._exhausted(call.identity, call.rid)
        ctx = Ctx(request, call.identity, self.hub, self.limiter)
        with self.hub.world.lock, self.hub.render.mounted_at(request.script_root):
            reply = handler(ctx, **params)
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        headers = dict(reply.headers)
        status, body = reply.status, reply.body
        if status == 200 and request.method in ("GET", "HEAD"):
            etag = etag_for(call.identity, payload)
            headers["ETag"] = etag
            if reply.last_modified is not None:
                headers["Last-Modified"] = http_date(reply.last_modified)
            if self._not_modified(request, etag, reply):
                headers.pop("Link", None)
                return 304, b"", headers, None
        if not free:
            call.bucket = self.limiter.take(call.identity.key)
            call.counted = True
        return status, payload, headers, body

    def _serve_graphql(
        self, request: Request, call: _Call
    ) -> tuple[int, bytes, dict[str, str], Any]:
        """REST's authentication, faults and throttling around one GraphQL document."""
        call.template, call.resource = GRAPHQL, "graphql"
        identity = call.identity
        if identity.login is None:
            raise ApiError(
                401, "This endpoint requires you to be authenticated.", spends_budget=False
            )
        try:
            payload = json.loads(request.get_data() or b"null")
        except ValueError as exc:
            raise ApiError(400, "Problems parsing JSON", spends_budget=False) from exc
        # Loaded on first use: a process that never answers GraphQL never imports graphql-core.
        from controller.sandbox.github_server.graphql.endpoint import (  # noqa: PLC0415
            answer,
            operation_kind,
        )

        call.operation = operation_kind(payload)
        self._apply_fault(request.path, request.method, call.rid, call.operation)
        key = graphql_key(identity.key)
        if self.limiter.peek(key).remaining <= 0:
            who = self._exhausted(identity, call.rid).message.split(" for ", 1)[1].split(".")[0]
            body: Any = {
                "errors": [
                    {
                        "type": "RATE_LIMIT",
                        "code": "graphql_rate_limit",
                        "message": f"API rate limit already exceeded for {who}.",
                    }
                ]
            }
            return 200, json.dumps(body).encode(), {}, body
        with self.hub.world.lock, self.hub.render.mounted_at(""):
            body = answer(self.hub, identity, payload, call.rid)
        # GitHub charges a document by the nodes it may return; sealgate's cost one point.
        call.bucket = self.limiter.take(key)
        call.counted = True
        return 200, json.dumps(body).encode(), {}, body

    @staticmethod
    def _json_error(status: int, body: Any, headers: dict[str, str]) -> Response:
        response = Response(json.dumps(body), status=status, headers=headers)
        response.content_type = "application/json; charset=utf-8"
        return response

    # -- pieces ---------------------------------------------------------------------------

    @staticmethod
    def _not_modified(request: Request, etag: str, reply: Reply) -> bool:
        if request.headers.get("If-None-Match"):
            return etag_matches(request.headers.get("If-None-Match"), etag)
        since = parse_date(request.headers.get("If-Modified-Since"))
        if since is not None and reply.last_modified is not None:
            return reply.last_modified <= since
        return False

    def _apply_fault(self, path: str, method: str, rid: str, graphql: str | None = None) -> None:
        fault = self.faults.take(path, method, graphql)
        if fault is None:
            return
        if fault.delay_seconds > 0:
            time.sleep(fault.delay_seconds)
        if fault.status < 400:
            return  # a slow but otherwise normal answer
        if fault.status in (403, 429):
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            message = SECONDARY_MESSAGE.format(rid=rid)
            raise ApiError(fault.status, message, headers=headers, spends_budget=False)
        message = FAULT_MESSAGES.get(fault.status, "Server Error")
        raise ApiError(fault.status, message, spends_budget=False)

    def _exhausted(self, identity: Identity, rid: str) -> ApiError:
        if identity.installation_id is not None:
            who = f"installation ID {identity.installation_id}"
        elif identity.login is not None:
            user = self.hub.world.user(identity.login)
            who = f"user ID {user.id if user else 0}"
        else:
            who = "127.0.0.1"
        message = (
            f"API rate limit exceeded for {who}. If you reach out to GitHub Support for help, "
            f"please include the request ID {rid}."
        )
        return ApiError(403, message, spends_budget=False)

    def _common_headers(self, response: Response, call: _Call) -> None:
        key = call.identity.key
        bucket = call.bucket or self.limiter.peek(
            graphql_key(key) if call.resource == "graphql" else key
        )
        rid = call.rid
        response.headers["X-RateLimit-Limit"] = str(bucket.limit)
        response.headers["X-RateLimit-Remaining"] = str(bucket.remaining)
        response.headers["X-RateLimit-Used"] = str(bucket.used)
        response.headers["X-RateLimit-Reset"] = str(bucket.reset)
        response.headers["X-RateLimit-Resource"] = call.resource
        response.headers["X-GitHub-Request-Id"] = rid
        response.headers["X-GitHub-Media-Type"] = "github.v3; format=json"
        response.headers["X-GitHub-Api-Version-Selected"] = "2022-11-28"
        response.headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
        response.headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
