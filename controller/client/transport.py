"""One HTTP exchange with the controller, on the standard library alone.

Redirects are not followed: a redirect would carry the ServiceAccount token to wherever it
points. Every error answer becomes the dedicated error of its status, with the server's
short reason; the server's text is scrubbed of the token before it is kept, so a proxy or a
debugging server that echoes the request cannot put the token into an agent's logs.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

from controller.client.errors import (
    ApiError,
    ClientError,
    Forbidden,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    ProtocolError,
    RateLimited,
    Unavailable,
)

MAX_ANSWER_BYTES = 1 << 20
_MAX_MESSAGE = 300


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ProtocolError(
                f"the answer ({self.status}) is not JSON; is this a sealgate?"
            ) from exc


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def opener(ca_file: str | None = None) -> urllib.request.OpenerDirector:
    """What sends the requests: no redirects; ``ca_file`` trusts an internal CA (PEM) on top
    of nothing else, as an in-cluster service's certificate usually needs."""
    handlers: list[urllib.request.BaseHandler] = [_NoRedirects()]
    if ca_file is not None:
        context = ssl.create_default_context(cafile=ca_file)
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return urllib.request.build_opener(*handlers)


_DEFAULT_OPENER = opener()


def check_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError(
            f"api_url must be an http(s) URL, e.g. https://sealgate.internal: {url!r}"
        )
    if parts.query or parts.fragment:
        raise ClientError("api_url must not carry a query or fragment")
    return url.rstrip("/")


def exchange(
    method: str,
    url: str,
    *,
    token: str,
    body: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float,
    sender: urllib.request.OpenerDirector | None = None,
) -> Answer:
    """The answer to one request (any status); ``Unavailable`` when nothing answered."""
    sent = {"Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=sent, method=method)  # noqa: S310 - checked http(s)
    try:
        with (sender or _DEFAULT_OPENER).open(request, timeout=timeout) as response:
            return Answer(response.status, _headers(response.headers), _read(response))
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, _headers(exc.headers), _read(exc))
    except (urllib.error.URLError, OSError) as exc:
        # Unchained: a URLError's text is harmless, but its cause may hold the request.
        raise Unavailable(
            f"cannot reach {_shown(url)}: {type(exc).__name__}", status=0, retry_after=None
        ) from None


def raise_for(answer: Answer, *, token: str, what: str) -> None:
    """The dedicated error of an error answer; nothing for 2xx and 304."""
    status = answer.status
    if 200 <= status < 300 or status == 304:
        return
    document = _document(answer)
    reason = _scrub(_text(document.get("reason")), token) or None
    message = _scrub(_text(document.get("message")), token)
    said = f" ({reason})" if reason else ""
    tail = f": {message}" if message else ""
    if status == 401:
        raise NotAuthenticated(
            f"{what}: the token was refused{said}{tail}; mount a fresh projected token whose "
            "audience is the controller's api.agents.audience",
            status=status,
            reason=reason,
        )
    if status == 403:
        raise Forbidden(f"{what}: refused{said}{tail}", status=status, reason=reason)
    if status == 404:
        raise NotFound(
            f"{what}: not found (no such request for this ServiceAccount, or the agents API "
            "is off: api.agents.enabled)",
            status=status,
            reason=reason,
        )
    if status == 422:
        problems = document.get("problems")
        found = [_scrub(_text(p), token) for p in problems] if isinstance(problems, list) else []
        raise InvalidRequest(
            f"{what}: invalid: " + ("; ".join(found) or message or "no details"),
            status=status,
            problems=found,
        )
    retry_after = _retry_after(answer.headers.get("Retry-After"))
    if status == 429:
        raise RateLimited(
            f"{what}: rate limited; try again in {_seconds(retry_after)}",
            status=status,
            retry_after=retry_after,
        )
    if status in (502, 503, 504):
        raise Unavailable(
            f"{what}: the controller cannot reach GitHub or a cluster ({status}){tail}; try "
            f"again in {_seconds(retry_after)}",
            status=status,
            retry_after=retry_after,
        )
    raise ApiError(
        f"{what}: the server answered {status}{said}{tail}", status=status, reason=reason
    )


def _read(response: Any) -> bytes:
    data: bytes = response.read(MAX_ANSWER_BYTES + 1)
    if len(data) > MAX_ANSWER_BYTES:
        raise ProtocolError("the answer is larger than 1 MiB; is this a sealgate?")
    return data


def _headers(message: Message | None) -> dict[str, str]:
    if message is None:
        return {}
    return {key.title(): value for key, value in message.items()}


def _document(answer: Answer) -> Mapping[str, Any]:
    try:
        document = json.loads(answer.body)
    except ValueError:
        return {}
    return document if isinstance(document, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _scrub(text: str, token: str) -> str:
    if token and token in text:
        text = text.replace(token, "[token]")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text[:_MAX_MESSAGE]


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 86400 else None


def _seconds(value: float | None) -> str:
    return f"{value:g}s" if value is not None else "a few seconds"


def _shown(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
