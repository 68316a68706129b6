"""Who a person is, from the GitHub token they present: ``GET /user`` with that token.

The open endpoint trusts GitHub to vouch for a caller, so every token is checked there, and
answers are cached briefly by the token's SHA-256 (never the token itself) so a burst of
``sealgate exec`` costs GitHub one request. A refused token is remembered for a few seconds
only (a person who just fixed their token should not wait a minute), and a GitHub outage
is never remembered: it is a retryable :class:`~controller.errors.GitHubError`, which the
endpoint answers 503, where a refused token is :class:`~controller.errors.Unauthenticated`
(401). The token never reaches a message, a log line or an exception.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from github import Auth, Github, GithubException
from github.GithubException import BadCredentialsException, RateLimitExceededException

from controller.errors import GitHubError, Unauthenticated
from controller.github.client import USER_AGENT
from controller.github.failures import github_errors

MAX_TOKEN_CHARS = 512
"""GitHub's tokens are well under this; anything longer is not a token worth sending on."""
REFUSED_TTL_S = 5.0
DEFAULT_MAX_ENTRIES = 4096
_WHAT = "identify the caller (GET /user)"


@dataclass(frozen=True, slots=True)
class _Entry:
    login: str | None
    """None: GitHub refused the token."""
    until: float


class GitHubIdentities:
    """``login_of(token)``: the GitHub login behind a personal token. Thread-safe."""

    def __init__(
        self,
        base_url: str,
        *,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        timeout_s: int = 10,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._ttl_s = ttl_s
        self._refused_ttl_s = min(ttl_s, REFUSED_TTL_S)
        self._clock = clock
        self._max_entries = max_entries
        self._timeout_s = timeout_s
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def login_of(self, token: str) -> str:
        """The login; ``Unauthenticated`` when GitHub refuses the token, ``GitHubError``
        (retryable) when GitHub cannot be asked."""
        if not token or len(token) > MAX_TOKEN_CHARS or not token.isprintable() or " " in token:
            raise Unauthenticated("the token is not a GitHub token; give a personal token")
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        with self._lock:
            entry = self._cache.get(digest)
            if entry is not None and entry.until > now:
                self._cache.move_to_end(digest)
                return _answer(entry)
        login = self._ask(token)
        until = self._clock() + (self._ttl_s if login is not None else self._refused_ttl_s)
        with self._lock:
            self._cache[digest] = _Entry(login, until)
            self._cache.move_to_end(digest)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
        return _answer(_Entry(login, until))

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def _ask(self, token: str) -> str | None:
        github = Github(
            auth=Auth.Token(token),
            base_url=self._base_url,
            timeout=self._timeout_s,
            user_agent=USER_AGENT,
            # One attempt: the caller is waiting and may try again; a retry loop here would
            # turn a GitHub outage into a minute-long hang of `sealgate open`.
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        try:
            with github_errors(_WHAT):
                try:
                    login = github.get_user().login
                except BadCredentialsException:
                    return None
                except RateLimitExceededException:
                    raise
                except GithubException as exc:
                    # 403 without a rate limit: a token GitHub knows but that cannot say
                    # who a person is (an App's installation token): not a person's token.
                    if exc.status in (401, 403):
                        return None
                    raise
        finally:
            github.close()
        if not isinstance(login, str) or not login:
            raise GitHubError(f"{_WHAT}: GitHub answered without a login", retryable=True)
        return login


def _answer(entry: _Entry) -> str:
    if entry.login is None:
        raise Unauthenticated(
            "GitHub refused the token (expired, revoked or not a personal token); "
            "log in again (e.g. `gh auth login`) and retry"
        )
    return entry.login
