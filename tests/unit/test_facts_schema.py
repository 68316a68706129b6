"""``schemas/facts.schema.json`` is the published FACTS.json format: well formed, closed,
described, no looser than the reader, enforced by it, and the example follows it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from controller.documents.facts import _FIELDS, parse_facts
from controller.documents.facts_json import facts_to_json
from controller.documents.facts_schema import FACTS_HINTS, facts_schema
from controller.errors import DocumentError
from tests.unit.test_facts import EXAMPLE, MALFORMED, encode, with_field
from tests.unit.test_schemas import resolve, walk

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = ROOT / "examples" / "plan"


def schema() -> dict[str, Any]:
    return dict(facts_schema())


def bare_errors(document: object) -> list[str]:
    """What a plain 2020-12 validator (an editor, another tool) says about ``document``."""
    validator = Draft202012Validator(schema())
    return [error.message for error in validator.iter_errors(document)]


def problems_of(data: bytes) -> list[str]:
    with pytest.raises(DocumentError) as caught:
        parse_facts("facts.json", data)
    return [str(problem) for problem in caught.value.problems]


def test_the_schema_is_valid_closed_and_described() -> None:
    Draft202012Validator.check_schema(schema())
    root = schema()
    for where, found in walk(root):
        sub = resolve(found, root)
        if where.endswith("/propertyNames"):
            continue
        assert len(sub.get("description", "")) > 5 or "$ref" in found, where
        if sub.get("type") == "object":
            if "properties" in sub:
                assert sub.get("additionalProperties") is False, where
            else:
                assert "propertyNames" in sub, where


def test_every_pattern_has_a_human_message() -> None:
    patterns = {sub["pattern"] for _, sub in walk(schema()) if "pattern" in sub}
    for definition in schema()["$defs"].values():
        if "pattern" in definition:
            patterns.add(definition["pattern"])
    assert patterns <= set(FACTS_HINTS), patterns - set(FACTS_HINTS)


def test_the_schema_names_every_field_the_reader_knows() -> None:
    assert set(schema()["properties"]) == set(_FIELDS)


def test_the_example_follows_the_schema_and_plans() -> None:
    document = json.loads((EXAMPLE_DIR / "facts.json").read_text())
    assert bare_errors(document) == []
    assert bare_errors(EXAMPLE) == []
    result = CliRunner().invoke(
        main,
        [
            "plan",
            "--config",
            str(EXAMPLE_DIR),
            "--facts",
            str(EXAMPLE_DIR / "facts.json"),
            "--output",
            "json",
            str(EXAMPLE_DIR / "changes" / "production" / "rotate-stripe.yaml"),
        ],
    )
    body = json.loads(result.output)
    assert (result.exit_code, body["decision"]) == (ExitCode.PENDING, "pending"), result.output
    assert body["policies"][0]["approvedBy"] == ["alice"]


READER_ONLY = {
    "not json": "not JSON at all",
    "not utf-8": "not JSON at all",
    "NaN": "not JSON at all",
    "deep nesting": "too deep for any JSON parser to hand over",
    "duplicate key": "invisible once parsed; the reader's loader refuses it",
    "missing now": "plan supplies its clock when now is missing; the reader alone needs it",
    "dismisser of a review that is not dismissed": "a rule across fields, the reader's",
}
JSON_CASES = [case for case in MALFORMED if case[0] not in READER_ONLY]


@pytest.mark.parametrize(
    "data", [case[1] for case in JSON_CASES], ids=[case[0] for case in JSON_CASES]
)
def test_what_the_reader_refuses_the_schema_refuses(data: bytes) -> None:
    """A file the reader refuses, the schema refuses too (but for ``READER_ONLY``): the
    published contract is not looser than what sealgate accepts."""
    assert bare_errors(json.loads(data)), "the schema accepts what the reader refuses"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (with_field(("number",), 0), "facts.json: number: must be at least 1"),
        (
            with_field(("created_at",), "2026-11-20T10:00:00+0100"),
            "facts.json: created_at: must be an RFC 3339 time with a time zone",
        ),
        (
            with_field(("comments", 0, "updated_at"), "20261120T100000Z"),
            "comments[0].updated_at: must be an RFC 3339 time",
        ),
    ],
)
def test_the_schema_is_enforced_beyond_the_reader(data: bytes, message: str) -> None:
    assert any(message in problem for problem in problems_of(data)), problems_of(data)


def test_schema_messages_never_quote_a_value() -> None:
    canary = "hunter2-canary-value"
    document = json.loads(encode(EXAMPLE))
    document["comments"][0]["body"] = {"token": canary}
    document["comments"][0]["updated_at"] = canary
    document["number"] = canary
    document["reviews"][0]["state"] = canary
    document["current_tiers"] = {"production/payments/stripe": canary}
    problems = problems_of(json.dumps(document).encode())
    assert len(problems) >= 5, problems
    assert not [problem for problem in problems if canary in problem]


def test_a_schema_reference_is_accepted() -> None:
    document = {**EXAMPLE, "$schema": "../../schemas/facts.schema.json"}
    assert parse_facts("facts.json", encode(document)).number == 7


def test_saved_facts_read_back_as_the_same_facts() -> None:
    facts = parse_facts("facts.json", encode(EXAMPLE))
    dismissed = dict(
        EXAMPLE,
        reviews=[
            {
                **EXAMPLE["reviews"][0],
                "state": "DISMISSED",
                "dismissed_by": "dev1",
                "dismissed_state": "APPROVED",
            }
        ],
        base_sha="b1",
    )
    for original in (facts, parse_facts("facts.json", encode(dismissed))):
        document = facts_to_json(original)
        assert bare_errors(document) == []
        assert parse_facts("facts.json", encode(document)) == original
