"""Sending GraphQL to the loopback GitHub the way the controller does: PyGithub's requester."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from github import Github

from controller.github.graph_documents import PullQuery, pull_query
from tests.integration.github_server_support import OWNER, REPO, World


def post(gh: Github, document: str, variables: Mapping[str, Any] | None = None) -> Any:
    """The whole answer (``data`` and ``errors``), as GitHub sent it with HTTP 200."""
    requester = gh.requester
    _, answer = requester.requestJsonAndCheck(
        "POST", requester.graphql_url, input={"query": document, "variables": dict(variables or {})}
    )
    return answer


def read(gh: Github, query: PullQuery) -> Any:
    return post(gh, query.document, query.variables)


def pull_of(github: World, login: str, number: int, **extra: Any) -> Any:
    """``data`` of sealgate's pull query, as ``login`` reads it."""
    answer = read(github.client(login), pull_query(OWNER, REPO, number, **extra))
    assert "errors" not in answer, answer.get("errors")
    return answer["data"]
