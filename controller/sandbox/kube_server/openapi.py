"""A deliberately thin OpenAPI v3 description of the served resources.

kubectl fetches ``/openapi/v3`` before ``apply`` to learn whether the server validates
fields itself (the ``fieldValidation`` query parameter on each kind's PATCH operation);
without an answer it insists on downloading full schemas to validate on the client. These
documents list every served operation with its group-version-kind and parameters, but no
object schemas, and they advertise the PATCH media types without strategic merge patch so
kubectl computes strategic patches from its built-in type metadata, not from a schema.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from controller.sandbox.kube_server.discovery import KUBERNETES_VERSION
from controller.sandbox.kube_server.patch import JSON_PATCH, MERGE_PATCH
from controller.sandbox.kube_server.resources import ALL_TYPES, GROUP_VERSIONS, ResourceType

_QUERY_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation", "pretty")


def gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _operation(rtype: ResourceType, action: str, body: tuple[str, ...]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": f"{action}{rtype.kind}",
        "parameters": [
            {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for name in _QUERY_PARAMETERS
        ],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": rtype.group,
            "version": rtype.version,
            "kind": rtype.kind,
        },
    }
    if body:
        operation["requestBody"] = {
            "content": {media: {"schema": {"type": "object"}} for media in body}
        }
    return operation


def _paths(rtype: ResourceType) -> dict[str, Any]:
    base = "/" + gv_path(rtype.group, rtype.version)
    scope = f"{base}/namespaces/{{namespace}}" if rtype.namespaced else base
    item = {
        "get": _operation(rtype, "get", ()),
        "put": _operation(rtype, "put", ("application/json",)),
        "patch": _operation(rtype, "patch", (JSON_PATCH, MERGE_PATCH)),
        "delete": _operation(rtype, "delete", ()),
    }
    collection = {
        "get": _operation(rtype, "list", ()),
        "post": _operation(rtype, "post", ("application/json",)),
    }
    if "get" not in rtype.verbs:
        # A create-only kind (TokenReview) has a collection path with POST and nothing else.
        return {f"{scope}/{rtype.plural}": {"post": collection["post"]}}
    return {f"{scope}/{rtype.plural}": collection, f"{scope}/{rtype.plural}/{{name}}": item}


@cache
def group_version_document(group: str, version: str) -> dict[str, Any] | None:
    served = [r for r in ALL_TYPES if r.group_version == (group, version)]
    if not served:
        return None
    paths: dict[str, Any] = {}
    for rtype in served:
        paths.update(_paths(rtype))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _hash(document: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32].upper()


def index() -> dict[str, Any]:
    """``/openapi/v3``: where each group version's document lives."""
    paths = {}
    for group, versions in GROUP_VERSIONS.items():
        for version in versions:
            document = group_version_document(group, version)
            if document is not None:
                path = gv_path(group, version)
                paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={_hash(document)}"}
    return {"paths": paths}
