"""The agents API client: what an agent installs to ask sealgate for access.

Standard library only (plus ``cryptography`` for the caller box); it imports nothing of the
controller beyond its caller box, model and errors (an import-linter contract says so)::

    client = SealgateClient("https://sealgate.internal", "/var/run/secrets/sealgate/token")
    try:
        values = client.access("production", "payments/stripe", reason="...", duration="5m")
    except ApprovalRequired as waiting:
        queue_for_later(task, waiting.request_id)  # resume with client.open(request_id)
"""

from controller.client.aio import AsyncSealgateClient
from controller.client.errors import (
    ApiError,
    ApprovalRequired,
    ClientError,
    Forbidden,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    ProtocolError,
    RateLimited,
    RequestClosed,
    TokenFileError,
    Unavailable,
    WaitTimedOut,
)
from controller.client.status import (
    AccessRequestStatus,
    GrantInfo,
    PullRequestRef,
    RequestState,
    parse_status,
)
from controller.client.sync import OpenedGrant, SealgateClient, SecretValues, duration_text

__all__ = [
    "AccessRequestStatus",
    "ApiError",
    "ApprovalRequired",
    "AsyncSealgateClient",
    "ClientError",
    "Forbidden",
    "GrantInfo",
    "InvalidRequest",
    "NotAuthenticated",
    "NotFound",
    "OpenedGrant",
    "ProtocolError",
    "PullRequestRef",
    "RateLimited",
    "RequestClosed",
    "RequestState",
    "SealgateClient",
    "SecretValues",
    "TokenFileError",
    "Unavailable",
    "WaitTimedOut",
    "duration_text",
    "parse_status",
]
