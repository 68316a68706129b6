"""``POST /v1/open``: an approved grant's values, sealed to the caller's fresh key.

Request: ``Authorization: Bearer <GitHub token>`` and a JSON body ``{"environment",
"secret", "keys"?, "publicKey", "nonce"?}``. Answers (always ``Cache-Control: no-store``):

- 200 ``{"grant", "endsAt", "keys", "sealed", "nonce"}`` (``sealed``: a
  ``controller.crypto.caller_box`` box only the caller's private key opens);
- 400 a malformed body (the field is named; the body is never echoed);
- 401 no token, or a token GitHub refuses (``WWW-Authenticate: Bearer``);
- 403 refused, with ``reason`` (a stable code) and ``message`` (why, and what to do). A
  secret that does not exist is refused exactly like one the caller has no grant for;
- 429 too many requests from this client address (checked before authentication) or
  this login (after), with ``Retry-After``;
- 503 GitHub or the store cannot answer now (``Retry-After``).

Neither the token nor the body ever reaches a log line or an answer.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from controller.crypto.caller_box import REQUEST_NONCE, load_caller_key, new_request_nonce
from controller.errors import BackendError, ConflictError, SealedValueError, Unauthenticated
from controller.reconciler.access_open import AccessRefused, Opened
from controller.server.ratelimit import RateLimiter

log = logging.getLogger("sealgate.open")

MAX_BODY_BYTES = 16 * 1024
MAX_KEYS = 256
_ENVIRONMENT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_SECRET = re.compile(r"[a-z0-9][a-z0-9.-]{0,252}/[a-z0-9][a-z0-9.-]{0,252}")
_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")
_FIELDS = frozenset({"environment", "secret", "keys", "publicKey", "nonce"})


class Identities(Protocol):
    """Who a token belongs to (``controller.github.identity.GitHubIdentities``)."""

    def login_of(self, token: str) -> str: ...


class Opener(Protocol):
    """``controller.reconciler.access_open.AccessOpener``."""

    def open(
        self,
        login: str,
        environment: str,
        secret: str,
        keys: Sequence[str],
        caller_public_key: X25519PublicKey,
        *,
        nonce: str,
        grant_id: str | None = None,
    ) -> Opened: ...


class BadBody(Exception):
    """The body is not a valid open request; the message names the field, never a value."""


def _json(status: int, body: Mapping[str, Any], **headers: str) -> Response:
    response = Response(
        json.dumps(body, sort_keys=True) + "\n", status=status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def _time(moment: Any) -> str:
    return str(moment.isoformat()).replace("+00:00", "Z")


class OpenApi:
    """The ``/v1/open`` handler; thread-safe."""

    def __init__(
        self,
        *,
        identities: Identities,
        opener: Opener,
        rate_per_minute: int,
        address_rate_per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        self._refused = on_refused or (lambda reason: None)
        """Counts refusals the opener never sees (unauthenticated, rate limited)."""
        self._identities = identities
        self._opener = opener
        self._by_address = RateLimiter(address_rate_per_minute or rate_per_minute, clock=clock)
        self._by_login = RateLimiter(rate_per_minute, clock=clock)

    def handle(self, request: Request) -> Response:
        wait = self._by_address.take(request.remote_addr or "?")
        if wait:
            self._refused("rate-limited")
            return _limited(wait)
        token = _bearer(request.headers.get("Authorization", ""))
        if token is None:
            self._refused("unauthenticated")
            return _json(
                401,
                {"message": "send Authorization: Bearer <GitHub token> (e.g. `gh auth token`)"},
                WWW_Authenticate='Bearer realm="sealgate"',
            )
        try:
            login = self._identities.login_of(token)
        except Unauthenticated as exc:
            self._refused("unauthenticated")
            return _json(401, {"message": str(exc)}, WWW_Authenticate='Bearer realm="sealgate"')
        except BackendError as exc:
            log.warning("open: cannot identify the caller: %s", exc)
            return _json(
                503,
                {"message": "GitHub cannot confirm who you are right now; try again"},
                Retry_After="5",
            )
        wait = self._by_login.take(login.lower())
        if wait:
            self._refused("rate-limited")
            return _limited(wait)
        try:
            environment, secret, keys, public_key, nonce = _parse(request)
        except BadBody as exc:
            return _json(400, {"message": str(exc)})
        try:
            opened = self._opener.open(login, environment, secret, keys, public_key, nonce=nonce)
        except AccessRefused as refused:
            log.info(
                "open refused: %s asked for %s/%s: %s",
                login,
                environment,
                secret,
                refused.reason_code,
            )
            return _json(403, {"reason": refused.reason_code, "message": refused.message})
        except (BackendError, ConflictError) as exc:
            log.warning("open: %s/%s for %s failed: %s", environment, secret, login, exc)
            return _json(
                503, {"message": "the store cannot answer right now; try again"}, Retry_After="5"
            )
        except Exception:
            # The caller learns nothing of the cause; the operator's log has it (sealgate's
            # errors never carry a value, so neither does the traceback's message).
            log.exception("open: %s/%s for %s failed", environment, secret, login)
            return _json(500, {"message": "the controller failed; its log says why"})
        log.info(
            "open: %s opened %s/%s keys %s under grant %s",
            login,
            environment,
            secret,
            ",".join(opened.keys),
            opened.grant_id,
        )
        return _json(
            200,
            {
                "grant": opened.grant_id,
                "endsAt": _time(opened.ends_at),
                "keys": list(opened.keys),
                "sealed": opened.sealed,
                "nonce": nonce,
            },
        )


def _limited(wait: int) -> Response:
    return _json(429, {"message": f"too many requests; retry in {wait}s"}, Retry_After=str(wait))


def _bearer(header: str) -> str | None:
    scheme, _, credential = header.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() not in ("bearer", "token") or not credential:
        return None
    return credential


def _parse(request: Request) -> tuple[str, str, tuple[str, ...], X25519PublicKey, str]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadBody(f"the body is larger than {MAX_BODY_BYTES} bytes")
    # Bounds a chunked body too, which carries no Content-Length to check first.
    request.max_content_length = MAX_BODY_BYTES
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge as exc:
        raise BadBody(f"the body is larger than {MAX_BODY_BYTES} bytes") from exc
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: deeply nested arrays
        raise BadBody("the body is not JSON; send {environment, secret, publicKey}") from exc
    if not isinstance(body, dict):
        raise BadBody("the body must be a JSON object {environment, secret, publicKey}")
    if set(body) - _FIELDS:
        # Not named: a misplaced field may be anything, a pasted value included.
        raise BadBody(f"unknown field(s), not shown; allowed: {', '.join(sorted(_FIELDS))}")
    environment = _text(body, "environment", _ENVIRONMENT, "an environment name, e.g. production")
    secret = _text(body, "secret", _SECRET, "<namespace>/<name>, e.g. payments/stripe")
    keys = body.get("keys", [])
    if not isinstance(keys, list) or len(keys) > MAX_KEYS:
        raise BadBody(f"keys: must be a list of at most {MAX_KEYS} key names")
    for key in keys:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise BadBody("keys: each must match [-._a-zA-Z0-9]+ (the key is not shown)")
    public_text = body.get("publicKey")
    if not isinstance(public_text, str):
        raise BadBody("publicKey: required, standard base64 of a fresh 32-byte X25519 key")
    try:
        public_key = load_caller_key(public_text)
    except SealedValueError as exc:
        raise BadBody("publicKey: must be standard base64 of a 32-byte X25519 key") from exc
    nonce = body.get("nonce")
    if nonce is None:
        nonce = new_request_nonce()
    elif not isinstance(nonce, str) or not REQUEST_NONCE.fullmatch(nonce):
        raise BadBody("nonce: must be 16 to 128 url-safe base64 characters")
    return environment, secret, tuple(dict.fromkeys(keys)), public_key, nonce


def _text(body: Mapping[str, Any], field: str, pattern: re.Pattern[str], want: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadBody(f"{field}: required, {want} (the value given is not shown)")
    return value
