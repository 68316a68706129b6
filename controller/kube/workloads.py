"""Which workloads use a Secret, read from their pod templates (pure functions on dicts)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from controller.kube.names import RESTART


def _pod_spec(workload: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = workload.get("spec") or {}
    template = spec.get("template") or {}
    pod_spec: Mapping[str, Any] = template.get("spec") or {}
    return pod_spec


def _containers(pod_spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    # Ephemeral containers cannot be part of a template; sidecars are init containers.
    for group in ("initContainers", "containers"):
        yield from pod_spec.get(group) or []


def referenced_secrets(workload: Mapping[str, Any]) -> frozenset[str]:
    """Names of every Secret the pod template reads, in env, envFrom, volumes or projections."""
    pod_spec = _pod_spec(workload)
    names: set[str] = set()
    for container in _containers(pod_spec):
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name"):
                names.add(ref["name"])
        for source in container.get("envFrom") or []:
            ref = source.get("secretRef") or {}
            if ref.get("name"):
                names.add(ref["name"])
    for volume in pod_spec.get("volumes") or []:
        secret = volume.get("secret") or {}
        if secret.get("secretName"):
            names.add(secret["secretName"])
        for projection in (volume.get("projected") or {}).get("sources") or []:
            ref = projection.get("secret") or {}
            if ref.get("name"):
                names.add(ref["name"])
    return frozenset(names)


def restart_disabled(workload: Mapping[str, Any]) -> bool:
    annotations = (workload.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(RESTART, "")).strip().lower() == "false"


def template_annotations(workload: Mapping[str, Any]) -> Mapping[str, str]:
    template = (workload.get("spec") or {}).get("template") or {}
    annotations: Mapping[str, str] = (template.get("metadata") or {}).get("annotations") or {}
    return annotations


def name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))
