"""The JSON Schemas are the public contract: well-formed, closed, documented, and in step
with the model's defaults and the loader's messages."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from controller.documents import is_sealed, parse_environment, schema_for
from controller.documents.schema_check import (
    PATTERN_HINTS,
    SCHEMA_FILES,
    check_against_schema,
)
from controller.model import API_VERSION, Environment, GenerateSpec, Policy

ROOT = Path(__file__).resolve().parents[2]
KINDS = sorted(SCHEMA_FILES)


def walk(schema: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema, with a JSON-pointer-like location."""
    if isinstance(schema, dict):
        yield where, schema
        for key, value in schema.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    yield from walk(sub, f"{where}/{key}/{name}")
            elif key in ("items", "additionalProperties", "propertyNames", "not"):
                yield from walk(value, f"{where}/{key}")
            elif key in ("anyOf", "oneOf"):
                for position, sub in enumerate(value):
                    yield from walk(sub, f"{where}/{key}/{position}")


def resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    target: Any = root
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}


@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_valid_2020_12(kind: str) -> None:
    schema = schema_for(kind)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["title"] == kind
    assert schema["properties"]["apiVersion"]["const"] == API_VERSION
    assert schema["properties"]["kind"]["const"] == kind


@pytest.mark.parametrize("kind", KINDS)
def test_every_object_is_closed(kind: str) -> None:
    schema = schema_for(kind)
    for where, found in walk(schema):
        sub = resolve(found, dict(schema))
        if sub.get("type") != "object":
            continue
        if "properties" in sub:
            assert sub.get("additionalProperties") is False, where
        else:
            # A map (spec.set, spec.generate): keys are checked, values have a schema.
            assert isinstance(sub.get("additionalProperties"), dict), where
            assert "propertyNames" in sub, where


@pytest.mark.parametrize("kind", KINDS)
def test_every_field_is_described(kind: str) -> None:
    schema = dict(schema_for(kind))
    for where, sub in walk(schema):
        if where.endswith(("/not", "/propertyNames")) or "/anyOf/" in where or "/oneOf/" in where:
            continue
        described = resolve(sub, schema).get("description", "")
        assert len(described) > 5, f"{kind} {where} has no description"


@pytest.mark.parametrize("kind", KINDS)
def test_every_pattern_has_a_human_message(kind: str) -> None:
    patterns = {sub["pattern"] for _, sub in walk(dict(schema_for(kind))) if "pattern" in sub}
    # spec.set values get the plaintext warning instead of a pattern message.
    patterns.discard("^sg1:[a-z0-9][a-z0-9-]{0,62}:[A-Za-z0-9_-]+={0,2}$")
    assert patterns <= set(PATTERN_HINTS), patterns - set(PATTERN_HINTS)


def test_schema_defaults_match_the_model() -> None:
    environment = schema_for("Environment")["properties"]["spec"]["properties"]
    bare_environment = Environment(name="x", sealing_keys=())
    assert environment["defaultTier"]["default"] == bare_environment.default_tier
    assert environment["unmatched"]["default"] == bare_environment.unmatched
    assert environment["clusters"]["default"] == list(bare_environment.clusters)

    policy = schema_for("ApprovalPolicy")["properties"]["spec"]["properties"]
    bare = Policy(name="x", steps=())
    assert policy["environments"]["default"] == list(bare.environments)
    assert policy["secrets"]["default"] == list(bare.secrets)
    assert set(policy["tiers"]["default"]) == set(bare.tiers)
    assert policy["allowSelfApproval"]["default"] is bare.allow_self_approval
    assert policy["invalidateOnPush"]["default"] is bare.invalidate_on_push
    assert policy["changesRequestedBlocks"]["default"] is bare.changes_requested_blocks
    assert policy["enforcement"]["default"] == bare.enforcement
    assert policy["autoMerge"]["default"] is bare.auto_merge
    assert policy["requireVerifiedCommits"]["default"] is bare.require_verified_commits
    assert policy["expiresAfter"]["default"] == "7d"

    generate = schema_for("SecretChange")["properties"]["spec"]["properties"]["generate"]
    options = generate["additionalProperties"]["properties"]
    defaults = {f.name: f.default for f in dataclasses.fields(GenerateSpec)}
    assert options["length"]["default"] == defaults["length"]
    assert options["alphabet"]["default"] == defaults["alphabet"]


@pytest.mark.parametrize(
    ("value", "sealed"),
    [
        ("sg1:prod-2026-11:AAAA", True),
        ("sg1:k:AA_-==", True),
        ("sg1:" + "k" * 63 + ":A", True),
        ("sg1:" + "k" * 64 + ":A", False),
        ("sg1:-k:A", False),
        ("sg1:K:A", False),
        ("sg1:k:", False),
        ("sg1:k:A+/", False),
        ("sg1:k:A\n", False),
        ("sg2:k:A", False),
        ("hunter2", False),
    ],
)
def test_sealed_value_outline_agrees_with_the_schema(value: str, sealed: bool) -> None:
    set_schema = schema_for("SecretChange")["properties"]["spec"]["properties"]["set"]
    pattern = set_schema["additionalProperties"]["pattern"]
    assert pattern == "^sg1:[a-z0-9][a-z0-9-]{0,62}:[A-Za-z0-9_-]+={0,2}$"
    document = {
        "apiVersion": API_VERSION,
        "kind": "SecretChange",
        "metadata": {"name": "x"},
        "spec": {"environment": "e", "secret": "a/b", "reason": "r", "set": {"K": value}},
    }
    assert is_sealed(value) is sealed
    assert (check_against_schema("SecretChange", "f", document, {}) == []) is sealed


@pytest.mark.parametrize("name", ["production", "staging"])
def test_example_environments_are_valid(name: str) -> None:
    path = ROOT / "examples" / "environments" / f"{name}.yaml"
    data = path.read_bytes()
    validator = Draft202012Validator(dict(schema_for("Environment")))
    assert list(validator.iter_errors(yaml.safe_load(data))) == []
    environment = parse_environment(f"environments/{name}.yaml", data)
    assert environment.name == name
    assert environment.clusters
    assert environment.sealing_keys
