"""Check a configuration document against ``schemas/config.schema.json`` and phrase failures.

jsonschema's own messages quote the offending value, which may be a secret pasted where a
reference belongs; so, as for the other documents, each failure is rephrased from its
keyword and the schema alone: the field, what is wrong, and how to fix it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from typing import Any, cast

from jsonschema import Draft202012Validator, ValidationError

from controller.documents import FieldPath, LineMap, render_path
from controller.documents.locations import line_of
from controller.documents.schema_check import phrase_choice, phrase_rule
from controller.errors import Problem
from controller.paths import data_dir

SCHEMA_FILE = "config.schema.json"

# A pattern is shown as a person would say it; one missing here is shown as a regex.
PATTERN_HINTS: Mapping[str, str] = {
    "^[1-9][0-9]{0,6}(s|m|h|d)$": (
        "must be a duration: a whole number and a unit s, m, h or d, such as 60s, 5m or 24h"
    ),
    "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$": (
        "must be lowercase letters, digits and '-', starting and ending with a letter or "
        "digit, at most 63 characters"
    ),
    "^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$": (
        "must be a repository as owner/name, such as acme/secret-requests"
    ),
    "^https?://[^\\s]+$": "must be an http(s) URL such as https://api.github.com",
    "^(\\[[0-9a-fA-F:.]+\\]|[-a-zA-Z0-9.]+):[0-9]{1,5}$": (
        "must be host:port, such as 0.0.0.0:8080 or [::]:8080"
    ),
    "^[A-Za-z_][A-Za-z0-9_]*$": (
        "must be an environment variable name: letters, digits and '_', not starting with a digit"
    ),
    "^[a-z0-9][a-z0-9-]{0,33}$": "must be the App's URL name: lowercase letters, digits, '-'",
    "^[A-Za-z0-9]([A-Za-z0-9-]{0,38})$": "must be a GitHub login",
    "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$": "must be an email address",
}


@functools.cache
def config_schema() -> Mapping[str, Any]:
    text = (data_dir("schemas") / SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(cast(Any, config_schema()))


def schema_problems(source: str, document: object, lines: LineMap) -> list[Problem]:
    """Every way ``document`` breaks the schema, each naming the field and the fix."""
    found: dict[tuple[str, str], Problem] = {}
    for error in _validator().iter_errors(document):
        for path, message in _explain(error):
            problem = Problem(source, render_path(path), message, line_of(lines, path))
            found.setdefault((problem.field, problem.message), problem)
    return sorted(found.values(), key=lambda p: (p.line or 0, p.field, p.message))


def _explain(error: ValidationError) -> Iterator[tuple[FieldPath, str]]:
    path: FieldPath = tuple(error.absolute_path)
    keyword = str(error.validator)
    instance = error.instance
    value: Any = error.validator_value
    if "propertyNames" in error.absolute_schema_path:
        key = instance if isinstance(instance, str) else ""
        yield (*path, key), "key " + PATTERN_HINTS.get(str(value), f"must match {value}")
        return
    if keyword == "required" and isinstance(instance, dict):
        for name in value:
            if name not in instance:
                yield (*path, name), "required field is missing: add it"
    elif keyword == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(error.schema.get("properties", {}))  # type: ignore[union-attr]
        for name in instance:
            if name not in allowed:
                yield (
                    (*path, name),
                    f"unknown field: allowed here are {', '.join(allowed)}; check the spelling",
                )
    elif keyword == "oneOf":
        if isinstance(instance, dict):  # otherwise the type failure is reported on its own
            yield path, phrase_choice(keyword, value, instance)
    else:
        yield path, phrase_rule(keyword, error, PATTERN_HINTS)
