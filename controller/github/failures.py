"""Turn PyGithub's and the HTTP stack's exceptions into sealgate's own error types.

Every call into PyGithub goes through :func:`github_errors`, so the rest of sealgate only
ever sees :class:`~controller.errors.GitHubError` (with ``retryable`` set from the status)
or :class:`~controller.errors.ConflictError`. Messages carry GitHub's own explanation and
the operation's name: GitHub never echoes secret values, and sealgate never sends any.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from github import GithubException
from github.GithubException import (
    BadCredentialsException,
    RateLimitExceededException,
    UnknownObjectException,
)

from controller.errors import ConflictError, GitHubError

# 409 is a conflict only where GitHub uses it for "the head moved" (merge): elsewhere it is
# an ordinary refusal, so callers opt in through ``conflict_on_409``.
_RETRYABLE_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))


def github_message(exc: GithubException) -> str:
    """GitHub's own ``message`` field, or the status when the body had none."""
    data: Any = exc.data
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return f"HTTP {exc.status}"


@contextmanager
def github_errors(what: str, *, conflict_on_409: bool = False) -> Iterator[None]:
    """Run a block of PyGithub calls, translating whatever escapes into sealgate errors."""
    try:
        yield
    except RateLimitExceededException as exc:
        raise GitHubError(
            f"{what}: GitHub rate limit exhausted ({github_message(exc)})", retryable=True
        ) from exc
    except BadCredentialsException as exc:
        raise GitHubError(
            f"{what}: GitHub refused the credentials; check the token or the App's key",
            retryable=False,
        ) from exc
    except UnknownObjectException as exc:
        raise GitHubError(
            f"{what}: not found on GitHub, or not visible to these credentials",
            retryable=False,
        ) from exc
    except GithubException as exc:
        if exc.status == 409 and conflict_on_409:
            raise ConflictError(f"{what}: {github_message(exc)}") from exc
        raise GitHubError(
            f"{what}: GitHub answered {exc.status}: {github_message(exc)}",
            retryable=exc.status in _RETRYABLE_STATUSES,
        ) from exc
    except requests.RequestException as exc:
        # Connection failures, timeouts and exhausted urllib3 retries all land here.
        raise GitHubError(
            f"{what}: could not reach GitHub ({type(exc).__name__})", retryable=True
        ) from exc
