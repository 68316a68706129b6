"""Authentication and transport: PyGithub configured once for the whole controller.

Two ways to authenticate, both against a configurable base URL (GitHub Enterprise Server
answers at ``https://<host>/api/v3``):

- a token (personal access token or fine-grained token), or
- a GitHub App: a short-lived JWT signed with the App's private key is traded for an
  installation token, shared by all threads and renewed minutes before it expires
  (:mod:`~controller.github.app_auth`).

Transport policy lives in :class:`RetryPolicy`: 5xx answers are retried with exponential
back-off plus jitter; primary rate limits wait until ``X-RateLimit-Reset`` and secondary
ones for ``Retry-After``, both capped so a worker never sleeps for an hour. PyGithub's own
request pacing is switched off: the controller makes few requests and latency matters.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from github import Auth, Github, GithubIntegration, GithubRetry
from github.Repository import Repository

from controller.github.app_auth import InstallationTokenAuth, InstallationTokens
from controller.github.failures import github_errors

DEFAULT_BASE_URL = "https://api.github.com"
USER_AGENT = "sealgate"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try before giving up and letting the caller's ``retryable`` logic decide."""

    attempts: int = 4
    backoff_factor: float = 0.25
    backoff_max: float = 8.0
    jitter: float = 0.25
    max_rate_limit_wait: float = 60.0
    """Longest wait for a rate-limit reset; beyond it the call fails as retryable."""
    secondary_rate_wait: float = 30.0
    """Wait after a secondary rate limit that came without ``Retry-After``."""
    timeout: int = 15

    def urllib3_retry(self) -> GithubRetry:
        return GithubRetry(
            total=self.attempts,
            backoff_factor=self.backoff_factor,
            backoff_max=self.backoff_max,
            backoff_jitter=self.jitter,
            max_rate_limit_wait=self.max_rate_limit_wait,
            secondary_rate_wait=self.secondary_rate_wait,
            retry_after_max=int(self.max_rate_limit_wait),
            # GithubRetry adds 403 itself and retries it only for rate limits; 429 is how
            # GitHub also signals a secondary rate limit.
            status_forcelist=[429, *range(500, 600)],
        )


AuthFactory = Callable[[], Auth.Auth]
"""Makes the auth object for each thread's ``Github`` (PyGithub binds auth to an instance)."""


class GitHubClient:
    """PyGithub configured for sealgate, plus who it acts as. Safe to share between threads.

    PyGithub's connection object is not thread-safe (it keeps the pending request in its own
    attributes), so each thread gets its own ``Github`` instance, made on first use with the
    same settings; with App auth they all share one installation token.

    Objects are created lazily (no request until an attribute is read), so fetching a pull
    request's reviews costs one request, not three.
    """

    def __init__(
        self,
        auth: AuthFactory,
        *,
        base_url: str = DEFAULT_BASE_URL,
        retry: RetryPolicy | None = None,
        login: str | None = None,
        app_id: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry_policy = retry or RetryPolicy()
        self._auth = auth
        self._local = threading.local()
        self._instances: weakref.WeakSet[Github] = weakref.WeakSet()
        self._login = login
        self.app_id = app_id
        """Set when acting as a GitHub App installation: only Apps may write check runs."""
        self._lock = threading.RLock()
        self.installation_tokens: InstallationTokens | None = None

    @property
    def github(self) -> Github:
        """This thread's ``Github`` instance."""
        instance: Github | None = getattr(self._local, "github", None)
        if instance is None:
            policy = self.retry_policy
            instance = Github(
                auth=self._auth(),
                base_url=self.base_url,
                timeout=policy.timeout,
                user_agent=USER_AGENT,
                per_page=100,
                retry=policy.urllib3_retry(),
                seconds_between_requests=None,
                seconds_between_writes=None,
                lazy=True,
            )
            self._local.github = instance
            with self._lock:
                self._instances.add(instance)
        return instance

    @classmethod
    def from_token(
        cls, token: str, *, base_url: str = DEFAULT_BASE_URL, retry: RetryPolicy | None = None
    ) -> GitHubClient:
        return cls(lambda: Auth.Token(token), base_url=base_url, retry=retry)

    @classmethod
    def from_app(
        cls,
        app_id: int,
        private_key_pem: str,
        installation_id: int,
        *,
        slug: str,
        base_url: str = DEFAULT_BASE_URL,
        retry: RetryPolicy | None = None,
    ) -> GitHubClient:
        """Authenticate as one installation of a GitHub App.

        ``slug`` names the App: it comments as ``<slug>[bot]``, which is how the sticky
        comment is told apart from a look-alike someone else posted.
        """
        policy = retry or RetryPolicy()
        url = base_url.rstrip("/")

        def integration(app: Auth.AppAuth) -> GithubIntegration:
            return GithubIntegration(
                auth=app,
                base_url=url,
                timeout=policy.timeout,
                user_agent=USER_AGENT,
                retry=policy.urllib3_retry(),
                seconds_between_requests=None,
                seconds_between_writes=None,
            )

        tokens = InstallationTokens(
            app_id, private_key_pem, installation_id, integration=integration
        )
        client = cls(
            lambda: InstallationTokenAuth(tokens),
            base_url=url,
            retry=policy,
            login=f"{slug}[bot]",
            app_id=app_id,
        )
        client.installation_tokens = tokens
        return client

    def login(self) -> str:
        """The login sealgate acts as (asked once for token auth, then remembered)."""
        with self._lock:
            if self._login is None:
                with github_errors("who am I (GET /user)"):
                    self._login = self.github.get_user().login
            return self._login

    def repo(self, full_name: str) -> Repository:
        """A lazy repository handle: no request is made until something is read from it."""
        return self.github.get_repo(full_name)

    @property
    def rate_remaining(self) -> int:
        """Requests left in the current rate-limit window, as of the last response."""
        remaining, _limit = self.github.requester.rate_limiting
        return remaining

    def close(self) -> None:
        with self._lock:
            instances, self._instances = list(self._instances), weakref.WeakSet()
        for instance in instances:
            instance.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
