"""How the loopback's GraphQL endpoint words its errors: GitHub's shape, nothing internal."""

from __future__ import annotations

import logging

import pytest
from graphql import GraphQLError

from controller.sandbox.github_server.errors import ApiError
from controller.sandbox.github_server.graphql.base import Refusal, decode_node_id
from controller.sandbox.github_server.graphql.endpoint import _format
from controller.sandbox.github_server.render import node_id

CANARY = "sk_live_CANARY_4f1e9a"


def test_a_refusal_carries_githubs_type_before_path_and_message() -> None:
    error = GraphQLError(
        "ignored", path=["repository"], original_error=Refusal("NOT_FOUND", "Could not resolve")
    )
    assert list(_format(error, "RID")) == ["type", "path", "message"]
    assert _format(error, "RID")["type"] == "NOT_FOUND"


def test_a_rest_rule_becomes_its_graphql_type() -> None:
    error = GraphQLError("x", path=["add"], original_error=ApiError(403, "Must have push access"))
    assert _format(error, "RID") == {
        "type": "FORBIDDEN",
        "path": ["add"],
        "message": "Must have push access",
    }


def test_a_bug_is_githubs_generic_error_and_its_detail_stays_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    error = GraphQLError(CANARY, path=["comment"], original_error=RuntimeError(CANARY))
    formatted = _format(error, "ABC123")
    assert CANARY not in repr(formatted)
    assert "ABC123" in formatted["message"]
    assert formatted["message"].startswith("Something went wrong while executing your query.")
    assert "loopback GraphQL resolver failed" in caplog.text


@pytest.mark.parametrize(
    ("kind", "ident"), [("PullRequest", 1010), ("IssueComment", 7), ("Label", 123456)]
)
def test_node_ids_decode_to_what_rest_encoded(kind: str, ident: int) -> None:
    assert decode_node_id(node_id(kind, ident)) == (kind, ident)


@pytest.mark.parametrize("value", ["", "not base64!", "MDU6TGFiZWw=", "bm9wZQ==", "MTA6TGFiZWwx"])
def test_anything_else_decodes_to_nothing(value: str) -> None:
    assert decode_node_id(value) is None
