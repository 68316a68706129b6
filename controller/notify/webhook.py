"""POST a JSON payload to a Slack or Teams incoming webhook, with ``requests``.

A webhook URL is a bearer credential: anyone holding its path can post into the channel.
So the path never leaves this module: labels and messages name the host only, ``requests``'
own exception texts (which quote the URL) are never repeated, redirects are not followed,
and plain ``http`` is refused except on loopback.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from controller.notify.retry import DeliveryError

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_BODY_EXCERPT = 100


def webhook_host(url: str) -> str:
    """The host (and port) of a webhook URL: the only part of it that is safe to show."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "an unparseable URL"
    if not host:
        return "an unparseable URL"
    return f"{host}:{port}" if port else host


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return
    raise DeliveryError(
        "webhook URL must be https (plain http is allowed on loopback only); "
        "fix the policy's notify list",
        retryable=False,
    )


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _excerpt(response: requests.Response, url: str) -> str:
    text = " ".join(response.text.split())[:_BODY_EXCERPT]
    path = urlsplit(url).path
    # A server echoing the request line back must not smuggle the credential into a log.
    if len(path) > 1:
        text = text.replace(path, "/…")
    return f": {text}" if text else ""


def post_webhook(
    session: requests.Session, url: str, payload: dict[str, Any], *, timeout_s: float
) -> None:
    """Deliver one payload; raise :class:`DeliveryError` saying whether a retry can help."""
    _check_url(url)
    try:
        response = session.post(url, json=payload, timeout=timeout_s, allow_redirects=False)
    except requests.Timeout as exc:
        # The message may have arrived anyway; a duplicate beats a lost break-glass alert.
        raise DeliveryError("webhook timed out", retryable=True) from exc
    except requests.ConnectionError as exc:
        raise DeliveryError("could not connect to the webhook", retryable=True) from exc
    except requests.RequestException as exc:
        raise DeliveryError(
            f"webhook request failed ({type(exc).__name__})", retryable=False
        ) from exc
    with response:
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 429 or status >= 500:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            asked = "" if retry_after is None else f" (Retry-After {retry_after:.0f} s)"
            raise DeliveryError(
                f"webhook answered HTTP {status}{asked}",
                retryable=True,
                retry_after_s=retry_after,
            )
        if status == 408:
            raise DeliveryError("webhook answered HTTP 408", retryable=True)
        raise DeliveryError(
            f"webhook refused the message with HTTP {status}{_excerpt(response, url)}",
            retryable=False,
        )
