"""sealgate's GraphQL documents are valid against GitHub's schema (the vendored subset).

The subset keeps GitHub's own definitions, so a document valid here is valid on GitHub as
far as the fields go; one that names a field GitHub lacks fails here first.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from graphql import GraphQLSchema, parse, validate

from controller.github.graph_documents import PullQuery, pull_query, report_mutation
from controller.sandbox.github_server.graphql.schema import SDL, schema
from tests.tools.prune_graphql_schema import header, prune

TEAMS = [(), ("acme/sre",), ("acme/sre", "acme/security", "other/ops"), ("malformed", "/x")]
LABELS = [(), ("sealgate:approved",), ("sealgate:approved", "sealgate:pending", "sealgate:x")]


def _problems(document: str) -> list[str]:
    return [e.message for e in validate(schema(), parse(document))]


@pytest.mark.parametrize("teams", TEAMS)
@pytest.mark.parametrize("labels", LABELS)
def test_every_pull_query_validates(teams: tuple[str, ...], labels: tuple[str, ...]) -> None:
    query: PullQuery = pull_query("acme", "requests", 7, teams=teams, labels=labels)
    assert _problems(query.document) == []


@pytest.mark.parametrize("comment", [None, ("MDEyOklzc3VlQ29tbWVudDE=", "body")])
@pytest.mark.parametrize("add", [(), ("MDU6TGFiZWwx",), ("a", "b")])
@pytest.mark.parametrize("remove", [(), ("MDU6TGFiZWwy",)])
def test_every_report_mutation_validates(
    comment: tuple[str, str] | None, add: tuple[str, ...], remove: tuple[str, ...]
) -> None:
    mutation = report_mutation(
        comment=comment, labelable="MDExOlB1bGxSZXF1ZXN0MQ==", add=add, remove=remove
    )
    if mutation is None:
        assert comment is None
        assert not add
        assert not remove
        return
    assert _problems(mutation.document) == []


def test_a_field_github_lacks_does_not_validate() -> None:
    assert _problems('{ repository(owner: "a", name: "b") { secretValue } }')


def test_the_subset_names_its_source_and_stays_small() -> None:
    text = SDL.read_text(encoding="utf-8")
    assert "octokit/graphql-schema" in text.splitlines()[1]
    assert "82ff2d4780080e6929ebb95608cefa22dfa05ac7" in text
    assert len(text.encode()) < 64_000


def test_the_schema_is_built_once_whoever_asks_first() -> None:
    seen: list[GraphQLSchema] = []
    threads = [threading.Thread(target=lambda: seen.append(schema())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(s) for s in seen}) == 1
    assert seen[0] is schema()


def test_neither_the_controller_nor_the_loopback_import_graphql_core_until_asked() -> None:
    probe = (
        "import sys, controller.github, controller.github.graph_documents, "
        "controller.sandbox.github_server; print('graphql' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_subset_is_exactly_what_the_pruning_script_keeps() -> None:
    """Pruning the subset again changes nothing: no hand edit, nothing kept that the
    documents do not reach. A document that starts using a new field fails here until the
    subset is regenerated from GitHub's full schema."""
    text = SDL.read_text(encoding="utf-8")
    body, listing = prune(text)
    assert header(listing) + body == text
