"""Validators for loopback-server responses against the official API descriptions.

The JSON files here are copies of the project's shared API descriptions, so the suite runs
from a bare checkout; ``tests/unit/test_api_specs.py`` fails if the copy drifts from the
shared originals when those sit beside the checkout.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

HERE = Path(__file__).resolve().parent


def _oas30(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: turn ``nullable: true`` into an allowed null."""
    if isinstance(node, list):
        return [_oas30(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: _oas30(v) for k, v in node.items()}
    if node.get("nullable") is True:
        del node["nullable"]
        if "enum" in node and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def _github_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((HERE / "github-rest-subset.json").read_text())
    return spec


@cache
def _github_components() -> Any:
    return _oas30(_github_spec()["components"])


def github_validator(method: str, path: str, status: int) -> Draft4Validator:
    """Validator for the JSON body of one documented GitHub response.

    ``path`` is the templated path as the description spells it, e.g.
    ``/repos/{owner}/{repo}/pulls/{pull_number}``.
    """
    spec = _github_spec()
    resp = spec["paths"][path][method.lower()]["responses"][str(status)]
    if "$ref" in resp:
        resp = spec["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
    schema = resp["content"]["application/json"]["schema"]
    return Draft4Validator({**_oas30(schema), "components": _github_components()})


def github_schema_validator(name: str) -> Draft4Validator:
    """Validator for one named schema, e.g. ``pull-request`` or ``webhook-pull-request-opened``."""
    return Draft4Validator(
        {"$ref": "#/components/schemas/" + name, "components": _github_components()}
    )


@cache
def _k8s_definitions() -> dict[str, Any]:
    spec = json.loads((HERE / "kubernetes-subset.json").read_text())
    defs: dict[str, Any] = dict(spec["definitions"])
    defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["integer", "string"]}
    return defs


def k8s_validator(name: str) -> Draft4Validator:
    """Validator for one definition, e.g. ``io.k8s.api.apps.v1.Deployment``."""
    return Draft4Validator({"$ref": "#/definitions/" + name, "definitions": _k8s_definitions()})


def problems(validator: Draft4Validator, body: Any) -> list[str]:
    """Every validation problem, each with the JSON path where it sits (empty when valid)."""
    return [f"{e.json_path}: {e.message}" for e in sorted(validator.iter_errors(body), key=str)]
