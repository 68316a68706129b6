"""Validate plain data against the JSON Schemas in ``schemas/`` and phrase every failure.

jsonschema's own messages quote the offending instance, and an instance may be a
plaintext secret pasted where a sealed value belongs. So no jsonschema message is ever
shown: each failure is rephrased from its keyword and the schema alone, naming the field
and the fix, never the value.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, cast

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from controller.documents.locations import FieldPath, LineMap, line_of, render_path
from controller.errors import Problem
from controller.paths import data_dir

SCHEMA_FILES: Mapping[str, str] = {
    "Environment": "environment.schema.json",
    "ApprovalPolicy": "policy.schema.json",
    "SecretChange": "change.schema.json",
    "AccessRequest": "access.schema.json",
}

SECRET_KEY_PATTERN = "[-._a-zA-Z0-9]+"  # noqa: S105 - a regex for key names, not a password

_DNS_LABEL = (
    "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter "
    "or digit, at most 63 characters"
)
# Human phrasing of each schema pattern; a pattern missing here is shown as a regex.
PATTERN_HINTS: Mapping[str, str] = {
    "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$": f"must be {_DNS_LABEL}",
    "^[-._a-zA-Z0-9]+$": f"key must match {SECRET_KEY_PATTERN}",
    # Only ever used under "not": the message is the negated rule.
    "^[.]([.]|$)": "key may not be '.' or start with '..' (Kubernetes refuses it)",
    "^[a-z0-9*]([-a-z0-9*]{0,61}[a-z0-9*])?$": (
        "must be a namespace name (lowercase letters, digits and '-', at most 63 "
        "characters) or a glob of one where '*' matches any run of characters"
    ),
    "^[a-z0-9][a-z0-9-]{0,62}$": (
        "key id must be lowercase letters, digits and '-', starting with a letter or digit, "
        "at most 63 characters"
    ),
    "^[A-Za-z0-9+/]{43}=$": (
        "must be the standard base64 of a raw 32-byte X25519 public key (44 characters "
        "ending in '='): copy it from `sealgate keys`"
    ),
    "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$": (
        "must be lowercase letters, digits, '-' and '.', starting and ending with a letter "
        "or digit, at most 253 characters"
    ),
    "\\S": "must not be blank: say why this change is needed",
    (
        "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/(?=.{1,253}$)"
        "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ): (
        "must be <namespace>/<name>: a DNS-1123 label, '/', then a DNS-1123 subdomain "
        "(lowercase letters, digits, '-' and '.', at most 253 characters)"
    ),
    "^(\\*|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$": (
        f"must be '*', 'governance' or an environment name ({_DNS_LABEL})"
    ),
    "^[a-z0-9.*-]+(/[a-z0-9.*-]+)*$": (
        "must be a glob over <namespace>/<name> such as payments/*, payments/** or **"
    ),
    "^[1-9][0-9]{0,5}[mhdw]$": (
        "must be a whole number and a unit m, h, d or w, such as 30m, 72h, 7d or 2w"
    ),
    "^[A-Za-z0-9]([A-Za-z0-9-]{0,38})$": "must be a GitHub login",
    "^([A-Za-z0-9]([A-Za-z0-9-]{0,38})|system:serviceaccount:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
    ":[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?@[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$": (
        "must be a GitHub login (an agent's system:serviceaccount:<namespace>:<name>@<cluster>"
        " only in a pull request the controller opened)"
    ),
    "^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[a-z0-9][a-z0-9_-]{0,99}$": (
        "must be a GitHub team as <org>/<team slug>, such as acme/sre"
    ),
    "^#?[A-Za-z0-9][A-Za-z0-9._-]{0,79}$": "must be a Slack channel such as #payments-oncall",
    "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$": "must be an email address",
}

_TYPE_NAMES: Mapping[str, str] = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}

PLAINTEXT_MESSAGE = (
    "value is not a sealed value (sg1:<key id>:<payload>) and is not shown here because it "
    "may be a plaintext secret; it is now in git history, so rotate this secret, seal the "
    "new value with `sealgate seal` and put only the sealed value in the file"
)


def _ecma_pattern(
    validator: Validator, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    # Python's `$` also matches before a final newline; ECMA-262 (the dialect JSON Schema
    # specifies) does not, and "KEY\n" must not pass as a Kubernetes key.
    if not validator.is_type(instance, "string"):
        return
    if re.search(pattern, instance) is None or (pattern.endswith("$") and instance.endswith("\n")):
        yield ValidationError(f"does not match {pattern}")


_StrictValidator: Any = extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"pattern": _ecma_pattern}
)


def strict_validator(schema: Mapping[str, Any]) -> Validator:
    """A 2020-12 validator whose ``pattern`` follows ECMA-262, as JSON Schema specifies."""
    validator: Validator = _StrictValidator(schema)
    return validator


@functools.cache
def schema_for(kind: str) -> Mapping[str, Any]:
    """The parsed JSON Schema of ``kind`` (one of ``SCHEMA_FILES``)."""
    text = (data_dir("schemas") / SCHEMA_FILES[kind]).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator(kind: str) -> Validator:
    validator: Validator = _StrictValidator(schema_for(kind))
    return validator


def check_against_schema(kind: str, source: str, document: object, lines: LineMap) -> list[Problem]:
    """Every way ``document`` breaks the schema of ``kind``, phrased without its values."""
    problems: dict[tuple[str, str, int | None], Problem] = {}
    for error in _validator(kind).iter_errors(cast(Any, document)):
        for path, message in _explain(kind, error):
            problem = Problem(source, render_path(path), message, line_of(lines, path))
            problems.setdefault((problem.field, problem.message, problem.line), problem)
    return sorted(problems.values(), key=lambda p: (p.line or 0, p.field, p.message))


def _explain(kind: str, error: ValidationError) -> Iterator[tuple[FieldPath, str]]:
    path: FieldPath = tuple(error.absolute_path)
    keyword = str(error.validator)
    if "propertyNames" in error.absolute_schema_path:
        # The failing instance is the key itself; name it so the person can find it.
        key = error.instance if isinstance(error.instance, str) else ""
        yield (*path, key), _key_message(keyword, error)
        return
    if kind == "SecretChange" and len(path) == 3 and path[:2] == ("spec", "set"):
        yield path, PLAINTEXT_MESSAGE
        return
    instance = error.instance
    value: Any = error.validator_value
    schema: Any = error.schema
    if keyword == "required" and isinstance(instance, dict):
        for name in value:
            if name not in instance:
                yield (*path, name), "required field is missing: add it"
    elif keyword == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        for name in instance:
            if name not in allowed:
                yield (*path, name), f"unknown field: allowed here are {', '.join(allowed)}"
    elif keyword in ("anyOf", "oneOf") and isinstance(instance, dict):
        yield path, phrase_choice(keyword, value, instance)
    else:
        yield path, phrase_rule(keyword, error)


def _key_message(keyword: str, error: ValidationError) -> str:
    limit: Any = error.validator_value
    if keyword == "maxLength":
        return f"key is longer than {limit} characters"
    if keyword == "not":
        return "key may not be '.' or start with '..' (Kubernetes refuses it)"
    if keyword == "type":
        return "key must be a string"
    return f"key must match {SECRET_KEY_PATTERN}"


def phrase_choice(keyword: str, options: list[Any], instance: dict[str, Any]) -> str:
    """An ``anyOf``/``oneOf`` failure over alternative required fields, as a fix."""
    names = [name for option in options for name in option.get("required", [])]
    present = [name for name in names if name in instance]
    listed = " or ".join(names)
    if keyword == "anyOf":
        return f"needs at least one of {', '.join(names)}: add one"
    if present:
        return f"has both {' and '.join(present)}: keep exactly one of {listed}"
    return f"needs {listed}: add exactly one"


def phrase_rule(
    keyword: str, error: ValidationError, hints: Mapping[str, str] = PATTERN_HINTS
) -> str:
    """One failed keyword as what to do, from the schema alone: never the value, which may
    be a secret pasted where a reference belongs. ``hints`` phrase known patterns."""
    value: Any = error.validator_value
    match keyword:
        case "const":
            return f"must be {value}"
        case "enum":
            return "must be one of " + ", ".join(str(option) for option in value)
        case "type":
            expected = value if isinstance(value, list) else [value]
            wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in expected)
            return f"must be {wanted}, not {_describe_type(error.instance)}"
        case "pattern":
            return hints.get(value, f"must match {value}")
        case "minLength":
            return "must not be empty" if value == 1 else f"must be at least {value} characters"
        case "maxLength":
            return f"must be at most {value} characters"
        case "minimum":
            return f"must be at least {value}"
        case "maximum":
            return f"must be at most {value}"
        case "minItems":
            return (
                "must not be empty: list at least one item"
                if value == 1
                else (f"must list at least {value} items")
            )
        case "maxItems":
            return f"must list at most {value} items"
        case "uniqueItems":
            return "lists the same item twice: remove the duplicate"
        case "minProperties":
            return "must not be empty: add a key or remove this field"
        case "not":
            return "key may not be '.' or start with '..' (Kubernetes refuses it)"
    return f"does not satisfy the schema's {keyword} rule"


def _describe_type(instance: object) -> str:
    if isinstance(instance, bool):
        return "true or false"
    if instance is None:
        return "empty"
    for python_type, name in ((dict, "a mapping"), (list, "a list"), (str, "a string")):
        if isinstance(instance, python_type):
            return name
    if isinstance(instance, int):
        return "a whole number"
    return "a number"
