"""Sync a batch of Secrets into one cluster, restart what uses them, watch the rollouts.

Cheap when nothing changed: one list of sealgate's Secrets per namespace (plus one unfiltered
list only when some desired Secret is not among them), one list per workload kind per
namespace, and no writes at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.errors import ClusterError
from controller.kube import names, secrets
from controller.kube.api import WORKLOAD_KINDS, KubeApi, Obj
from controller.kube.checksum import checksums_equal, secret_checksum, template_annotation
from controller.kube.events import sync_event
from controller.kube.results import (
    DesiredSecret,
    RolloutOutcome,
    SecretOutcome,
    SecretSync,
    SyncReport,
    WorkloadOutcome,
)
from controller.kube.rollout import rollout_status
from controller.kube.workloads import (
    name_of,
    referenced_secrets,
    restart_disabled,
    template_annotations,
)

log = logging.getLogger(__name__)

_WRITTEN = frozenset({SecretOutcome.CREATED, SecretOutcome.UPDATED})
_IN_PLACE = _WRITTEN | {SecretOutcome.UNCHANGED}


@dataclass(frozen=True, slots=True)
class _Watch:
    kind: str
    namespace: str
    name: str
    secrets: tuple[str, ...]
    note: str = ""


class ClusterSync:
    def __init__(
        self,
        api: KubeApi,
        checksum_key: bytes,
        *,
        poll_interval_s: float = 1.0,
        events: bool = True,
        workers: int = 4,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not checksum_key:
            raise ValueError("the checksum key must not be empty")
        self.api = api
        self._key = checksum_key
        self._poll = poll_interval_s
        self._events = events
        self._workers = workers
        self._clock = clock
        self._sleep = sleep
        self._now = now

    @property
    def cluster(self) -> str:
        return self.api.cluster

    def checksum(self, data: Mapping[str, bytes]) -> str:
        return secret_checksum(self._key, data)

    def sync(
        self,
        desired: Sequence[DesiredSecret],
        *,
        wait: bool = True,
        timeout_s: float = 300.0,
        batch: bool = True,
    ) -> SyncReport:
        """``batch`` lists each namespace once; otherwise each Secret is read by name."""
        by_namespace: dict[str, list[DesiredSecret]] = {}
        seen: set[tuple[str, str]] = set()
        for item in desired:
            if (item.namespace, item.name) in seen:
                raise ValueError(f"Secret {item.namespace}/{item.name} is listed twice in one sync")
            seen.add((item.namespace, item.name))
            by_namespace.setdefault(item.namespace, []).append(item)
        results: list[SecretSync] = []
        workloads: list[WorkloadOutcome] = []
        watches: list[_Watch] = []
        for namespace, items in by_namespace.items():
            synced, repaired = self._sync_namespace(namespace, items, batch=batch)
            results.extend(synced)
            outcomes, pending = self._restart(namespace, synced, repaired, wait=wait)
            workloads.extend(outcomes)
            watches.extend(pending)
        workloads.extend(self._wait(watches, timeout_s))
        return SyncReport(tuple(results), tuple(workloads))

    # ------------------------------------------------------------------ secrets

    def _current(
        self, namespace: str, items: Sequence[DesiredSecret], *, batch: bool
    ) -> dict[str, Obj]:
        if not batch:
            found = {}
            for item in items:
                obj = self.api.get_secret(namespace, item.name)
                if obj is not None:
                    found[item.name] = obj
            return found
        found = {name_of(s): s for s in self.api.list_secrets(namespace, names.SELECTOR)}
        missing = {item.name for item in items} - found.keys()
        if missing:
            # Unmanaged Secrets of a wanted name must be seen before writing, or every
            # sync would try (and fail) to create them. Others' Secrets are not kept.
            for obj in self.api.list_secrets(namespace):
                if name_of(obj) in missing:
                    found[name_of(obj)] = obj
        return found

    def _sync_namespace(
        self, namespace: str, items: Sequence[DesiredSecret], *, batch: bool
    ) -> tuple[list[SecretSync], set[str]]:
        """The outcome per Secret, and the names whose hand-edited data was restored."""
        try:
            current = self._current(namespace, items, batch=batch)
        except ClusterError as exc:
            failed = [
                SecretSync(
                    self.cluster,
                    namespace,
                    item.name,
                    SecretOutcome.FAILED,
                    str(exc),
                    retryable=exc.retryable,
                )
                for item in items
            ]
            return failed, set()

        checksums = {item.name: self.checksum(item.data) for item in items}

        def one(item: DesiredSecret) -> secrets.Applied:
            applied = secrets.apply(
                self.api, item, checksums[item.name], self._key, current.get(item.name)
            )
            if applied.result.outcome in _WRITTEN and applied.secret is not None and self._events:
                self._event(applied.secret, item, applied.result.outcome)
            return applied

        # Writes are round trips that wait on the server: overlap them. Reads and no-ops
        # stay on this thread.
        writes = sum(
            secrets.plan(current.get(i.name), i, checksums[i.name], self._key).action
            in (secrets.Action.CREATE, secrets.Action.UPDATE)
            for i in items
        )
        if self._workers > 1 and writes > 1:
            with ThreadPoolExecutor(self._workers, thread_name_prefix="sync-write") as pool:
                done = list(pool.map(one, items))
        else:
            done = [one(item) for item in items]
        repaired = {a.result.name for a in done if a.repaired}
        return [a.result for a in done], repaired

    def _event(self, obj: Obj, item: DesiredSecret, outcome: SecretOutcome) -> None:
        try:
            self.api.create_event(
                item.namespace, sync_event(obj, outcome, item.provenance, self._now())
            )
        except ClusterError as exc:
            # An event is a courtesy to people running kubectl describe: never fail a sync.
            log.warning("could not record an event: %s", exc)

    # ---------------------------------------------------------------- workloads

    def _restart(
        self, namespace: str, synced: Sequence[SecretSync], repaired: set[str], *, wait: bool
    ) -> tuple[list[WorkloadOutcome], list[_Watch]]:
        checksums = {s.name: s.checksum for s in synced if s.outcome in _IN_PLACE}
        written = {s.name for s in synced if s.outcome in _WRITTEN}
        if not checksums:
            return [], []
        outcomes: list[WorkloadOutcome] = []
        watches: list[_Watch] = []
        for kind in WORKLOAD_KINDS:
            try:
                listed = self.api.list_workloads(kind, namespace)
            except ClusterError as exc:
                outcomes.append(
                    WorkloadOutcome(
                        self.cluster, kind, namespace, "", RolloutOutcome.FAILED, str(exc)
                    )
                )
                continue
            for workload in listed:
                uses = tuple(sorted(referenced_secrets(workload) & checksums.keys()))
                if uses:
                    outcome, watch = self._restart_one(
                        kind,
                        namespace,
                        workload,
                        uses=uses,
                        checksums=checksums,
                        written=written,
                        repaired=repaired,
                        wait=wait,
                    )
                    if outcome is not None:
                        outcomes.append(outcome)
                    if watch is not None:
                        watches.append(watch)
        return outcomes, watches

    def _restart_one(
        self,
        kind: str,
        namespace: str,
        workload: Mapping[str, Any],
        *,
        uses: tuple[str, ...],
        checksums: Mapping[str, str],
        written: set[str],
        repaired: set[str],
        wait: bool,
    ) -> tuple[WorkloadOutcome | None, _Watch | None]:
        name = name_of(workload)

        def outcome(state: RolloutOutcome, message: str = "") -> WorkloadOutcome:
            return WorkloadOutcome(self.cluster, kind, namespace, name, state, message, uses)

        current = template_annotations(workload)
        stale: dict[str, str] = {}
        ours = False
        for secret in uses:
            key, checksum = template_annotation(secret), checksums[secret]
            if checksums_equal(current.get(key), checksum):
                ours = True
            # A workload that never carried the annotation and whose Secret did not change
            # started after the Secret was written: it already has the content.
            elif secret in written or key in current:
                stale[key] = checksum
            if secret in repaired:
                # Pods started since the hand edit hold the edited data, yet the checksum
                # annotation already matches: only a fresh timestamp starts a rollout.
                stale[key] = checksum
                stale[names.RESTARTED_AT] = self._now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if not stale:
            status = rollout_status(kind, workload)
            if ours and status.failed:
                return outcome(RolloutOutcome.FAILED, status.message), None
            if ours and wait and status.watchable and not status.done:
                # Restarted by an earlier sync that did not see it through (crash, failover).
                return None, _Watch(kind, namespace, name, uses, "restarted by an earlier sync")
            return outcome(RolloutOutcome.UNCHANGED), None
        if restart_disabled(workload):
            return outcome(
                RolloutOutcome.SKIPPED,
                f"restarts disabled by {names.RESTART}=false: pods keep the old content",
            ), None
        try:
            patched = self.api.patch_template_annotations(kind, namespace, name, stale)
        except ClusterError as exc:
            return outcome(RolloutOutcome.FAILED, str(exc)), None
        log.info("cluster %s: restarting %s %s/%s", self.cluster, kind, namespace, name)
        status = rollout_status(kind, patched)
        if not status.watchable:
            return outcome(RolloutOutcome.RESTARTED, status.message), None
        if not wait:
            return outcome(RolloutOutcome.RESTARTED, "rollout started; not watched"), None
        return None, _Watch(kind, namespace, name, uses)

    def _wait(self, watches: Sequence[_Watch], timeout_s: float) -> list[WorkloadOutcome]:
        outcomes: list[WorkloadOutcome] = []
        pending = list(watches)
        last: dict[_Watch, str] = {}
        deadline = self._clock() + timeout_s

        def done(w: _Watch, state: RolloutOutcome, message: str) -> None:
            if w.note:
                message = f"{message} ({w.note})" if message else w.note
            outcomes.append(
                WorkloadOutcome(
                    self.cluster, w.kind, w.namespace, w.name, state, message, w.secrets
                )
            )

        while pending:
            self._sleep(max(0.0, min(self._poll, deadline - self._clock())))
            still = []
            for w in pending:
                try:
                    obj = self.api.get_workload(w.kind, w.namespace, w.name)
                except ClusterError as exc:
                    if exc.retryable:
                        last[w] = str(exc)
                        still.append(w)
                    else:
                        done(w, RolloutOutcome.FAILED, str(exc))
                    continue
                if obj is None:
                    done(w, RolloutOutcome.FAILED, "deleted during the rollout")
                    continue
                status = rollout_status(w.kind, obj)
                if status.failed:
                    done(w, RolloutOutcome.FAILED, status.message)
                elif not status.watchable:
                    done(w, RolloutOutcome.RESTARTED, status.message)
                elif status.done:
                    done(w, RolloutOutcome.ROLLED, status.message)
                else:
                    last[w] = status.message
                    still.append(w)
            pending = still
            if pending and self._clock() >= deadline:
                for w in pending:
                    done(
                        w,
                        RolloutOutcome.TIMEOUT,
                        f"not rolled out after {timeout_s:g} s: {last.get(w, 'no status')}",
                    )
                break
        return outcomes
