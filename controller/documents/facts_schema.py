"""Check FACTS.json against ``schemas/facts.schema.json``, the published contract.

The hand-written reader in ``facts`` explains most mistakes best (it knows what a review or
a team is); the schema is what editors and other tools validate with, so every way a file
breaks it is reported as well, phrased from the schema and never quoting a value (a comment
body may hold anything).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from typing import Any, cast

from jsonschema import ValidationError
from jsonschema.protocols import Validator

from controller.documents.locations import FieldPath, render_path
from controller.documents.schema_check import phrase_rule, strict_validator
from controller.errors import Problem
from controller.paths import data_dir

FACTS_SCHEMA_FILE = "facts.schema.json"
_TIME = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?"
    "([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
FACTS_HINTS: Mapping[str, str] = {
    "\\S": "must not be blank",
    _TIME: "must be an RFC 3339 time with a time zone, such as 2026-11-20T10:00:00Z",
    "^[^/]+/[^/]+$": "team must be written as <org>/<team slug>",
    "^[^/]+/[^/]+/[^/]+$": "key must be <environment>/<namespace>/<name>",
}


@functools.cache
def facts_schema() -> Mapping[str, Any]:
    text = (data_dir("schemas") / FACTS_SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator() -> Validator:
    return strict_validator(facts_schema())


def facts_schema_problems(source: str, document: object) -> list[Problem]:
    """Every way ``document`` breaks the facts schema, one problem per field and message."""
    found: dict[tuple[str, str], Problem] = {}
    for error in _validator().iter_errors(cast(Any, document)):
        for path, message in _explain(error):
            problem = Problem(source, render_path(path), message)
            found.setdefault((problem.field, problem.message), problem)
    return sorted(found.values(), key=lambda p: (p.field, p.message))


def _explain(error: ValidationError) -> Iterator[tuple[FieldPath, str]]:
    path: FieldPath = tuple(error.absolute_path)
    keyword = str(error.validator)
    instance = error.instance
    required: Any = error.validator_value
    schema: Any = error.schema
    if "propertyNames" in error.absolute_schema_path:
        key = instance if isinstance(instance, str) else ""
        yield (*path, key), phrase_rule(keyword, error, FACTS_HINTS)
    elif keyword == "required" and isinstance(instance, dict):
        for name in required:
            if name not in instance:
                yield (*path, name), "required field is missing"
    elif keyword == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        for name in instance:
            if name not in allowed:
                yield (*path, name), f"unknown field; expected one of {', '.join(allowed)}"
    else:
        yield path, phrase_rule(keyword, error, FACTS_HINTS)
