"""An agent's access request as the store keeps it: a plain value, no I/O.

The idempotency key is kept only as a digest: it is the caller's string and may be
anything, a pasted credential included.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

REQUEST_ID = re.compile(r"agent-[a-z2-7]{12}")


def content_digest(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def idempotency_digest(requester: str, key: str) -> str:
    """Keys are per requester: two agents using the same key ask for different things."""
    return "sha256:" + hashlib.sha256(f"{requester}\0{key}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AgentRequestRecord:
    id: str
    environment: str
    requester: str
    path: str
    """``access/<env>/<id>.yaml``: the file of the pull request."""
    content: bytes
    """The file's bytes, exactly as the pull request must carry them."""
    created_at: datetime
    idempotency: str | None = None
    """``idempotency_digest`` of the caller's key, when one was sent."""
    tier: str = ""
    """The highest tier of the secrets asked for, when it was asked."""
    pull_number: int | None = None
    pull_url: str | None = None
    state: str | None = None
    """None while the pull request decides; ``denied`` or ``expired`` once it has."""
    resolution: str | None = None
    """Why it was denied (a reviewer's words, withheld when they look like a credential)."""
    resolved_at: datetime | None = None

    @property
    def digest(self) -> str:
        return content_digest(self.content)
