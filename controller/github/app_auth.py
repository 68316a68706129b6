"""GitHub App authentication: one installation token shared by every thread.

PyGithub signs a short-lived JWT with the App's private key (``Auth.AppAuth``, PyJWT
underneath) and trades it for an installation token. Its own ``AppInstallationAuth`` keeps a
token per ``Github`` instance and renews it 20 seconds before expiry; sealgate keeps one
``Github`` per thread, so that would mean a token per thread. Here one token serves all of
them, renewed under a lock a few minutes before it expires, so a request in flight never
carries a token that dies on the way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from github import Auth, GithubIntegration

from controller.github.failures import github_errors

REFRESH_BEFORE = timedelta(minutes=5)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class InstallationTokens:
    def __init__(
        self,
        app_id: int,
        private_key_pem: str,
        installation_id: int,
        *,
        integration: Callable[[Auth.AppAuth], GithubIntegration],
        refresh_before: timedelta = REFRESH_BEFORE,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._integration = integration(Auth.AppAuth(app_id, private_key_pem))
        self._installation_id = installation_id
        self._refresh_before = refresh_before
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = datetime.min.replace(tzinfo=UTC)
        self.issued = 0
        """How many tokens were obtained so far."""

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - self._refresh_before:
                with github_errors(f"get a token for App installation {self._installation_id}"):
                    grant = self._integration.get_access_token(self._installation_id)
                    self._token, self._expires_at = grant.token, grant.expires_at
                self.issued += 1
            return self._token


class InstallationTokenAuth(Auth.Auth):
    """PyGithub auth that reads the shared, current installation token on every request."""

    def __init__(self, tokens: InstallationTokens) -> None:
        self._tokens = tokens

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        return self._tokens.token()

    @property
    def _masked_token(self) -> str:
        return "token (installation token removed)"
