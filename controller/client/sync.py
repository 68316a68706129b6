"""``SealgateClient``: an agent asks for access, waits for it, and opens the values.

The token file is read again on every call: a projected ServiceAccount token is rotated by
the kubelet, and a client that kept the first one would fail an hour later. The client
never holds the token longer than one call and never shows it; the values it opens live in
a :class:`SecretValues`, whose repr names the keys only.
"""

from __future__ import annotations

import math
import os
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from controller.client.errors import (
    ApprovalRequired,
    ClientError,
    ProtocolError,
    RateLimited,
    RequestClosed,
    TokenFileError,
    Unavailable,
    WaitTimedOut,
)
from controller.client.status import AccessRequestStatus, parse_status
from controller.client.transport import Answer, check_base_url, exchange, opener, raise_for
from controller.crypto.caller_box import (
    caller_public_text,
    new_caller_key,
    new_request_nonce,
    open_for_caller,
)
from controller.errors import SealedValueError
from controller.model import SecretAccess

DEFAULT_TIMEOUT_S = 30.0
LONG_POLL_S = 60.0
"""Asked of the server per long poll; it caps the wait at its own ``api.agents.maxWait``."""
MIN_POLL_INTERVAL_S = 1.0
"""An unchanged answer that came back sooner (a server that does not long-poll) waits this
long before the next one, so ``wait`` never spins."""
MAX_TOKEN_BYTES = 16 * 1024
_CACHED_IDS = 256

SecretSpec = str | SecretAccess
"""``"payments/stripe"`` (every key) or ``SecretAccess("payments/stripe", ("KEY",))``."""


class SecretValues(dict[str, bytes]):
    """Opened values, key -> bytes. Its repr names the keys, never a value."""

    def __repr__(self) -> str:
        return f"SecretValues(keys={sorted(self)!r})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class OpenedGrant:
    grant: str
    ends_at: str
    environment: str
    secret: str
    values: SecretValues = field(repr=False)


def duration_text(value: str | timedelta) -> str:
    """``5m``/``1h`` as AccessRequest files write durations; a timedelta in whole minutes."""
    if isinstance(value, str):
        return value
    minutes = math.ceil(value.total_seconds() / 60)
    if minutes <= 0:
        raise ValueError("a duration must be at least one minute")
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def secrets_body(secrets: Iterable[SecretSpec]) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = []
    for item in secrets:
        access = SecretAccess(item) if isinstance(item, str) else item
        entry: dict[str, Any] = {"secret": access.secret}
        if access.keys:
            entry["keys"] = list(access.keys)
        body.append(entry)
    if not body:
        raise ValueError("name at least one secret, e.g. 'payments/stripe'")
    return body


