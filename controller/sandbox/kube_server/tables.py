"""Server-side printing: ``meta.k8s.io/v1`` Tables, which ``kubectl get`` asks for.

The columns are the ones a real API server prints for each kind; ages use the same
human-readable durations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from controller.sandbox.kube_server.resources import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    DAEMONSETS,
    DEPLOYMENTS,
    EVENTS,
    LEASES,
    NAMESPACES,
    ROLEBINDINGS,
    ROLES,
    SECRETS,
    STATEFULSETS,
    ResourceType,
)

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"
Column = tuple[str, str, int, Callable[[dict[str, Any]], Any]]  # name, type, priority, cell


def wants_table(accept: str) -> bool:
    for offer in accept.split(","):
        params = {p.strip() for p in offer.split(";")[1:]}
        if {"as=Table", "g=meta.k8s.io", "v=v1"} <= params:
            return True
    return False


def human_duration(seconds: float) -> str:
    """Kubernetes' HumanDuration: "45s", "3m20s", "5h12m", "3d4h", "2y30d"."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return f"{minutes}m" if whole % 60 == 0 else f"{minutes}m{whole % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age_of(stamp: str | None) -> str:
    if not stamp:
        return "<unknown>"
    created = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return human_duration(time.time() - created)


def _name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def _age(obj: dict[str, Any]) -> str:
    return _age_of(obj["metadata"].get("creationTimestamp"))


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj.get("spec") or {}
    return spec


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    status: dict[str, Any] = obj.get("status") or {}
    return status


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = (
        _spec(obj).get("template", {}).get("spec", {}).get("containers") or []
    )
    return containers


def _container_names(obj: dict[str, Any]) -> str:
    return ",".join(c.get("name", "") for c in _containers(obj))


def _images(obj: dict[str, Any]) -> str:
    return ",".join(c.get("image", "") for c in _containers(obj))


def _selector(obj: dict[str, Any]) -> str:
    labels = (_spec(obj).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _event_object(obj: dict[str, Any]) -> str:
    involved = obj.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _event_seen(obj: dict[str, Any]) -> str:
    return _age_of(
        obj.get("lastTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp")
    )


NAME: Column = ("Name", "string", 0, _name)
AGE: Column = ("Age", "string", 0, _age)


def _role_ref(obj: dict[str, Any]) -> str:
    ref = obj.get("roleRef") or {}
    return f"{ref.get('kind', '')}/{ref.get('name', '')}"


def _created(obj: dict[str, Any]) -> str:
    return str(obj["metadata"].get("creationTimestamp", ""))


COLUMNS: dict[ResourceType, list[Column]] = {
    SECRETS: [
        NAME,
        ("Type", "string", 0, lambda o: o.get("type", "Opaque")),
        ("Data", "integer", 0, lambda o: len(o.get("data") or {})),
        AGE,
    ],
    NAMESPACES: [NAME, ("Status", "string", 0, lambda o: _status(o).get("phase", "")), AGE],
    EVENTS: [
        ("Last Seen", "string", 0, _event_seen),
        ("Type", "string", 0, lambda o: o.get("type", "")),
        ("Reason", "string", 0, lambda o: o.get("reason", "")),
        ("Object", "string", 0, _event_object),
        ("Message", "string", 0, lambda o: o.get("message", "")),
    ],
    DEPLOYMENTS: [
        NAME,
        (
            "Ready",
            "string",
            0,
            lambda o: f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 1)}",
        ),
        ("Up-to-date", "integer", 0, lambda o: _status(o).get("updatedReplicas", 0)),
        ("Available", "integer", 0, lambda o: _status(o).get("availableReplicas", 0)),
        AGE,
        ("Containers", "string", 1, _container_names),
        ("Images", "string", 1, _images),
        ("Selector", "string", 1, _selector),
    ],
    STATEFULSETS: [
        NAME,
        (
            "Ready",
            "string",
            0,
            lambda o: f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 1)}",
        ),
        AGE,
        ("Containers", "string", 1, _container_names),
        ("Images", "string", 1, _images),
    ],
    DAEMONSETS: [
        NAME,
        ("Desired", "integer", 0, lambda o: _status(o).get("desiredNumberScheduled", 0)),
        ("Current", "integer", 0, lambda o: _status(o).get("currentNumberScheduled", 0)),
        ("Ready", "integer", 0, lambda o: _status(o).get("numberReady", 0)),
        ("Up-to-date", "integer", 0, lambda o: _status(o).get("updatedNumberScheduled", 0)),
        ("Available", "integer", 0, lambda o: _status(o).get("numberAvailable", 0)),
        (
            "Node Selector",
            "string",
            0,
            lambda o: (
                ",".join(
                    f"{k}={v}"
                    for k, v in sorted(
                        (
                            _spec(o).get("template", {}).get("spec", {}).get("nodeSelector") or {}
                        ).items()
                    )
                )
                or "<none>"
            ),
        ),
        AGE,
        ("Containers", "string", 1, _container_names),
        ("Images", "string", 1, _images),
        ("Selector", "string", 1, _selector),
    ],
    LEASES: [NAME, ("Holder", "string", 0, lambda o: _spec(o).get("holderIdentity", "")), AGE],
    # kubectl shows a role's creation time and a binding's role, as a real server's tables do.
    ROLES: [
        NAME,
        ("Created At", "string", 0, lambda o: o["metadata"].get("creationTimestamp", "")),
    ],
    CLUSTERROLES: [NAME, ("Created At", "string", 0, _created)],
    ROLEBINDINGS: [NAME, ("Role", "string", 0, _role_ref), AGE],
    CLUSTERROLEBINDINGS: [NAME, ("Role", "string", 0, _role_ref), AGE],
}


def _row_object(obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(
    rtype: ResourceType,
    objects: list[dict[str, Any]],
    list_metadata: dict[str, Any],
    include_object: str = "PartialObjectMetadata",
) -> dict[str, Any]:
    """A Table of ``objects`` (full objects, with kind and apiVersion)."""
    columns = COLUMNS[rtype]
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [cell(obj) for _, _, _, cell in columns]}
        row_object = _row_object(obj, include_object)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata,
        "columnDefinitions": [
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" else "",
                "description": "",
                "priority": priority,
            }
            for name, kind, priority, _ in columns
        ],
        "rows": rows,
    }
