"""From one file's bytes to typed documents, collecting every problem in the file."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from controller.documents.access import access_problems, build_access
from controller.documents.convert import (
    build_change,
    build_environment,
    build_policy,
    change_problems,
    environment_problems,
    policy_problems,
)
from controller.documents.locations import LineMap
from controller.documents.schema_check import SCHEMA_FILES, check_against_schema
from controller.documents.yaml_loader import LoadedDocument, load_documents
from controller.errors import DocumentError, Problem
from controller.model import AccessRequest, Environment, Policy, SecretChange

Document = Environment | Policy | SecretChange | AccessRequest
DOCUMENT_KINDS: tuple[str, ...] = tuple(SCHEMA_FILES)

_CHECKS: dict[str, Callable[[str, dict[str, Any], LineMap], list[Problem]]] = {
    "Environment": environment_problems,
    "ApprovalPolicy": policy_problems,
    "SecretChange": change_problems,
    "AccessRequest": access_problems,
}


@dataclass(frozen=True, slots=True)
class Located:
    """A typed document with the lines of its fields, for cross-file messages."""

    document: Document
    lines: LineMap


def parse_located(
    source: str, data: bytes, kinds: Collection[str] = DOCUMENT_KINDS
) -> tuple[Located, ...]:
    """Every document of one file, each of one of ``kinds``; DocumentError lists all problems."""
    loaded = load_documents(source, data)
    if not loaded:
        raise DocumentError(
            [Problem(source, "", "file holds no YAML document: add one or delete the file")]
        )
    problems: list[Problem] = []
    results: list[Located] = []
    for document in loaded:
        located = _one(source, document, kinds, problems)
        if located is not None:
            results.append(located)
    if problems:
        raise DocumentError(problems)
    return tuple(results)


def _one(
    source: str, loaded: LoadedDocument, kinds: Collection[str], problems: list[Problem]
) -> Located | None:
    doc = loaded.value
    start = loaded.lines.get(())
    if not isinstance(doc, dict):
        problems.append(
            Problem(
                source,
                "",
                "a document must be a mapping with apiVersion, kind, metadata and spec",
                start,
            )
        )
        return None
    kind = doc.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        expected = " or ".join(sorted(kinds))
        problems.append(
            Problem(source, "kind", f"must be {expected} here", loaded.lines.get(("kind",), start))
        )
        return None
    found = check_against_schema(kind, source, doc, loaded.lines)
    if not found:
        found = _CHECKS[kind](source, doc, loaded.lines)
    if found:
        problems.extend(found)
        return None
    return Located(_build(kind, source, loaded.index, doc), loaded.lines)


def _build(kind: str, source: str, index: int, doc: dict[str, Any]) -> Document:
    if kind == "Environment":
        return build_environment(source, doc)
    if kind == "ApprovalPolicy":
        return build_policy(source, doc)
    if kind == "AccessRequest":
        return build_access(source, index, doc)
    return build_change(source, index, doc)


def _single(source: str, data: bytes, kind: str) -> Located:
    located = parse_located(source, data, (kind,))
    if len(located) > 1:
        raise DocumentError(
            [
                Problem(
                    source,
                    "",
                    f"holds {len(located)} documents; a {kind} file holds exactly one: "
                    "split it into one file per document",
                    located[1].lines.get(()),
                )
            ]
        )
    return located[0]


def parse_environment(source: str, data: bytes) -> Environment:
    """The one Environment in ``data``; DocumentError lists every problem in the file."""
    document = _single(source, data, "Environment").document
    assert isinstance(document, Environment)
    return document


def parse_policy(source: str, data: bytes) -> Policy:
    """The one ApprovalPolicy in ``data``; DocumentError lists every problem in the file."""
    document = _single(source, data, "ApprovalPolicy").document
    assert isinstance(document, Policy)
    return document


def parse_changes(source: str, data: bytes) -> tuple[SecretChange, ...]:
    """Every SecretChange in ``data`` (one or more documents), in file order."""
    return tuple(
        located.document
        for located in parse_located(source, data, ("SecretChange",))
        if isinstance(located.document, SecretChange)
    )


def parse_access_request(source: str, data: bytes) -> AccessRequest:
    """The one AccessRequest in ``data``: its file stem is its id, so a file holds one."""
    document = _single(source, data, "AccessRequest").document
    assert isinstance(document, AccessRequest)
    return document


def parse_document_file(source: str, data: bytes) -> tuple[Document, ...]:
    """Every document in ``data``, whatever its kind, typed by its ``kind`` field."""
    return tuple(located.document for located in parse_located(source, data))
