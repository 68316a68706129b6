"""Apply one environment's share of a merged pull request, sync it, roll back on failure.

Each step is safe to repeat: the store's change-id index turns a second apply into a lookup,
the Secret's keyed checksum turns a second sync into reads only, and a rollback happens only
while the store still holds the version this change produced (so a repeat after a crash, or
after a later change, never rolls back twice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from controller.kube.results import DesiredSecret, Provenance, RolloutOutcome, SyncReport
from controller.model import RolloutFailure, SecretChange
from controller.reconciler.ports import Observer, StorePort, TargetsPort
from controller.store.crashpoint import crashpoint
from controller.store.types import ApplyResult, ApprovalRecord, PullRequestOrigin

log = logging.getLogger(__name__)

_FAILED_ROLLOUTS = frozenset({RolloutOutcome.FAILED, RolloutOutcome.TIMEOUT})


def change_id_for(environment: str, number: int) -> str:
    """One store apply per (environment, pull request): all its changes there, atomically."""
    return f"{environment}/pr-{number}"


def pull_request_of(change_id: str) -> int | None:
    """The pull request a change id names, for provenance; None for rollbacks and others."""
    _, _, tail = change_id.rpartition("/pr-")
    return int(tail) if tail.isdigit() else None


@dataclass(frozen=True)
class EnvironmentOutcome:
    environment: str
    change_id: str
    applied: ApplyResult
    sync: SyncReport
    rollbacks: tuple[ApplyResult, ...] = ()
    rollback_sync: SyncReport | None = None
    clusters: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    """Paths whose rollout failed and which keep the new value (``onRolloutFailure: keep``,
    or rollbacks disabled by the controller)."""

    @property
    def rollout_failed(self) -> bool:
        return any(w.outcome in _FAILED_ROLLOUTS for w in self.sync.workloads)

    @property
    def ok(self) -> bool:
        return self.sync.ok


class Delivery:
    def __init__(
        self,
        store: StorePort,
        targets: TargetsPort,
        observer: Observer,
        *,
        actor: str,
        rollout_timeout_s: float,
        rollback_on_failure: bool,
    ) -> None:
        self._store = store
        self._targets = targets
        self._observer = observer
        self._actor = actor
        self._timeout = rollout_timeout_s
        self._rollback = rollback_on_failure

    def apply(
        self, change_id: str, changes: Sequence[SecretChange], record: ApprovalRecord
    ) -> ApplyResult:
        started = time.monotonic()
        result = self._store.apply(change_id, changes, record)
        self._observer.latency("apply", time.monotonic() - started)
        if not result.already_applied:
            self._observer.applied(changes[0].environment)
        crashpoint("reconciler.after-apply")
        return result

    def deliver(
        self,
        environment: str,
        applied: ApplyResult,
        clusters: Sequence[str],
        *,
        origin: PullRequestOrigin | None = None,
        on_written: Callable[[], None] | None = None,
    ) -> EnvironmentOutcome:
        """Sync what ``applied`` touched into every cluster; roll back a failed rollout.

        ``on_written`` is called once the last cluster holds the new content, before its
        rollouts are watched (not at all when some Secret could not be written)."""
        paths = sorted(applied.versions)
        report = self.sync(environment, paths, clusters, on_written=on_written)
        crashpoint("reconciler.after-sync")
        outcome = EnvironmentOutcome(
            environment, applied.change_id, applied, report, clusters=tuple(clusters)
        )
        if not outcome.rollout_failed:
            return outcome
        # Decided per change at review and recorded with the apply; nothing recorded (an
        # apply from before the field existed) keeps the new value.
        wanted = {
            path: self._rollback and applied.on_rollout_failure.get(path) is RolloutFailure.ROLLBACK
            for path in paths
        }
        kept = tuple(path for path in paths if not wanted[path])
        for path in kept:
            log.warning(
                "%s: rollout failed after %s; the new value is kept in store and cluster",
                path,
                applied.change_id,
            )
        rollbacks: list[ApplyResult] = []
        for path in paths:
            rolled = self._roll_back(environment, path, applied, origin) if wanted[path] else None
            if rolled is not None:
                rollbacks.append(rolled)
        if not rollbacks:
            return EnvironmentOutcome(
                environment,
                applied.change_id,
                applied,
                report,
                clusters=tuple(clusters),
                kept=kept,
            )
        crashpoint("reconciler.after-rollback")
        again = self.sync(environment, paths, clusters)
        return EnvironmentOutcome(
            environment,
            applied.change_id,
            applied,
            report,
            rollbacks=tuple(rollbacks),
            rollback_sync=again,
            clusters=tuple(clusters),
            kept=kept,
        )

    def _roll_back(
        self,
        environment: str,
        path: str,
        applied: ApplyResult,
        origin: PullRequestOrigin | None,
    ) -> ApplyResult | None:
        version = applied.versions[path]
        secret = path.split("/", 1)[1]
        current = self._store.read_secret(environment, secret)
        if current is None or current.version != version:
            # Changed since (a later change, or this rollback before a crash): leave it.
            return None
        if version <= 1:
            log.warning("%s: rollout failed but version 1 has no predecessor to return to", path)
            return None
        result = self._store.rollback(
            environment,
            secret,
            version - 1,
            actor=self._actor,
            reason=(
                f"rollout failed after {applied.change_id} (onRolloutFailure: rollback): "
                "the value that change replaced is in use again"
            ),
            origin=origin,
        )
        log.warning(
            "%s: rollout failed after %s; rolled back to version %d as version %d",
            path,
            applied.change_id,
            version - 1,
            result.versions.get(path, 0),
        )
        self._observer.rolled_back(environment)
        return result

    def sync(
        self,
        environment: str,
        paths: Sequence[str],
        clusters: Sequence[str],
        *,
        on_written: Callable[[], None] | None = None,
    ) -> SyncReport:
        """Push the store's current content of ``paths`` into ``clusters``."""
        desired: list[DesiredSecret] = []
        for path in paths:
            namespace_name = path.split("/", 1)[1]
            data = self._store.read_secret(environment, namespace_name)
            if data is None:
                continue
            namespace, name = namespace_name.split("/", 1)
            desired.append(
                DesiredSecret(
                    namespace,
                    name,
                    data.data,
                    Provenance(data.version, data.change_id, pull_request_of(data.change_id)),
                    data.shape,
                )
            )
        report = SyncReport()
        started = time.monotonic()
        for index, cluster in enumerate(clusters):
            # Clusters are synced (and their rollouts watched) one after the other: only the
            # last one's write means the content is everywhere.
            last = index == len(clusters) - 1
            one = self._targets.sync_many(
                cluster,
                desired,
                wait=True,
                timeout_s=self._timeout,
                on_written=on_written if last else None,
            )
            for s in one.secrets:
                self._observer.synced(s.cluster, s.outcome.value)
            for w in one.workloads:
                self._observer.workload(w.cluster, w.outcome.value)
            report = report.merge(one)
        self._observer.latency("sync", time.monotonic() - started)
        return report
