"""Discovery documents: how clients (kubectl above all) learn what this server serves.

Both forms are offered: the legacy one (``/api``, ``/apis``, then one ``APIResourceList``
per group version) and the aggregated one (``APIGroupDiscoveryList`` for ``/api`` and
``/apis``), chosen by the request's Accept header as a real server does.
"""

from __future__ import annotations

from typing import Any

from controller.sandbox.kube_server.resources import (
    ALL_TYPES,
    GROUP_VERSIONS,
    ResourceType,
    in_group_version,
)

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
STATUS_VERBS = ["get", "patch", "update"]
KUBERNETES_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0"}


def wants_aggregated(accept: str) -> bool:
    """True when the client prefers aggregated discovery v2 (kubectl 1.30+ asks first)."""
    for offer in accept.split(","):
        params = {p.strip() for p in offer.split(";")[1:]}
        if {"g=apidiscovery.k8s.io", "v=v2", "as=APIGroupDiscoveryList"} <= params:
            return True
    return False


def version() -> dict[str, Any]:
    return {
        **KUBERNETES_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-12-11T00:00:00Z",
        "goVersion": "go1.23.3",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def core_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": list(GROUP_VERSIONS[""]),
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(name: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{name}/{v}", "version": v} for v in GROUP_VERSIONS[name]]
    return {"name": name, "versions": versions, "preferredVersion": versions[0]}


def group_list() -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(name) for name in GROUP_VERSIONS if name],
    }


def group(name: str) -> dict[str, Any] | None:
    if not name or name not in GROUP_VERSIONS:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name)}


def _legacy_resources(rtype: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rtype.plural,
        "singularName": rtype.singular,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": list(rtype.verbs),
    }
    if rtype.short_names:
        main["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        main["categories"] = list(rtype.categories)
    found = [main]
    if rtype.has_status:
        found.append(
            {
                "name": f"{rtype.plural}/status",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": STATUS_VERBS,
            }
        )
    for sub in rtype.subresources:
        found.append(
            {
                "name": f"{rtype.plural}/{sub.name}",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "group": sub.group,
                "version": sub.version,
                "kind": sub.kind,
                "verbs": list(sub.verbs),
            }
        )
    return found


def resource_list(group_name: str, version_name: str) -> dict[str, Any] | None:
    served = in_group_version(group_name, version_name)
    if not served:
        return None
    group_version = f"{group_name}/{version_name}" if group_name else version_name
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [entry for rtype in served for entry in _legacy_resources(rtype)],
    }


def _aggregated_resource(rtype: ResourceType) -> dict[str, Any]:
    kind = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
    entry: dict[str, Any] = {
        "resource": rtype.plural,
        "responseKind": kind,
        "scope": "Namespaced" if rtype.namespaced else "Cluster",
        "singularResource": rtype.singular,
        "verbs": list(rtype.verbs),
    }
    if rtype.short_names:
        entry["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        entry["categories"] = list(rtype.categories)
    subresources = []
    if rtype.has_status:
        subresources.append({"subresource": "status", "responseKind": kind, "verbs": STATUS_VERBS})
    for sub in rtype.subresources:
        response_kind = {"group": sub.group, "version": sub.version, "kind": sub.kind}
        subresources.append(
            {"subresource": sub.name, "responseKind": response_kind, "verbs": list(sub.verbs)}
        )
    if subresources:
        entry["subresources"] = subresources
    return entry


def aggregated(core: bool) -> dict[str, Any]:
    """``APIGroupDiscoveryList`` for ``/api`` (core) or ``/apis`` (named groups)."""
    items = []
    for name, versions in GROUP_VERSIONS.items():
        if bool(name) == core:
            continue
        items.append(
            {
                "metadata": {"name": name} if name else {},
                "versions": [
                    {
                        "version": v,
                        "resources": [
                            _aggregated_resource(r)
                            for r in ALL_TYPES
                            if r.group_version == (name, v)
                        ],
                        "freshness": "Current",
                    }
                    for v in versions
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }
