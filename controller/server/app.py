"""The controller's HTTP surface as one WSGI application.

- ``POST /webhooks`` — :class:`~controller.server.webhook_app.WebhookApp` (verify,
  de-duplicate, queue; answers at once, never evaluates inline);
- ``GET /healthz`` — the process is alive and serving;
- ``GET /readyz`` — ready to do its job (see :class:`Readiness`): 200 or 503, with the checks
  and whether this replica leads, so a standby is ready with ``"leader": false``;
- ``GET /metrics`` — Prometheus text format from the controller's private registry;
- ``GET /v1/requests/<owner>/<repo>/<number>`` — where one pull request stands (404 when
  sealgate knows nothing of it, 503 from a standby replica), never cached;
- ``POST /v1/open`` — :class:`~controller.server.access_api.OpenApi`, only when the
  configuration enables it (otherwise 404, like any unknown path);
- ``POST /v1/access-requests``, ``GET /v1/access-requests/<id>``,
  ``POST /v1/access-requests/<id>/open`` — :class:`~controller.server.agents_api.AgentsApi`,
  likewise only when enabled.

Nothing here does work: each endpoint reads state the runner keeps.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from controller.server.access_api import OpenApi
from controller.server.agents_api import AgentsApi
from controller.server.webhook_app import WebhookApp

StatusSource = Callable[[str, int], Mapping[str, Any] | None]
"""``(owner/name, number)`` → the request status as JSON-ready data, or None when unknown."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass
class Readiness:
    """What ``/readyz`` reports. Flags flip once; ``leader`` follows the Lease."""

    config_loaded: bool = False
    store_opened: bool = False
    github_reachable: bool = False
    leader_election: bool = False
    leader: bool = True
    """Without leader election a replica always leads."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, **flags: bool) -> None:
        with self._lock:
            for name, value in flags.items():
                if name.startswith("_") or not hasattr(self, name):
                    raise AttributeError(name)
                setattr(self, name, value)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            checks = {
                "config": self.config_loaded,
                "store": self.store_opened,
                "github": self.github_reachable,
            }
            return {
                "ready": all(checks.values()),
                "checks": checks,
                "leader": self.leader,
                "role": "leader" if self.leader else "standby",
                "leaderElection": self.leader_election,
            }


def _json(status: int, body: Mapping[str, Any], **headers: str) -> Response:
    response = Response(
        json.dumps(body, sort_keys=True) + "\n", status=status, mimetype="application/json"
    )
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


class ControllerApp:
    """A WSGI application; thread-safe (the server is threaded)."""

    def __init__(
        self,
        *,
        webhooks: WebhookApp,
        readiness: Readiness,
        metrics: Callable[[], bytes],
        metrics_content_type: str,
        status: StatusSource,
        open_api: OpenApi | None = None,
        agents_api: AgentsApi | None = None,
    ) -> None:
        self._webhooks = webhooks
        self._readiness = readiness
        self._metrics = metrics
        self._metrics_type = metrics_content_type
        self._status = status
        self._open_api = open_api
        # The open route exists only when enabled: a disabled one is an unknown path (404),
        # whatever the method, rather than a 405 that admits the feature is there.
        opening = [Rule("/v1/open", endpoint="open", methods=["POST"])] if open_api else []
        self._agents_api = agents_api
        agents = (
            [
                Rule("/v1/access-requests", endpoint="agents-create", methods=["POST"]),
                Rule("/v1/access-requests/<rid>", endpoint="agents-get", methods=["GET"]),
                Rule("/v1/access-requests/<rid>/open", endpoint="agents-open", methods=["POST"]),
            ]
            if agents_api
            else []
        )
        self._routes = Map(
            [
                *opening,
                *agents,
                Rule("/webhooks", endpoint="webhooks", methods=["POST"]),
                Rule("/healthz", endpoint="healthz", methods=["GET"]),
                Rule("/readyz", endpoint="readyz", methods=["GET"]),
                Rule("/metrics", endpoint="metrics", methods=["GET"]),
                Rule(
                    "/v1/requests/<owner>/<repo>/<int:number>",
                    endpoint="request",
                    methods=["GET"],
                ),
            ],
            strict_slashes=False,
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        response = self.handle(Request(environ))
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def handle(self, request: Request) -> Response:
        adapter = self._routes.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or ()))
            return _json(405, {"message": f"use {allowed}"}, Allow=allowed)
        except NotFound:
            return _json(404, {"message": "not found"})
        except HTTPException as exc:  # e.g. a redirect for a trailing slash
            return _json(exc.code or 400, {"message": exc.description or "bad request"})
        if endpoint == "webhooks":
            return self._webhooks.handle(request)
        if endpoint == "healthz":
            return _json(200, {"status": "ok"})
        if endpoint == "readyz":
            state = self._readiness.snapshot()
            return _json(200 if state["ready"] else 503, state, Cache_Control="no-store")
        if endpoint == "open" and self._open_api is not None:
            return self._open(self._open_api, request)
        if endpoint.startswith("agents-") and self._agents_api is not None:
            return self._agents(self._agents_api, endpoint, args, request)
        if endpoint == "metrics":
            response = Response(self._metrics(), status=200)
            response.headers["Content-Type"] = self._metrics_type
            return response
        return self._request_status(args["owner"], args["repo"], args["number"])

    def _open(self, api: OpenApi, request: Request) -> Response:
        if not self._readiness.snapshot()["leader"]:
            # Opening records a use in the store, which only the leader writes.
            return _json(
                503,
                {"message": "this replica is a standby; ask again (the leader answers)"},
                Cache_Control="no-store",
                Retry_After="2",
            )
        return api.handle(request)

    def _agents(
        self, api: AgentsApi, endpoint: str, args: Mapping[str, Any], request: Request
    ) -> Response:
        if not self._readiness.snapshot()["leader"]:
            # Requests are recorded, reconciled and opened by the leader only.
            return _json(
                503,
                {"message": "this replica is a standby; ask again (the leader answers)"},
                Cache_Control="no-store",
                Retry_After="2",
            )
        if endpoint == "agents-create":
            return api.create(request)
        if endpoint == "agents-get":
            return api.get(request, str(args["rid"]))
        return api.open(request, str(args["rid"]))

    def _request_status(self, owner: str, repo: str, number: int) -> Response:
        if not (_NAME.fullmatch(owner) and _NAME.fullmatch(repo)) or number < 1:
            return _json(
                400,
                {"message": "use /v1/requests/<owner>/<repo>/<pull request number>"},
                Cache_Control="no-store",
            )
        if not self._readiness.snapshot()["leader"]:
            # Request status lives with the replica that reconciles; a standby knows none,
            # and "unknown" would be a wrong answer rather than a temporary one.
            return _json(
                503,
                {"message": "this replica is a standby; ask again (the leader answers)"},
                Cache_Control="no-store",
                Retry_After="2",
            )
        status = self._status(f"{owner}/{repo}", number)
        if status is None:
            return _json(
                404,
                {"message": f"sealgate knows no pull request {owner}/{repo}#{number}"},
                Cache_Control="no-store",
            )
        return _json(200, status, Cache_Control="no-store")
