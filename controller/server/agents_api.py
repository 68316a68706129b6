"""``/v1/access-requests``: agents ask for access, follow their request, open their grant.

- ``POST /v1/access-requests`` -> 202 with the status document (``Location``, ``ETag``);
- ``GET /v1/access-requests/<id>`` -> 200 with ``ETag``; ``If-None-Match`` equal -> 304;
  ``?wait=30s`` holds the answer until the document changes or the wait (capped by
  ``maxWait``) passes;
- ``POST /v1/access-requests/<id>/open`` -> 200 as ``POST /v1/open`` answers.

Identity: ``Authorization: Bearer <ServiceAccount token>``, reviewed by the TokenReview API
of the environment's clusters (the body's ``cluster`` only, when it names one). Another
agent's request is 404, exactly like one that does not exist. Every answer is
``Cache-Control: no-store``; refusals after the address limit are audited in the store.
Neither the token nor a review's answer (which echoes it) nor the body reaches a log line,
an answer or an audit record.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from werkzeug.wrappers import Request, Response

from controller.errors import (
    BackendError,
    ConflictError,
    CredentialRefused,
    SealgateError,
)
from controller.model import AgentIdentity, Grant
from controller.reconciler.access_open import AccessRefused
from controller.reconciler.agent_ports import AgentAuditPort, AgentRecordsPort
from controller.reconciler.agent_requests import (
    AgentNotAllowed,
    AgentRequestFlow,
    AgentRequestInvalid,
)
from controller.reconciler.agent_status import etag_of, grant_id_of, status_document
from controller.reconciler.status import RequestStatus
from controller.server.access_api import Opener
from controller.server.agents_body import BadBody, parse_ask, parse_open, parse_wait
from controller.server.ratelimit import RateLimiter
from controller.store.agent_records import REQUEST_ID, AgentRequestRecord

log = logging.getLogger("sealgate.agents")

POLL_SLICE_S = 5.0
"""A long-poll rebuilds its document when the pipeline says something changed, and at least
this often even when nothing did (a grant lapses or ends with no event to wake it): each
rebuild reads the store, so waiters must not spin on it."""
IDEMPOTENCY_MAX = 256


class TokenReviewer(Protocol):
    """``review_token`` against one configured cluster (wiring: ``KubeTargets.api``)."""

    def review(self, cluster: str, token: str, audience: str) -> AgentIdentity: ...

    def clusters(self) -> tuple[str, ...]: ...


def _json(status: int, body: Mapping[str, Any] | None, **headers: str) -> Response:
    text = "" if body is None else json.dumps(body, sort_keys=True) + "\n"
    response = Response(text, status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def _bearer(header: str) -> str | None:
    scheme, _, credential = header.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        return None
    return credential


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class _Refusal(Exception):
    """An answer that refuses, and what the audit record says of it."""

    def __init__(
        self,
        response: Response,
        code: str,
        message: str,
        *,
        actor: str | None = None,
        environment: str = "",
    ) -> None:
        super().__init__(code)
        self.response, self.code, self.message = response, code, message
        self.actor, self.environment = actor, environment


class AgentsApi:
    """Thread-safe; a long-poll blocks only its own request's thread."""

    def __init__(
        self,
        *,
        flow: AgentRequestFlow,
        records: AgentRecordsPort,
        audit: AgentAuditPort,
        reviewer: TokenReviewer,
        opener: Opener,
        grant_of: Callable[[str], Grant | None],
        pass_of: Callable[[int], RequestStatus | None],
        clusters_of: Callable[[str], Sequence[str]],
        audience: str,
        rate_per_minute: int,
        address_rate_per_minute: int | None = None,
        max_wait_s: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ticks: Callable[[], float] = time.monotonic,
    ) -> None:
        self._flow = flow
        self._records = records
        self._audit = audit
        self._reviewer = reviewer
        self._opener = opener
        self._grant_of = grant_of
        self._pass_of = pass_of
        self._clusters_of = clusters_of
        self._audience = audience
        self._max_wait_s = max_wait_s
        self._clock = clock
        self._ticks = ticks
        self._by_address = RateLimiter(address_rate_per_minute or rate_per_minute * 4, clock=ticks)
        self._by_agent = RateLimiter(rate_per_minute, clock=ticks)

    # ------------------------------------------------------------------ entry points

    def create(self, request: Request) -> Response:
        return self._guarded(request, "", lambda: self._create(request))

    def get(self, request: Request, request_id: str) -> Response:
        return self._guarded(request, "", lambda: self._get(request, request_id))

    def open(self, request: Request, request_id: str) -> Response:
        return self._guarded(request, "", lambda: self._open(request, request_id))

    def _guarded(
        self, request: Request, environment: str, work: Callable[[], Response]
    ) -> Response:
        wait = self._by_address.take(request.remote_addr or "?")
        if wait:
            return _limited(wait)
        try:
            return work()
        except _Refusal as refused:
            self._audit_refusal(refused, request)
            return refused.response
        except BadBody as exc:
            return _json(400, {"message": str(exc)})
        except BackendError as exc:
            log.warning("agents: %s", exc)
            return _json(
                503, {"message": "GitHub, a cluster or the store cannot answer now; try again"},
                Retry_After="5",
            )  # fmt: skip
        except ConflictError as exc:
            log.warning("agents: %s", exc)
            return _json(503, {"message": "busy; try again"}, Retry_After="2")
        except Exception:
            log.exception("agents: the request failed")
            return _json(500, {"message": "the controller failed; its log says why"})

    def _audit_refusal(self, refused: _Refusal, request: Request) -> None:
        actor = refused.actor or f"unauthenticated@{request.remote_addr or '?'}"
        environment = refused.environment or "-"
        log.info("agents: refused %s (%s)", actor, refused.code)
        try:
            self._audit.record_agent_refusal(
                at=self._clock(), actor=actor, environment=environment,
                code=refused.code, message=refused.message,
            )  # fmt: skip
        except SealgateError as exc:
            log.warning("agents: could not audit a refusal: %s", exc)

    # ------------------------------------------------------------------ identity

    def _identify(self, request: Request, clusters: Sequence[str]) -> AgentIdentity:
        token = _bearer(request.headers.get("Authorization", ""))
        if token is None:
            message = "send Authorization: Bearer <ServiceAccount token>"
            raise _Refusal(
                _json(401, {"reason": "unauthenticated", "message": message},
                      WWW_Authenticate='Bearer realm="sealgate"'),
                "unauthenticated", message,
            )  # fmt: skip
        reasons: list[str] = []
        unavailable = False
        for cluster in clusters:
            try:
                identity = self._reviewer.review(cluster, token, self._audience)
            except CredentialRefused as exc:
                reasons.append(exc.reason)
                continue
            except BackendError as exc:
                # The message never holds the token (review_token's promise).
                log.warning("agents: %s", exc)
                unavailable = unavailable or exc.retryable
                continue
            wait = self._by_agent.take(identity.requester)
            if wait:
                raise _Refusal(
                    _limited(wait), "rate-limited", "too many requests",
                    actor=identity.requester,
                )  # fmt: skip
            return identity
        if unavailable and not reasons:
            raise BackendError("no cluster could review the token", retryable=True)
        # A token of one cluster is merely "invalid" in the others: say what its own said.
        reason = next((r for r in reasons if r != "invalid"), "invalid")
        message = f"the ServiceAccount token was refused ({reason})"
        raise _Refusal(
            _json(401, {"reason": reason, "message": message},
                  WWW_Authenticate='Bearer realm="sealgate"'),
            reason, message,
        )  # fmt: skip

    def _clusters(self, environment: str, asked: str | None) -> tuple[str, ...]:
        known = tuple(self._clusters_of(environment)) or self._reviewer.clusters()
        if asked is not None:
            return (asked,) if asked in known else ()
        return known

    def _owned(self, request: Request, request_id: str) -> tuple[AgentIdentity, AgentRequestRecord]:
        record = (
            self._records.agent_request(request_id) if REQUEST_ID.fullmatch(request_id) else None
        )
        clusters = self._clusters(record.environment, None) if record else self._reviewer.clusters()
        identity = self._identify(request, clusters)
        if record is None or record.requester != identity.requester:
            # Another agent's request is as absent as one never made.
            raise _Refusal(
                _json(404, {"message": f"no access request {request_id} of yours"}),
                "not-found", "asked for a request that is not theirs or does not exist",
                actor=identity.requester,
            )  # fmt: skip
        return identity, record

    # ------------------------------------------------------------------ handlers

    def _create(self, request: Request) -> Response:
        parsed = parse_ask(request)
        ask = parsed.ask
        identity = self._identify(request, self._clusters(ask.environment, parsed.cluster))
        key = request.headers.get("Idempotency-Key")
        if key is not None and not 1 <= len(key) <= IDEMPOTENCY_MAX:
            raise BadBody(f"Idempotency-Key: 1 to {IDEMPOTENCY_MAX} characters")
        try:
            record = self._flow.submit(identity, ask, key)
        except AgentNotAllowed as exc:
            raise _Refusal(
                _json(403, {"reason": "not-allowed", "message": str(exc)}),
                "not-allowed", str(exc), actor=identity.requester, environment=ask.environment,
            ) from None  # fmt: skip
        except AgentRequestInvalid as exc:
            raise _Refusal(
                _json(422, {"problems": list(exc.problems)}), "invalid",
                f"{len(exc.problems)} problem(s)",
                actor=identity.requester, environment=ask.environment,
            ) from None  # fmt: skip
        document = self._document(record)
        log.info("agents: %s asked for access: request %s", identity.requester, record.id)
        return _json(
            202, document, ETag=etag_of(document), Location=f"/v1/access-requests/{record.id}"
        )

    def _document(self, record: AgentRequestRecord) -> dict[str, Any]:
        current = self._records.agent_request(record.id) or record
        grant_id = grant_id_of(current)
        grant = self._grant_of(grant_id) if grant_id is not None else None
        passed = self._pass_of(current.pull_number) if current.pull_number is not None else None
        return status_document(current, passed, grant, self._clock())

    def _get(self, request: Request, request_id: str) -> Response:
        wait_s = parse_wait(request.args.get("wait"), self._max_wait_s)
        _, record = self._owned(request, request_id)
        seen = request.headers.get("If-None-Match")
        version = self._flow.version
        document = self._document(record)
        etag = etag_of(document)
        baseline = seen or etag
        deadline = self._ticks() + wait_s
        refresh = self._ticks() + POLL_SLICE_S
        while wait_s and etag == baseline:
            remaining = deadline - self._ticks()
            if remaining <= 0:
                break
            seen_version = version
            version = self._flow.wait_changed(version, min(remaining, refresh - self._ticks()))
            if version == seen_version and self._ticks() < refresh:
                continue
            refresh = self._ticks() + POLL_SLICE_S
            document = self._document(record)
            etag = etag_of(document)
        if seen is not None and seen == etag:
            return _json(304, None, ETag=etag)
        return _json(200, document, ETag=etag)

    def _open(self, request: Request, request_id: str) -> Response:
        identity, record = self._owned(request, request_id)
        parsed = parse_open(request)
        document = self._document(record)
        state = document["status"]
        if state not in ("approved", "active"):
            code = {"pending": "not-approved"}.get(state, state)
            message = f"request {record.id} is {state}: " + (
                "wait for its approval (GET it with ?wait=)"
                if state == "pending"
                else "ask again with a new request"
            )
            raise _Refusal(
                _json(403, {"reason": code, "message": message}), code, message,
                actor=identity.requester, environment=record.environment,
            )  # fmt: skip
        names = [item["secret"] for item in document["secrets"]]
        secret = parsed.secret or (names[0] if len(names) == 1 else None)
        if secret is None or secret not in names:
            raise BadBody("secret: name one of the request's secrets")
        grant = document.get("grant") or {}
        if not grant.get("id"):
            message = f"request {record.id} is approved but its grant is not recorded yet"
            return _json(403, {"reason": "not-approved", "message": message + "; try again"})
        try:
            opened = self._opener.open(
                identity.requester, record.environment, secret, parsed.keys,
                parsed.public_key, nonce=parsed.nonce, grant_id=str(grant["id"]),
            )  # fmt: skip
        except AccessRefused as refused:
            return _json(403, {"reason": refused.reason_code, "message": refused.message})
        self._flow.notify()
        log.info("agents: %s opened %s of request %s", identity.requester, secret, record.id)
        return _json(
            200,
            {
                "grant": opened.grant_id,
                "endsAt": _time(opened.ends_at),
                "keys": list(opened.keys),
                "sealed": opened.sealed,
                "nonce": parsed.nonce,
            },
        )


def _limited(wait: int) -> Response:
    return _json(429, {"message": f"too many requests; retry in {wait}s"}, Retry_After=str(wait))
