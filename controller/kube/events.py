"""A core/v1 Event on a Secret sealgate wrote: who, from which change, never what."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from controller.kube import names
from controller.kube.api import Obj
from controller.kube.results import Provenance, SecretOutcome


def _time(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def sync_event(
    secret: Mapping[str, Any],
    outcome: SecretOutcome,
    provenance: Provenance,
    now: datetime,
    *,
    instance: str = "",
) -> Obj:
    meta = secret.get("metadata") or {}
    name, namespace = str(meta.get("name", "")), str(meta.get("namespace", ""))
    pull = (
        f", pull request #{provenance.pull_request}" if provenance.pull_request is not None else ""
    )
    message = (
        f"Secret {outcome.value} by sealgate from store version {provenance.store_version} "
        f"(change {provenance.change_id or 'unknown'}{pull})"
    )
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{name}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Secret",
            "name": name,
            "namespace": namespace,
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": names.EVENT_REASON,
        "message": message,
        "type": "Normal",
        "source": {"component": names.COMPONENT},
        "reportingComponent": names.COMPONENT,
        "reportingInstance": instance or names.COMPONENT,
        "firstTimestamp": _time(now),
        "lastTimestamp": _time(now),
        "count": 1,
    }
