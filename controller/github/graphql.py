"""Send one GraphQL document to GitHub and keep its answer whole: data and errors both.

PyGithub's ``graphql_query`` raises on any entry in ``errors``, but GitHub answers a
document with several parts (several teams, several mutations) part by part: one missing
organization or one deleted comment nulls that part and leaves the rest valid. sealgate
needs to know which parts stood, so the answer is returned as it came, with errors grouped
by the alias (the first ``path`` element) they belong to.

HTTP failures (401, 403, 5xx, connection errors) raise PyGithub's exceptions as any REST
call does; callers wrap calls in ``github_errors``. A server without GraphQL (an old or
partial GitHub imitation, a proxy that only passes ``/api/v3``) answers 404 there:
:class:`GraphQLEndpoint` remembers that and callers use REST from then on.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from github.GithubException import GithubException, UnknownObjectException
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from controller.github.client import GitHubClient


@dataclass(frozen=True, slots=True)
class GraphAnswer:
    data: Mapping[str, Any]
    errors: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    """Alias -> the errors GitHub reported under it; ``""`` for those without a path (a
    document GitHub refused whole)."""

    def failed(self, alias: str) -> tuple[Mapping[str, Any], ...]:
        return self.errors.get(alias, ())

    def error_types(self, alias: str) -> frozenset[str]:
        return frozenset(str(error.get("type") or "") for error in self.failed(alias))


_STATUS_OF = {"NOT_FOUND": 404, "FORBIDDEN": 403, "RATE_LIMITED": 429, "RATE_LIMIT": 429}
"""GitHub's GraphQL error types as the HTTP statuses REST answers for the same refusal
(GitHub has spelled an exhausted budget both ways)."""


def as_exception(errors: tuple[Mapping[str, Any], ...]) -> GithubException:
    """GitHub's errors as the exception the REST call would have raised (404 for
    ``NOT_FOUND``, 403, 429; a 502 for anything else, retried like any server fault)."""
    first = errors[0] if errors else {}
    kind = str(first.get("type") or "")
    message = str(first.get("message") or kind or "GraphQL error")
    status = _STATUS_OF.get(kind, 502)
    if status == 404:
        return UnknownObjectException(404, {"message": message}, None)
    return GithubException(status, {"message": message}, None)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, GithubException):
        return exc.status == 429 or exc.status >= 500
    return isinstance(exc, requests.ConnectionError | requests.Timeout)


class GraphPoster(Protocol):
    def post(self, document: str, variables: Mapping[str, Any]) -> GraphAnswer: ...


class GraphQLUnavailable(Exception):
    """The server has no GraphQL endpoint: use REST."""


class GraphQLEndpoint:
    """Posts documents for one client; learns once that a server lacks GraphQL."""

    def __init__(self, client: GitHubClient, *, enabled: bool = True) -> None:
        self._client = client
        self._enabled = enabled
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        with self._lock:
            return self._enabled

    def post_raw(self, document: str, variables: Mapping[str, Any]) -> Any:
        """One request; the JSON answer as GitHub gave it. Raises :class:`GraphQLUnavailable`
        when GraphQL is off or absent, and PyGithub's exceptions for other HTTP failures."""
        if not self.enabled:
            raise GraphQLUnavailable
        requester = self._client.github.requester
        try:
            _headers, body = requester.requestJsonAndCheck(
                "POST",
                requester.graphql_url,
                input={"query": document, "variables": dict(variables)},
            )
        except GithubException as exc:
            # PyGithub makes an UnknownObjectException of a 404 only when it says "Not Found".
            if exc.status != 404:
                raise
            with self._lock:
                self._enabled = False
            raise GraphQLUnavailable from exc
        return body

    def post(self, document: str, variables: Mapping[str, Any]) -> GraphAnswer:
        """A query: :meth:`post_raw`, tried again on a server fault as REST's reads are
        (urllib3 never repeats a POST by itself), with errors grouped by alias; a document
        refused whole raises the exception REST would have for the same refusal."""
        policy = self._client.retry_policy
        retrying = Retrying(
            stop=stop_after_attempt(max(1, policy.attempts)),
            wait=wait_exponential_jitter(
                multiplier=policy.backoff_factor, max=policy.backoff_max, jitter=policy.jitter
            ),
            retry=retry_if_exception(_transient),
            reraise=True,
        )
        body = retrying(self.post_raw, document, variables)
        if not isinstance(body, dict):
            raise GithubException(502, {"message": "GraphQL answer is not an object"}, None)
        errors: dict[str, list[Mapping[str, Any]]] = {}
        for error in body.get("errors") or ():
            if not isinstance(error, dict):
                continue
            path = error.get("path")
            alias = str(path[0]) if isinstance(path, list) and path else ""
            errors.setdefault(alias, []).append(error)
        data = body.get("data")
        if not isinstance(data, dict):
            # Refused whole (rate limit, or a document GitHub would not run): nothing in it
            # can be used.
            raise as_exception(tuple(error for found in errors.values() for error in found))
        return GraphAnswer(data, {alias: tuple(found) for alias, found in errors.items()})
