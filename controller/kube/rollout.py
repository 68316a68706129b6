"""Is a rollout done? kubectl's ``rollout status`` logic, on plain workload dicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RolloutStatus:
    done: bool
    message: str
    failed: bool = False
    watchable: bool = True
    """False for update strategies that never roll by themselves (``OnDelete``)."""


def _int(value: Any, default: int = 0) -> int:
    return int(value) if isinstance(value, int) else default


def _deadline_exceeded(status: Mapping[str, Any]) -> str | None:
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "Progressing"
            and condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            return str(condition.get("message") or "progress deadline exceeded")
    return None


def _generation_seen(obj: Mapping[str, Any]) -> bool:
    generation = _int((obj.get("metadata") or {}).get("generation"))
    observed = _int((obj.get("status") or {}).get("observedGeneration"), -1)
    return observed >= generation


def deployment_status(obj: Mapping[str, Any]) -> RolloutStatus:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not _generation_seen(obj):
        return RolloutStatus(False, "waiting for the rollout to be observed")
    failure = _deadline_exceeded(status)
    if failure is not None:
        return RolloutStatus(False, failure, failed=True)
    wanted = _int(spec.get("replicas"), 1)
    updated = _int(status.get("updatedReplicas"))
    replicas = _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    if updated < wanted:
        return RolloutStatus(False, f"{updated} of {wanted} new replicas updated")
    if replicas > updated:
        return RolloutStatus(False, f"{replicas - updated} old replicas pending termination")
    if available < updated:
        return RolloutStatus(False, f"{available} of {updated} updated replicas available")
    return RolloutStatus(True, "successfully rolled out")


def statefulset_status(obj: Mapping[str, Any]) -> RolloutStatus:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return RolloutStatus(
            True, "OnDelete update strategy: pods take the change when deleted", watchable=False
        )
    if _int(status.get("observedGeneration")) == 0 or not _generation_seen(obj):
        return RolloutStatus(False, "waiting for the rollout to be observed")
    failure = _deadline_exceeded(status)
    if failure is not None:
        return RolloutStatus(False, failure, failed=True)
    wanted = _int(spec.get("replicas"), 1)
    ready = _int(status.get("readyReplicas"))
    if ready < wanted:
        return RolloutStatus(False, f"{ready} of {wanted} pods ready")
    partition = _int((strategy.get("rollingUpdate") or {}).get("partition"))
    if partition > 0:
        updated = _int(status.get("updatedReplicas"))
        if updated < wanted - partition:
            return RolloutStatus(False, f"{updated} of {wanted - partition} pods updated")
        return RolloutStatus(True, "partitioned roll out complete")
    if status.get("updateRevision") != status.get("currentRevision"):
        return RolloutStatus(False, "waiting for pods to move to the update revision")
    return RolloutStatus(True, "successfully rolled out")


def daemonset_status(obj: Mapping[str, Any]) -> RolloutStatus:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") != "RollingUpdate":
        return RolloutStatus(
            True, "OnDelete update strategy: pods take the change when deleted", watchable=False
        )
    if not _generation_seen(obj):
        return RolloutStatus(False, "waiting for the rollout to be observed")
    failure = _deadline_exceeded(status)
    if failure is not None:
        return RolloutStatus(False, failure, failed=True)
    desired = _int(status.get("desiredNumberScheduled"))
    updated = _int(status.get("updatedNumberScheduled"))
    available = _int(status.get("numberAvailable"))
    if updated < desired:
        return RolloutStatus(False, f"{updated} of {desired} updated pods scheduled")
    if available < desired:
        return RolloutStatus(False, f"{available} of {desired} updated pods available")
    return RolloutStatus(True, "successfully rolled out")


def rollout_status(kind: str, obj: Mapping[str, Any]) -> RolloutStatus:
    if kind == "Deployment":
        return deployment_status(obj)
    if kind == "StatefulSet":
        return statefulset_status(obj)
    if kind == "DaemonSet":
        return daemonset_status(obj)
    raise ValueError(f"no rollout logic for kind {kind}")
