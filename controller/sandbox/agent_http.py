"""An agent's HTTP calls to the controller, plain urllib as a script with curl would make.

Any status is an answer (the story checks it); a 429 or 503 is asked again after its
``Retry-After``, as a well-behaved agent does, for as long as the caller's patience lasts.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.sandbox.observe import StoryFailed

RETRIED = frozenset({429, 503})


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    etag: str = ""
    retry_after: str = ""


@dataclass(frozen=True)
class AgentHttp:
    base_url: str
    patience: float
    """Seconds one call may spend asking again after 429 or 503."""
    timeout: float = 60.0
    """Seconds one request may take (a long poll included)."""

    def call(
        self,
        method: str,
        path: str,
        token: str,
        body: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        deadline = time.monotonic() + self.patience
        while True:
            answer = self.once(method, path, token, body, headers)
            wait = retry_after(answer)
            if wait is None or time.monotonic() + wait > deadline:
                return answer
            time.sleep(wait)

    def once(
        self,
        method: str,
        path: str,
        token: str,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the sandbox's own loopback URL
            self.base_url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, raw, found = response.status, response.read(), response.headers
        except urllib.error.HTTPError as refused:
            status, raw, found = refused.code, refused.read(), refused.headers
        except OSError as exc:
            # The step is named by the path only: the body may hold what was asked for.
            raise StoryFailed(f"{method} {path.partition('?')[0]}", f"no answer: {exc}") from exc
        return Answer(
            status,
            json.loads(raw) if raw else {},
            found.get("ETag") or "",
            found.get("Retry-After") or "",
        )


def retry_after(answer: Answer) -> float | None:
    """Seconds to wait before asking again, or None when the answer is final."""
    if answer.status not in RETRIED:
        return None
    try:
        return max(0.0, float(answer.retry_after or "1"))
    except ValueError:
        return 1.0
