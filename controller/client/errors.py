"""What the agents API client raises.

Every message says what happened and what to do, with the server's short ``reason`` where
it gave one; none ever holds the token (the server's text is scrubbed of it before it is
kept) or a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from controller.errors import SealgateError

if TYPE_CHECKING:
    from controller.client.status import AccessRequestStatus


class ClientError(SealgateError):
    """Base of the client's errors. ``status`` is the HTTP status when there was one."""

    status: int | None = None


class TokenFileError(ClientError):
    """The token file is missing, unreadable or empty (its path is named, never its text)."""


class ProtocolError(ClientError):
    """The answer is not what the contract says: a proxy in the way, or not a sealgate."""


class ApiError(ClientError):
    """The server answered with an error status; ``reason`` is its short stable word."""

    def __init__(self, message: str, *, status: int, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class NotAuthenticated(ApiError):
    """401: the token was refused (``reason``: ``expired``, ``audience``, ``invalid``...)."""


class Forbidden(ApiError):
    """403: this ServiceAccount may not ask for that, or the request cannot be opened
    (``reason``: ``not-approved``, ``denied``, ``lapsed``, ``ended``, ``revoked``...)."""


class NotFound(ApiError):
    """404: no such request for this requester, or the agents API is off."""


class InvalidRequest(ApiError):
    """422: the request would be an invalid AccessRequest file; ``problems`` says why."""

    def __init__(self, message: str, *, status: int, problems: Sequence[str]) -> None:
        super().__init__(message, status=status, reason="invalid")
        self.problems: tuple[str, ...] = tuple(problems)


class RateLimited(ApiError):
    """429: too many requests; ``retry_after`` seconds (None when the server gave none)."""

    def __init__(self, message: str, *, status: int, retry_after: float | None) -> None:
        super().__init__(message, status=status, reason="rate-limited")
        self.retry_after = retry_after


class Unavailable(ApiError):
    """503 (or a connection that failed): GitHub or a cluster is down; try again later."""

    def __init__(self, message: str, *, status: int, retry_after: float | None) -> None:
        super().__init__(message, status=status, reason="unavailable")
        self.retry_after = retry_after


class WaitTimedOut(ClientError, TimeoutError):
    """``wait`` gave up: the request is still pending. ``last`` is its latest status."""

    def __init__(self, message: str, *, request_id: str, last: AccessRequestStatus) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.last = last


class RequestClosed(ClientError):
    """The request ended without a usable grant (denied, expired, lapsed, ended, revoked)."""

    def __init__(self, message: str, *, request: AccessRequestStatus) -> None:
        super().__init__(message)
        self.request = request


class ApprovalRequired(Exception):
    """The request waits for approvers: queue the task and resume it once approved.

    Not a failure, hence not a :class:`ClientError`: ``request_id`` is what to keep (poll it
    with ``status``/``wait``, or call ``access`` again with the same idempotency key).
    """

    def __init__(
        self, request_id: str, status: AccessRequestStatus, pull_request_url: str | None
    ) -> None:
        where = f" ({pull_request_url})" if pull_request_url else ""
        super().__init__(
            f"access request {request_id} waits for approval{where}: "
            f"{status.current_approvals} of {status.required_approvals} approvals"
        )
        self.request_id = request_id
        self.status = status
        self.pull_request_url = pull_request_url
