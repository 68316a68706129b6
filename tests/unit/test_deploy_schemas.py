"""Schemas the deploy manifests are checked against (used by ``test_deploy_manifests``).

``strict_validator``: a definition from the official Kubernetes schema subset in
``tests/api_specs``, with every object that lists its properties closed to others, as the API
server's strict field validation (``kubectl apply --validate=strict``) is.

``STRUCTURAL_KINDS``: the kinds the subset lacks, written here from the Kubernetes API
reference (core/v1 ConfigMap, Service, ServiceAccount; policy/v1 PodDisruptionBudget;
networking.k8s.io/v1 NetworkPolicy and Ingress) and the Prometheus Operator's CRD
(monitoring.coreos.com/v1 ServiceMonitor), limited to the fields the manifests may use and
closed to others. Shared pieces (ObjectMeta, LabelSelector, IntOrString) come from the
official subset.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft4Validator

from tests.api_specs import HERE, problems

_DEF = "#/definitions/"
META = {"$ref": _DEF + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
SELECTOR = {"$ref": _DEF + "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"}
INT_OR_STRING = {"$ref": _DEF + "io.k8s.apimachinery.pkg.util.intstr.IntOrString"}
NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
PROTOCOL = {"enum": ["TCP", "UDP", "SCTP"]}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def _closed(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


def _kind(api_version: str, kind: str, **fields: Any) -> dict[str, Any]:
    return _closed(
        {"apiVersion": {"enum": [api_version]}, "kind": {"enum": [kind]}, "metadata": META}
        | fields,
        "apiVersion",
        "kind",
        "metadata",
    )


def _close(node: Any) -> Any:
    if isinstance(node, list):
        return [_close(n) for n in node]
    if not isinstance(node, dict):
        return node
    closed = {k: _close(v) for k, v in node.items()}
    if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
        closed["additionalProperties"] = False
    return closed


@cache
def _definitions() -> dict[str, Any]:
    spec = json.loads((HERE / "kubernetes-subset.json").read_text())
    defs: dict[str, Any] = _close(spec["definitions"])
    # The subset writes IntOrString as a string (see tests/api_specs/README.md).
    defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["integer", "string"]}
    return defs


def strict_validator(name: str) -> Draft4Validator:
    """A definition such as ``io.k8s.api.apps.v1.Deployment``, closed to unknown fields."""
    return Draft4Validator({"$ref": _DEF + name, "definitions": _definitions()})


def _structural(schema: dict[str, Any]) -> Draft4Validator:
    return Draft4Validator({**schema, "definitions": _definitions()})


_PEER = _closed(
    {
        "namespaceSelector": SELECTOR,
        "podSelector": SELECTOR,
        "ipBlock": _closed(
            {"cidr": {"type": "string"}, "except": {"type": "array", "items": {"type": "string"}}},
            "cidr",
        ),
    }
)
_POLICY_PORT = _closed({"protocol": PROTOCOL, "port": INT_OR_STRING, "endPort": PORT})
_SERVICE_BACKEND = _closed(
    {
        "name": NAME,
        "port": {
            "oneOf": [_closed({"name": NAME}, "name"), _closed({"number": PORT}, "number")],
        },
    },
    "name",
    "port",
)

STRUCTURAL_KINDS: dict[tuple[str, str], Draft4Validator] = {
    ("v1", "ServiceAccount"): _structural(
        _kind(
            "v1",
            "ServiceAccount",
            automountServiceAccountToken={"type": "boolean"},
            imagePullSecrets={"type": "array", "items": _closed({"name": NAME}, "name")},
        )
    ),
    ("v1", "ConfigMap"): _structural(
        _kind("v1", "ConfigMap", data=STRING_MAP, binaryData=STRING_MAP, immutable={})
    ),
    ("v1", "Service"): _structural(
        _kind(
            "v1",
            "Service",
            spec=_closed(
                {
                    "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                    "selector": STRING_MAP,
                    "ports": {
                        "type": "array",
                        "minItems": 1,
                        "items": _closed(
                            {
                                "name": NAME,
                                "port": PORT,
                                "targetPort": INT_OR_STRING,
                                "protocol": PROTOCOL,
                                "appProtocol": {"type": "string"},
                            },
                            "port",
                        ),
                    },
                },
                "ports",
            ),
        )
    ),
    ("policy/v1", "PodDisruptionBudget"): _structural(
        _kind(
            "policy/v1",
            "PodDisruptionBudget",
            spec={
                **_closed(
                    {
                        "minAvailable": INT_OR_STRING,
                        "maxUnavailable": INT_OR_STRING,
                        "selector": SELECTOR,
                        "unhealthyPodEvictionPolicy": {"enum": ["IfHealthyBudget", "AlwaysAllow"]},
                    },
                    "selector",
                ),
                # The API server refuses a budget that sets both.
                "not": {"required": ["minAvailable", "maxUnavailable"]},
            },
        )
    ),
    ("networking.k8s.io/v1", "NetworkPolicy"): _structural(
        _kind(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            spec=_closed(
                {
                    "podSelector": SELECTOR,
                    "policyTypes": {
                        "type": "array",
                        "items": {"enum": ["Ingress", "Egress"]},
                        "uniqueItems": True,
                    },
                    "ingress": {
                        "type": "array",
                        "items": _closed(
                            {
                                "from": {"type": "array", "items": _PEER},
                                "ports": {"type": "array", "items": _POLICY_PORT},
                            }
                        ),
                    },
                    "egress": {
                        "type": "array",
                        "items": _closed(
                            {
                                "to": {"type": "array", "items": _PEER},
                                "ports": {"type": "array", "items": _POLICY_PORT},
                            }
                        ),
                    },
                },
                "podSelector",
            ),
        )
    ),
    ("networking.k8s.io/v1", "Ingress"): _structural(
        _kind(
            "networking.k8s.io/v1",
            "Ingress",
            spec=_closed(
                {
                    "ingressClassName": {"type": "string"},
                    "tls": {
                        "type": "array",
                        "items": _closed(
                            {
                                "hosts": {"type": "array", "items": {"type": "string"}},
                                "secretName": {"type": "string"},
                            }
                        ),
                    },
                    "rules": {
                        "type": "array",
                        "items": _closed(
                            {
                                "host": {"type": "string"},
                                "http": _closed(
                                    {
                                        "paths": {
                                            "type": "array",
                                            "minItems": 1,
                                            "items": _closed(
                                                {
                                                    "path": {"type": "string", "pattern": "^/"},
                                                    "pathType": {
                                                        "enum": [
                                                            "Exact",
                                                            "Prefix",
                                                            "ImplementationSpecific",
                                                        ]
                                                    },
                                                    "backend": _closed(
                                                        {"service": _SERVICE_BACKEND}, "service"
                                                    ),
                                                },
                                                "pathType",
                                                "backend",
                                            ),
                                        }
                                    },
                                    "paths",
                                ),
                            }
                        ),
                    },
                }
            ),
        )
    ),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _structural(
        _kind(
            "monitoring.coreos.com/v1",
            "ServiceMonitor",
            spec=_closed(
                {
                    "selector": SELECTOR,
                    "namespaceSelector": _closed(
                        {
                            "any": {"type": "boolean"},
                            "matchNames": {"type": "array", "items": NAME},
                        }
                    ),
                    "endpoints": {
                        "type": "array",
                        "minItems": 1,
                        "items": _closed(
                            {
                                "port": NAME,
                                "path": {"type": "string", "pattern": "^/"},
                                "scheme": {"enum": ["http", "https"]},
                                "interval": {"type": "string", "pattern": r"^\d+[smh]$"},
                                "scrapeTimeout": {"type": "string", "pattern": r"^\d+[smh]$"},
                            }
                        ),
                    },
                },
                "selector",
                "endpoints",
            ),
        )
    ),
}


def test_the_structural_schemas_are_json_schema() -> None:
    for validator in STRUCTURAL_KINDS.values():
        Draft4Validator.check_schema(validator.schema)


@pytest.mark.parametrize(
    ("key", "body"),
    [
        (("v1", "ConfigMap"), {"data": {"a": 1}}),
        (("v1", "Service"), {"spec": {"ports": [{"port": 8080, "targetPort": "http", "x": 1}]}}),
        (("v1", "Service"), {"spec": {"ports": []}}),
        (("v1", "ServiceAccount"), {"automountServiceAcountToken": False}),
        (
            ("policy/v1", "PodDisruptionBudget"),
            {"spec": {"minAvailable": 1, "maxUnavailable": 1, "selector": {}}},
        ),
        (("networking.k8s.io/v1", "NetworkPolicy"), {"spec": {"policyTypes": ["Sideways"]}}),
        (
            ("networking.k8s.io/v1", "Ingress"),
            {"spec": {"rules": [{"http": {"paths": [{"path": "/x", "pathType": "Exact"}]}}]}},
        ),
        (("monitoring.coreos.com/v1", "ServiceMonitor"), {"spec": {"selector": {}}}),
    ],
)
def test_the_structural_schemas_reject_mistakes(key: tuple[str, str], body: dict[str, Any]) -> None:
    obj = {"apiVersion": key[0], "kind": key[1], "metadata": {"name": "x"}, **body}
    assert problems(STRUCTURAL_KINDS[key], obj)


def test_the_strict_copy_closes_objects_the_official_schema_leaves_open() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "tpye": "Opaque"}
    raw = json.loads((HERE / "kubernetes-subset.json").read_text())["definitions"]
    official = Draft4Validator({"$ref": _DEF + "io.k8s.api.core.v1.Secret", "definitions": raw})
    assert problems(official, secret) == []
    assert any("tpye" in p for p in problems(strict_validator("io.k8s.api.core.v1.Secret"), secret))
    # Maps stay maps: labels and Secret data accept any key.
    labelled = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "x", "labels": {"any.example/key": "v"}},
        "data": {"any-key": "dmFsdWU="},
    }
    assert problems(strict_validator("io.k8s.api.core.v1.Secret"), labelled) == []
