"""The rollout simulator: what the workload controllers of a real cluster would report.

After a pod-template change a workload's status moves from "old pods" to "new pods" over
``rollout_seconds``. Progress is a pure function of the elapsed time (``status_of``); a
background ticker in the object store (``state.ObjectStore``) writes it into the stored
objects, so GET, LIST and WATCH all see it advance, as they would on a real cluster.
A workload told to fail stalls with one new pod that never becomes ready; a Deployment then
reports ``Progressing=False`` with reason ``ProgressDeadlineExceeded`` once the rollout time
has passed (standing in for ``progressDeadlineSeconds``).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

WorkloadKey = tuple[str, str, str]  # (kind, namespace, name)

# Every DaemonSet runs one pod per node of this imaginary cluster.
NODE_COUNT = 3
# The alphabet Kubernetes uses for pod-template hashes (no vowels, no look-alikes).
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(workload: dict[str, Any]) -> str:
    template = workload.get("spec", {}).get("template", {})
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in digest[:10])


def timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Rollout:
    template: str
    previous: str | None
    started: float  # monotonic clock
    started_wall: float  # epoch seconds, for condition timestamps
    count: int
    # The progress the last reported status was computed from. `settled` must judge from
    # this same reading: reading the clock again could say "done" while the status just
    # written still says "in progress", and nothing would ever write the final status.
    reported_fraction: float = 0.0


class RolloutSimulator:
    """Per-workload rollout progress; not thread-safe on its own (the store locks)."""

    def __init__(
        self,
        rollout_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.rollout_seconds = rollout_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        self._rollouts: dict[WorkloadKey, _Rollout] = {}
        self._failing: dict[WorkloadKey, str] = {}

    def fail(self, key: WorkloadKey, message: str) -> None:
        self._failing[key] = message

    def heal(self, key: WorkloadKey) -> None:
        self._failing.pop(key, None)

    def count(self, key: WorkloadKey) -> int:
        rollout = self._rollouts.get(key)
        return rollout.count if rollout else 0

    def forget(self, key: WorkloadKey) -> None:
        self._rollouts.pop(key, None)

    def observe(self, key: WorkloadKey, workload: dict[str, Any]) -> None:
        """Note a write; a changed pod template starts a rollout, a new workload starts done."""
        current = template_hash(workload)
        rollout = self._rollouts.get(key)
        if rollout is None:
            self._rollouts[key] = _Rollout(current, None, self._clock(), self._wall_clock(), 0)
        elif rollout.template != current:
            old = rollout.template if self._done(key, rollout) else rollout.previous
            self._rollouts[key] = _Rollout(
                current, old, self._clock(), self._wall_clock(), rollout.count + 1
            )

    def _fraction(self, rollout: _Rollout) -> float:
        if self.rollout_seconds <= 0:
            return 1.0
        return min(1.0, (self._clock() - rollout.started) / self.rollout_seconds)

    def _done(self, key: WorkloadKey, rollout: _Rollout) -> bool:
        if rollout.previous is None:
            return True
        # A failing rollout never finishes, but it stops changing once its deadline passed.
        return self._fraction(rollout) >= 1.0 and key not in self._failing

    def settled(self, key: WorkloadKey) -> bool:
        """True when the status will not change any more without a new write."""
        rollout = self._rollouts.get(key)
        return rollout is None or rollout.previous is None or rollout.reported_fraction >= 1.0

    def status_of(self, key: WorkloadKey, workload: dict[str, Any]) -> dict[str, Any]:
        """The status the workload's controller would report now."""
        self.observe(key, workload)
        rollout = self._rollouts[key]
        fraction = self._fraction(rollout)
        rollout.reported_fraction = fraction
        if rollout.previous is not None and fraction >= 1.0 and key not in self._failing:
            rollout.previous = None
        kind = key[0]
        if kind == "Deployment":
            return self._deployment(key, workload, rollout, fraction)
        if kind == "StatefulSet":
            return self._statefulset(key, workload, rollout, fraction)
        return self._daemonset(key, workload, rollout, fraction)

    def _deployment(
        self, key: WorkloadKey, workload: dict[str, Any], rollout: _Rollout, fraction: float
    ) -> dict[str, Any]:
        name = key[2]
        replicas = int(workload.get("spec", {}).get("replicas", 1))
        created = workload.get("metadata", {}).get("creationTimestamp") or timestamp(
            rollout.started_wall
        )
        replica_set = f'ReplicaSet "{name}-{rollout.template}"'
        started = timestamp(rollout.started_wall)
        failing = key in self._failing
        if rollout.previous is None or replicas == 0:
            progressing = {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f"{replica_set} has successfully progressed.",
                "lastUpdateTime": timestamp(rollout.started_wall + self.rollout_seconds),
                "lastTransitionTime": started,
            }
            counts = {"replicas": replicas, "updatedReplicas": replicas}
            counts |= {"readyReplicas": replicas, "availableReplicas": replicas}
        else:
            new_ready = 0 if failing else min(replicas - 1, math.floor(fraction * replicas))
            # One surge pod: the next new pod starts before an old one stops.
            counts = {
                "replicas": replicas + 1,
                "updatedReplicas": new_ready + 1,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "unavailableReplicas": 1,
            }
            if failing and fraction >= 1.0:
                progressing = {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": self._failing[key] or f"{replica_set} has timed out progressing.",
                    "lastUpdateTime": timestamp(rollout.started_wall + self.rollout_seconds),
                    "lastTransitionTime": timestamp(rollout.started_wall + self.rollout_seconds),
                }
            else:
                progressing = {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "ReplicaSetUpdated",
                    "message": f"{replica_set} is progressing.",
                    "lastUpdateTime": started,
                    "lastTransitionTime": started,
                }
        available = {
            "type": "Available",
            "status": "True",
            "reason": "MinimumReplicasAvailable",
            "message": "Deployment has minimum availability.",
            "lastUpdateTime": created,
            "lastTransitionTime": created,
        }
        status: dict[str, Any] = {
            "observedGeneration": workload.get("metadata", {}).get("generation", 1),
            **{k: v for k, v in counts.items() if v},
            "conditions": [available, progressing],
        }
        return status

    def _statefulset(
        self, key: WorkloadKey, workload: dict[str, Any], rollout: _Rollout, fraction: float
    ) -> dict[str, Any]:
        name = key[2]
        replicas = int(workload.get("spec", {}).get("replicas", 1))
        update_revision = f"{name}-{rollout.template}"
        if rollout.previous is None or replicas == 0:
            updated = ready = current = replicas
            current_revision = update_revision
        else:
            # Pods are replaced one at a time, highest ordinal first.
            updated = 0 if key in self._failing else min(replicas - 1, int(fraction * replicas))
            ready = replicas - 1
            current = replicas - updated
            current_revision = f"{name}-{rollout.previous}"
        counts = {
            "replicas": replicas,
            "readyReplicas": ready,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "availableReplicas": ready,
        }
        return {
            "observedGeneration": workload.get("metadata", {}).get("generation", 1),
            **{k: v for k, v in counts.items() if v},
            "currentRevision": current_revision,
            "updateRevision": update_revision,
            "collisionCount": 0,
        }

    def _daemonset(
        self, key: WorkloadKey, workload: dict[str, Any], rollout: _Rollout, fraction: float
    ) -> dict[str, Any]:
        nodes = NODE_COUNT
        if rollout.previous is None:
            updated = available = nodes
        else:
            updated = 0 if key in self._failing else min(nodes - 1, int(fraction * nodes))
            available = nodes - 1
        return {
            "observedGeneration": workload.get("metadata", {}).get("generation", 1),
            "currentNumberScheduled": nodes,
            "desiredNumberScheduled": nodes,
            "numberMisscheduled": 0,
            "numberReady": available,
            "numberAvailable": available,
            **({"numberUnavailable": nodes - available} if nodes > available else {}),
            **({"updatedNumberScheduled": updated} if updated else {}),
        }
