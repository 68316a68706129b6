"""A small server speaking exactly the agents API contract, for testing the client.

``AgentsFakeServer`` is a threaded werkzeug server on loopback with the state the contract
talks about: tokens it accepts (each a ServiceAccount), which environments let which
requester ask, requests with their status documents, ETags and long polls, idempotency
keys, and grants whose values it seals to the caller as ``POST /v1/open`` does. Tests move
requests along with ``approve``/``deny``/``revoke`` and make it fail with ``fail_next``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from controller.crypto.caller_box import load_caller_key, seal_for_caller
from controller.errors import SealedValueError

CANARY = b"sk_live_AGENT_CANARY_5c1d"
_DURATION = re.compile(r"[1-9][0-9]{0,5}[mhdw]")
_ID = re.compile(r"agent-[a-z2-7]{12}")
_BODY_FIELDS = frozenset(
    {"environment", "secrets", "reason", "duration", "activateWithin", "cluster"}
)
MAX_WAIT_S = 5.0


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class _Request:
    document: dict[str, Any]
    requester: str
    values: dict[str, dict[str, bytes]] = field(repr=False)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _etag(document: Mapping[str, Any]) -> str:
    return (
        '"' + hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16] + '"'
    )


class AgentsFakeServer:
    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        """Token -> requester (``system:serviceaccount:<ns>:<name>@<cluster>``)."""
        self.refused: dict[str, str] = {}
        """Token -> the 401 reason it gets (``expired``, ``audience``)."""
        self.allowed: dict[str, set[str]] = {}
        """Environment -> requesters its spec.agents lists."""
        self.auto_approve: set[str] = {"staging"}
        self.values: dict[str, dict[str, bytes]] = {
            "payments/stripe": {"API_KEY": CANARY, "PUBLISHABLE": b"pk_test_1"},
            "payments/db": {"PASSWORD": b"db-" + CANARY},
        }
        self.requests: dict[str, _Request] = {}
        self.idempotency: dict[tuple[str, str], str] = {}
        self.seen: list[Seen] = []
        self.pulls = 0
        self._failures: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self._changed = threading.Condition()
        self._server: BaseWSGIServer | None = None

    # --- setup and moves -----------------------------------------------------------------

    def add_agent(
        self,
        namespace: str,
        name: str,
        cluster: str = "prod-eu-1",
        environments: tuple[str, ...] = ("production", "staging"),
    ) -> tuple[str, str]:
        """A token for a new ServiceAccount the environments allow; (token, requester)."""
        requester = f"system:serviceaccount:{namespace}:{name}@{cluster}"
        token = "eyJ" + secrets.token_urlsafe(48)
        self.tokens[token] = requester
        for environment in environments:
            self.allowed.setdefault(environment, set()).add(requester)
        return token, requester

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        retry_after: str | None = "1",
        body: dict[str, Any] | None = None,
    ) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self._changed:
            self._failures.extend([(status, body or {"reason": "fault"}, headers)] * count)

    def approve(self, request_id: str, *, by: str = "alice") -> None:
        self._move(request_id, "approved", approvers=[by], grant=True)

    def deny(self, request_id: str, reason: str = "not during the freeze") -> None:
        self._move(request_id, "denied", denialReason=reason)

    def set_status(self, request_id: str, status: str) -> None:
        self._move(request_id, status)

    def _move(self, request_id: str, status: str, *, grant: bool = False, **fields: Any) -> None:
        with self._changed:
            document = self.requests[request_id].document
            document.update(status=status, resolvedAt=_now(), **fields)
            if "approvers" in fields:
                document["currentApprovals"] = len(fields["approvers"])
            if grant:
                document["grant"] = _grant(request_id)
            self._changed.notify_all()

    # --- serving -------------------------------------------------------------------------

    @contextmanager
    def running(self) -> Iterator[str]:
        server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        server.daemon_threads = True  # type: ignore[attr-defined]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self._server = server
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._answer(request)
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        self.seen.append(Seen(request.method, request.full_path, dict(request.headers)))
        with self._changed:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, body, headers = failure
            return _json(body, status, headers)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
        if token in self.refused:
            return _json({"reason": self.refused[token], "message": "the token was refused"}, 401)
        requester = self.tokens.get(token)
        if requester is None:
            return _json({"reason": "invalid", "message": "the cluster does not know it"}, 401)
        parts = request.path.strip("/").split("/")
        if parts[:2] != ["v1", "access-requests"]:
            return _json({"reason": "not-found"}, 404)
        if len(parts) == 2 and request.method == "POST":
            return self._create(request, requester)
        if len(parts) in (3, 4) and _ID.fullmatch(parts[2]):
            held = self.requests.get(parts[2])
            if held is None or held.requester != requester:
                return _json({"reason": "not-found", "message": "no such request"}, 404)
            if len(parts) == 3 and request.method == "GET":
                return self._status(request, held)
            if parts[3:] == ["open"] and request.method == "POST":
                return self._open(request, held)
        return _json({"reason": "not-found"}, 404)

    def _create(self, request: Request, requester: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not set(body) <= _BODY_FIELDS:
            return _json(
                {"reason": "malformed", "message": "the body is not an access request"}, 400
            )
        environment = body.get("environment")
        if requester not in self.allowed.get(str(environment), set()):
            return _json(
                {"reason": "not-allowed", "message": f"{requester} is not in spec.agents"}, 403
            )
        for name in ("duration", "activateWithin"):
            if not _DURATION.fullmatch(
                str(body.get(name, "1h" if name == "activateWithin" else ""))
            ):
                message = f"{name}: a duration such as 5m or 2h (the value given is not shown)"
                return _json({"reason": "malformed", "message": message}, 400)
        wanted = body.get("secrets")
        if (
            not isinstance(wanted, list)
            or not wanted
            or not all(isinstance(s, dict) and isinstance(s.get("secret"), str) for s in wanted)
        ):
            return _json(
                {"reason": "malformed", "message": "secrets: a list of {secret, keys}"}, 400
            )
        problems = []
        if not str(body.get("reason", "")).strip():
            problems.append("request body: reason: say why")
        for item in wanted:
            stored = self.values.get(item["secret"], {})
            problems += [
                f"access/{environment}/request.yaml: spec.secrets: {item['secret']} has no key {k}"
                for k in item.get("keys", [])
                if k not in stored
            ]
        if problems:
            return _json({"problems": problems}, 422)
        key = request.headers.get("Idempotency-Key")
        with self._changed:
            if key and (requester, key) in self.idempotency:
                held = self.requests[self.idempotency[(requester, key)]]
                return _json(held.document, 202, {"ETag": _etag(held.document)})
            request_id = "agent-" + "".join(
                secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(12)
            )
            self.pulls += 1
            auto = environment in self.auto_approve
            document = {
                "id": request_id,
                "status": "approved" if auto else "pending",
                "requester": requester,
                "environment": environment,
                "secrets": [{"secret": s["secret"], "keys": s.get("keys", [])} for s in wanted],
                "tier": "standard" if auto else "sensitive",
                "requiredApprovals": 0 if auto else 2,
                "currentApprovals": 0,
                "approvers": [],
                "canApprove": ["acme/sre"],
                "reason": body["reason"],
                "denialReason": None,
                "expiresAt": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
                "createdAt": _now(),
                "resolvedAt": _now() if auto else None,
                "pullRequest": {
                    "number": self.pulls,
                    "url": f"https://github.example/acme/r/pull/{self.pulls}",
                },
                "autoApproved": auto,
                "grant": _grant(request_id) if auto else None,
            }
            self.requests[request_id] = _Request(document, requester, self.values)
            if key:
                self.idempotency[(requester, key)] = request_id
        return _json(document, 202, {"ETag": _etag(document)})

    def _status(self, request: Request, held: _Request) -> Response:
        given = request.headers.get("If-None-Match")
        wait = request.args.get("wait")
        with self._changed:
            if wait is not None:
                seconds = min(float(wait.removesuffix("s")), MAX_WAIT_S)
                self._changed.wait_for(lambda: _etag(held.document) != given, timeout=seconds)
            document = json.loads(json.dumps(held.document))
        tag = _etag(document)
        if given == tag:
            return Response(status=304, headers={"ETag": tag})
        return _json(document, 200, {"ETag": tag})

    def _open(self, request: Request, held: _Request) -> Response:
        body = request.get_json(silent=True) or {}
        document = held.document
        if document["status"] not in ("approved", "active"):
            reason = "not-approved" if document["status"] == "pending" else document["status"]
            return _json({"reason": reason, "message": f"the request is {document['status']}"}, 403)
        try:
            public = load_caller_key(str(body.get("publicKey", "")))
        except SealedValueError:
            return _json({"reason": "malformed", "message": "publicKey"}, 400)
        secret = body.get("secret") or document["secrets"][0]["secret"]
        stored = held.values[secret]
        keys = body.get("keys") or document["secrets"][0]["keys"] or sorted(stored)
        chosen = {k: stored[k] for k in keys if k in stored}
        nonce = body.get("nonce") or "n" * 16
        grant = document["grant"]["id"]
        sealed = seal_for_caller(
            chosen,
            public,
            grant_id=grant,
            environment=document["environment"],
            secret=secret,
            nonce=nonce,
        )
        with self._changed:
            document["status"] = "active"
            document["grant"]["uses"] += 1
            document["grant"]["firstUsedAt"] = document["grant"]["firstUsedAt"] or _now()
            self._changed.notify_all()
        return _json(
            {
                "grant": grant,
                "endsAt": document["grant"]["endsAt"],
                "keys": sorted(chosen),
                "sealed": sealed,
                "nonce": nonce,
            },
            200,
        )


def _grant(request_id: str) -> dict[str, Any]:
    return {
        "id": f"production-pr-1-{request_id}",
        "endsAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        "activateBy": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        "firstUsedAt": None,
        "uses": 0,
    }


def _json(document: Any, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(document),
        status=status,
        headers=dict(headers or {}),
        content_type="application/json",
    )