class SealgateClient:
    """The agents API of one controller, as one ServiceAccount (its projected token file).

    Thread-safe: the ETag cache is guarded, and nothing else is shared between calls.
    """

    def __init__(
        self,
        api_url: str,
        token_file: str | os.PathLike[str],
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        poll_interval: float = MIN_POLL_INTERVAL_S,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> None:
        """``ca_file``: a PEM bundle to verify the controller's certificate with instead of
        the system's (an internal CA, e.g. the cluster's service CA)."""
        self.api_url = check_base_url(api_url)
        try:
            self._sender = opener(os.fspath(ca_file) if ca_file is not None else None)
        except (OSError, ssl.SSLError) as exc:
            raise ClientError(f"cannot load the CA file {ca_file}: {exc}") from None
        self.token_file = Path(token_file)
        self.timeout = timeout
        self.poll_interval = poll_interval
        self._cache: OrderedDict[str, AccessRequestStatus] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SealgateClient(api_url={self.api_url!r}, token_file={str(self.token_file)!r})"

    # --- the API -------------------------------------------------------------------------

    def request_access(
        self,
        environment: str,
        secrets: Sequence[SecretSpec],
        reason: str,
        duration: str | timedelta,
        activate_within: str | timedelta = "1h",
        *,
        idempotency_key: str | None = None,
        cluster: str | None = None,
    ) -> AccessRequestStatus:
        """Ask for access (``POST /v1/access-requests``): the new request's status, or, with
        an ``idempotency_key`` used before, the request it made then."""
        body: dict[str, Any] = {
            "environment": environment,
            "secrets": secrets_body(secrets),
            "reason": reason,
            "duration": duration_text(duration),
            "activateWithin": duration_text(activate_within),
        }
        if cluster is not None:
            body["cluster"] = cluster
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        answer, token = self._call("POST", "/v1/access-requests", body=body, headers=headers)
        raise_for(answer, token=token, what=f"access request for {environment}")
        if answer.status not in (200, 201, 202):
            raise ProtocolError(f"POST /v1/access-requests answered {answer.status}, not 202")
        return self._remember(parse_status(answer.json(), etag=answer.headers.get("Etag")))

    def status(self, request_id: str) -> AccessRequestStatus:
        """The request's status; asked with the last ETag, so an unchanged one costs a 304."""
        return self._status(request_id, wait_s=None)

    def wait(self, request_id: str, timeout: float) -> AccessRequestStatus:
        """Long-poll until the request is granted or closed; ``WaitTimedOut`` after
        ``timeout`` seconds of pending. Rate limits and outages are waited out inside it."""
        deadline = time.monotonic() + timeout
        current = self._patient(request_id, None, deadline)
        while current.is_pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimedOut(
                    f"access request {request_id} still waits for approval after {timeout:g}s",
                    request_id=request_id,
                    last=current,
                )
            asked = time.monotonic()
            latest = self._patient(request_id, min(remaining, LONG_POLL_S), deadline)
            if latest.etag == current.etag and latest.is_pending:
                pause = self.poll_interval - (time.monotonic() - asked)
                if pause > 0:
                    time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            current = latest
        return current

    def open(
        self, request_id: str, keys: Sequence[str] | None = None, *, secret: str | None = None
    ) -> SecretValues:
        """The granted values (``keys``: only these), sealed to a key made for this call."""
        return self.open_grant(request_id, keys, secret=secret).values

    def open_grant(
        self, request_id: str, keys: Sequence[str] | None = None, *, secret: str | None = None
    ) -> OpenedGrant:
        """As :meth:`open`, with the grant's id and end. ``secret`` is needed only when the
        request names several secrets (one open answers for one)."""
        known = self.status(request_id)
        names = [item.secret for item in known.secrets]
        if secret is not None and names and secret not in names:
            raise ClientError(f"access request {request_id} names {', '.join(names)}, not {secret}")
        secret = secret or _only_secret(known)
        private_key = new_caller_key()
        nonce = new_request_nonce()
        body: dict[str, Any] = {"publicKey": caller_public_text(private_key), "nonce": nonce}
        if keys:
            body["keys"] = list(keys)
        if len(known.secrets) > 1:
            body["secret"] = secret
        answer, token = self._call("POST", f"{_path(request_id)}/open", body=body)
        raise_for(answer, token=token, what=f"open {request_id}")
        document = answer.json()
        grant = document.get("grant") if isinstance(document, dict) else None
        sealed = document.get("sealed") if isinstance(document, dict) else None
        if not isinstance(grant, str) or not isinstance(sealed, str):
            raise ProtocolError(f"open {request_id}: the answer lacks grant or sealed")
        if known.grant is not None and grant != known.grant.id:
            raise ProtocolError(
                f"open {request_id}: answered for grant {grant[:80]!r}, not {known.grant.id!r}"
            )
        try:
            values = open_for_caller(
                sealed,
                private_key,
                grant_id=grant,
                environment=known.environment,
                secret=secret,
                nonce=nonce,
            )
        except SealedValueError as exc:
            raise ProtocolError(f"open {request_id}: {exc}") from exc
        return OpenedGrant(
            grant=grant,
            ends_at=str(document.get("endsAt", "")),
            environment=known.environment,
            secret=secret,
            values=SecretValues(values),
        )

    def access(
        self,
        environment: str,
        secret: SecretSpec,
        *,
        reason: str,
        duration: str | timedelta,
        activate_within: str | timedelta = "1h",
        idempotency_key: str | None = None,
        cluster: str | None = None,
    ) -> SecretValues:
        """The values when access is granted at once; ``ApprovalRequired`` when it waits.

        The non-blocking pattern: catch ``ApprovalRequired``, queue the task with its
        ``request_id``, and resume it once ``status``/``wait`` says granted (``open``), or
        call ``access`` again with the same ``idempotency_key``: the same request answers.
        ``RequestClosed`` when it was denied, expired or is over.
        """
        status = self.request_access(
            environment,
            [secret],
            reason,
            duration,
            activate_within,
            idempotency_key=idempotency_key,
            cluster=cluster,
        )
        if status.is_granted:
            return self.open(status.id)
        if status.is_pending:
            raise ApprovalRequired(status.id, status, status.pull_request_url)
        raise RequestClosed(
            f"access request {status.id} is {status.state.value}"
            + (f": {status.denial_reason}" if status.denial_reason else ""),
            request=status,
        )

    # --- plumbing ------------------------------------------------------------------------

    def _status(self, request_id: str, *, wait_s: float | None) -> AccessRequestStatus:
        with self._lock:
            cached = self._cache.get(request_id)
        headers = {"If-None-Match": cached.etag} if cached is not None and cached.etag else {}
        path = _path(request_id)
        timeout = self.timeout
        if wait_s is not None:
            path += f"?wait={max(1, math.ceil(wait_s))}s"
            timeout += wait_s
        answer, token = self._call("GET", path, headers=headers, timeout=timeout)
        raise_for(answer, token=token, what=f"status of {request_id}")
        if answer.status == 304:
            if cached is None:
                raise ProtocolError(f"status of {request_id}: 304 to a question without ETag")
            return cached
        if answer.status != 200:
            raise ProtocolError(f"status of {request_id}: answered {answer.status}, not 200")
        status = parse_status(answer.json(), etag=answer.headers.get("Etag"))
        if status.id != request_id:
            raise ProtocolError(f"status of {request_id}: the answer is about {status.id!r}")
        return self._remember(status)

    def _patient(
        self, request_id: str, wait_s: float | None, deadline: float
    ) -> AccessRequestStatus:
        """``_status``, sleeping out 429 and 503 while the deadline allows."""
        while True:
            try:
                return self._status(request_id, wait_s=wait_s)
            except (RateLimited, Unavailable) as exc:
                pause = exc.retry_after if exc.retry_after is not None else 2.0
                if time.monotonic() + pause >= deadline:
                    raise
                time.sleep(pause)

    def _remember(self, status: AccessRequestStatus) -> AccessRequestStatus:
        with self._lock:
            self._cache[status.id] = status
            self._cache.move_to_end(status.id)
            while len(self._cache) > _CACHED_IDS:
                self._cache.popitem(last=False)
        return status

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[Answer, str]:
        token = self._token()
        answer = exchange(
            method,
            self.api_url + path,
            token=token,
            body=body,
            headers=headers,
            timeout=timeout or self.timeout,
            sender=self._sender,
        )
        return answer, token

    def _token(self) -> str:
        try:
            with self.token_file.open("rb") as handle:
                raw = handle.read(MAX_TOKEN_BYTES + 1)
        except OSError as exc:
            raise TokenFileError(
                f"cannot read the token file {self.token_file}: {exc.strerror or 'unreadable'};"
                " mount a projected serviceAccountToken volume there"
            ) from None
        token = raw.decode("ascii", errors="replace").strip()
        if not token or len(raw) > MAX_TOKEN_BYTES or "\ufffd" in token or "\n" in token:
            raise TokenFileError(
                f"the token file {self.token_file} does not hold one token (empty, too long "
                "or not ASCII); mount a projected serviceAccountToken volume there"
            )
        return token


def _path(request_id: str) -> str:
    if not request_id or "/" in request_id or len(request_id) > 128:
        raise ClientError(f"not a request id: {request_id[:40]!r} (e.g. agent-abcdefghijkl)")
    return f"/v1/access-requests/{quote(request_id, safe='')}"


def _only_secret(status: AccessRequestStatus) -> str:
    if len(status.secrets) == 1:
        return status.secrets[0].secret
    names = ", ".join(s.secret for s in status.secrets) or "none"
    raise ClientError(
        f"access request {status.id} names several secrets ({names}): say which to open"
    )
