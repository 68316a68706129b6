"""Drift repair: make each cluster of an environment hold exactly what the store holds.

A Secret edited or deleted by hand is rewritten from the store (its workloads roll, since
their pods may have started with the edited content). The restore carries its restart in
the Secret itself (``sealgate.dev/restart-pending``), so a repair cut short by a crash is
finished by the next pass, which sees the Secret unchanged but still asking for the restart.
Every repair is logged and counted; the store's API has no audit event for it, so the log
line is the record.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from controller.kube.results import DesiredSecret, Provenance, SecretOutcome
from controller.reconciler.delivery import pull_request_of
from controller.reconciler.ports import Observer, StorePort, TargetsPort
from controller.reconciler.status import SyncRow, sync_rows

log = logging.getLogger(__name__)

_REPAIRED = frozenset({SecretOutcome.CREATED, SecretOutcome.UPDATED})


@dataclass(frozen=True, slots=True)
class DriftReport:
    rows: tuple[SyncRow, ...] = ()
    """Every Secret and restarted workload, in every cluster checked."""
    repaired: tuple[SyncRow, ...] = ()
    """The Secrets that differed from the store (or were missing) and were restored."""
    failed: tuple[SyncRow, ...] = ()

    def merge(self, other: DriftReport) -> DriftReport:
        return DriftReport(
            self.rows + other.rows, self.repaired + other.repaired, self.failed + other.failed
        )


def repair_environment(
    environment: str,
    clusters: Sequence[str],
    *,
    store: StorePort,
    targets: TargetsPort,
    observer: Observer,
    timeout_s: float,
) -> DriftReport:
    report = DriftReport()
    # One namespace at a time: the plaintext held at once is one namespace's, not the whole
    # environment's (a store of 10,000 secrets would otherwise be decrypted into memory).
    for namespace in store.namespaces(environment):
        desired = [
            DesiredSecret(
                namespace,
                secret.split("/", 1)[1],
                data.data,
                Provenance(data.version, data.change_id, pull_request_of(data.change_id)),
                data.shape,
            )
            for secret, data in sorted(store.read(environment, namespace).items())
        ]
        if desired:
            report = report.merge(
                _repair(
                    environment,
                    clusters,
                    desired,
                    targets=targets,
                    observer=observer,
                    timeout_s=timeout_s,
                )
            )
    return report


def _repair(
    environment: str,
    clusters: Sequence[str],
    desired: Sequence[DesiredSecret],
    *,
    targets: TargetsPort,
    observer: Observer,
    timeout_s: float,
) -> DriftReport:
    report = DriftReport()
    for cluster in clusters:
        synced = targets.sync_many(cluster, desired, wait=True, timeout_s=timeout_s)
        repaired = tuple(
            SyncRow(s.cluster, "Secret", s.namespace, s.name, s.outcome.value, s.message)
            for s in synced.secrets
            if s.outcome in _REPAIRED
        )
        failed = tuple(
            r for r in sync_rows(synced) if r.outcome in ("failed", "refused", "timeout")
        )
        for row in repaired:
            log.warning(
                "drift repaired: cluster %s Secret %s/%s of %s was %s from the store",
                row.cluster,
                row.namespace,
                row.name,
                environment,
                "recreated" if row.outcome == SecretOutcome.CREATED.value else "restored",
            )
        for row in failed:
            log.warning(
                "drift repair failed: cluster %s %s %s/%s: %s",
                row.cluster,
                row.kind,
                row.namespace,
                row.name,
                row.message,
            )
        observer.drift_repaired(cluster, len(repaired))
        report = report.merge(DriftReport(sync_rows(synced), repaired, failed))
    return report
