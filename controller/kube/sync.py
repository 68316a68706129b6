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

from controller.crashpoint import crashpoint
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
        on_written: Callable[[], None] | None = None,
    ) -> SyncReport:
        """``batch`` lists each namespace once; otherwise each Secret is read by name.

        ``on_written`` is called once every desired Secret holds its content and the
        workloads using them were restarted, before the rollouts are watched (which can take
        minutes): whoever waits on the Secret is told then. Not called when some Secret
        could not be written. It must not raise."""
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
        now = self._now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for namespace, items in by_namespace.items():
            synced, held = self._sync_namespace(namespace, items, batch=batch, now=now)
            results.extend(synced)
            if any(s.outcome in _WRITTEN for s in synced):
                crashpoint("sync:secrets-written")
            outcomes, pending = self._restart(namespace, synced, held, wait=wait)
            workloads.extend(outcomes)
            watches.extend(pending)
        if on_written is not None and all(r.outcome in _IN_PLACE for r in results):
            on_written()
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
        self, namespace: str, items: Sequence[DesiredSecret], *, batch: bool, now: str
    ) -> tuple[list[SecretSync], dict[str, Obj]]:
        """The outcome per Secret, and each Secret as the server now holds it."""
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
            return failed, {}

        checksums = {item.name: self.checksum(item.data) for item in items}
        actions = {
            i.name: secrets.plan(current.get(i.name), i, checksums[i.name], self._key).action
            for i in items
        }
        creates = {name for name, action in actions.items() if action is secrets.Action.CREATE}
        used = self._used_secrets(namespace) if creates else None

        def one(item: DesiredSecret) -> secrets.Applied:
            unused = used is not None and item.name in creates and item.name not in used
            applied = secrets.apply(
                self.api,
                item,
                checksums[item.name],
                self._key,
                current.get(item.name),
                now=now,
                unused=unused,
            )
            # Events only where they inform: a Secret nothing uses yet carries its
            # provenance in its own annotations; a write that restarts workloads or replaces
            # a value is what people look for in `kubectl describe`.
            informs = not (unused and applied.result.outcome is SecretOutcome.CREATED)
            if (
                applied.result.outcome in _WRITTEN
                and applied.secret is not None
                and self._events
                and informs
            ):
                self._event(applied.secret, item, applied.result.outcome)
            return applied

        # Writes are round trips that wait on the server: overlap them. Reads and no-ops
        # stay on this thread.
        writes = sum(
            action in (secrets.Action.CREATE, secrets.Action.UPDATE) for action in actions.values()
        )
        if self._workers > 1 and writes > 1:
            with ThreadPoolExecutor(self._workers, thread_name_prefix="sync-write") as pool:
                done = list(pool.map(one, items))
        else:
            done = [one(item) for item in items]
        held = {a.result.name: a.secret for a in done if a.secret is not None}
        return [a.result for a in done], held

    def _used_secrets(self, namespace: str) -> set[str] | None:
        """Names of the Secrets the namespace's workloads use now; None when a list failed
        (then every new Secret keeps its restart marker, the safe default). Workloads that
        appear after this list are still found by the listing after the writes."""
        used: set[str] = set()
        for kind in WORKLOAD_KINDS:
            try:
                listed = self.api.list_workloads(kind, namespace)
            except ClusterError:
                return None
            for workload in listed:
                used |= referenced_secrets(workload)
        return used

    def _event(self, obj: Obj, item: DesiredSecret, outcome: SecretOutcome) -> None:
        try:
            self.api.create_event(
                item.namespace, sync_event(obj, outcome, item.provenance, self._now())
            )
        except ClusterError as exc:
            # An event is a courtesy to people running kubectl describe: never fail a sync.
            log.warning("could not record an event: %s", exc)

    # ---------------------------------------------------------------- workloads

    def _markers(
        self, synced: Sequence[SecretSync], held: Mapping[str, Obj]
    ) -> dict[str, secrets.Pending]:
        """The restarts each in-place Secret still asks for, read from the Secret itself."""
        markers: dict[str, secrets.Pending] = {}
        for s in synced:
            if s.outcome not in _IN_PLACE:
                continue
            found = secrets.pending_of(held.get(s.name))
            if found is not None:
                markers[s.name] = found
            elif s.outcome in _WRITTEN:
                # Written this pass yet the answer showed no marker: restart all the same.
                markers[s.name] = secrets.Pending("", s.checksum)
        return markers

    def _restart(
        self,
        namespace: str,
        synced: Sequence[SecretSync],
        held: Mapping[str, Obj],
        *,
        wait: bool,
    ) -> tuple[list[WorkloadOutcome], list[_Watch]]:
        checksums = {s.name: s.checksum for s in synced if s.outcome in _IN_PLACE}
        written = {s.name for s in synced if s.outcome in _WRITTEN}
        if not checksums:
            return [], []
        markers = self._markers(synced, held)
        # A marker goes only when every user, of every kind, carries what it asks for.
        settled = set(markers)
        outcomes: list[WorkloadOutcome] = []
        watches: list[_Watch] = []
        for kind in WORKLOAD_KINDS:
            try:
                listed = self.api.list_workloads(kind, namespace)
            except ClusterError as exc:
                settled.clear()
                outcomes.append(
                    WorkloadOutcome(
                        self.cluster, kind, namespace, "", RolloutOutcome.FAILED, str(exc)
                    )
                )
                continue
            for workload in listed:
                uses = tuple(sorted(referenced_secrets(workload) & checksums.keys()))
                if uses:
                    outcome, watch, done = self._restart_one(
                        kind,
                        namespace,
                        workload,
                        uses=uses,
                        checksums=checksums,
                        markers=markers,
                        written=written,
                        wait=wait,
                    )
                    if not done:
                        settled.difference_update(uses)
                    if outcome is not None:
                        outcomes.append(outcome)
                    if watch is not None:
                        watches.append(watch)
        for name in sorted(settled):
            secret = held.get(name)
            if secret is not None and markers[name].raw:
                secrets.clear_pending(self.api, secret, markers[name])
        return outcomes, watches

    def _restart_one(
        self,
        kind: str,
        namespace: str,
        workload: Mapping[str, Any],
        *,
        uses: tuple[str, ...],
        checksums: Mapping[str, str],
        markers: Mapping[str, secrets.Pending],
        written: set[str],
        wait: bool,
    ) -> tuple[WorkloadOutcome | None, _Watch | None, bool]:
        """The outcome, a rollout to watch, and whether the workload now carries every
        restart its Secrets' markers ask for (or opted out of them)."""
        name = name_of(workload)

        def outcome(state: RolloutOutcome, message: str = "") -> WorkloadOutcome:
            return WorkloadOutcome(self.cluster, kind, namespace, name, state, message, uses)

        current = template_annotations(workload)
        stale: dict[str, str] = {}
        ours = False
        resumed = False
        for secret in uses:
            key, checksum = template_annotation(secret), checksums[secret]
            carries = checksums_equal(current.get(key), checksum)
            ours = ours or carries
            marker = markers.get(secret)
            if marker is None:
                # No restart asked for: a workload without the annotation started after the
                # Secret was written (and its restarts finished), so it has the content.
                if key in current and not carries:
                    stale[key] = checksum
                continue
            wanted = marker.restarted_at
            behind = wanted is not None and str(current.get(names.RESTARTED_AT, "")) < wanted
            if carries and not behind:
                continue
            stale[key] = checksum
            if wanted is not None and behind:
                # After a repair the checksum already matches yet pods started since the
                # hand edit hold the edited data: only a fresh timestamp starts a rollout.
                stale[names.RESTARTED_AT] = max(stale.get(names.RESTARTED_AT, ""), wanted)
            if secret not in written:
                resumed = True
        note = "finishing a restart an earlier sync left pending" if resumed else ""
        if not stale:
            status = rollout_status(kind, workload)
            if ours and status.failed:
                return outcome(RolloutOutcome.FAILED, status.message), None, True
            if ours and wait and status.watchable and not status.done:
                # Restarted by an earlier sync that did not see it through (crash, failover).
                watch = _Watch(kind, namespace, name, uses, "restarted by an earlier sync")
                return None, watch, True
            return outcome(RolloutOutcome.UNCHANGED), None, True
        if restart_disabled(workload):
            # The owner chose to keep the old content: nothing left to finish for it.
            return (
                outcome(
                    RolloutOutcome.SKIPPED,
                    f"restarts disabled by {names.RESTART}=false: pods keep the old content",
                ),
                None,
                True,
            )
        try:
            patched = self.api.patch_template_annotations(kind, namespace, name, stale)
        except ClusterError as exc:
            return outcome(RolloutOutcome.FAILED, str(exc)), None, False
        if resumed:
            log.warning(
                "cluster %s: restarting %s %s/%s: %s", self.cluster, kind, namespace, name, note
            )
        else:
            log.info("cluster %s: restarting %s %s/%s", self.cluster, kind, namespace, name)
        status = rollout_status(kind, patched)
        if not status.watchable:
            message = f"{status.message} ({note})" if note else status.message
            return outcome(RolloutOutcome.RESTARTED, message), None, True
        if not wait:
            message = "rollout started; not watched" + (f" ({note})" if note else "")
            return outcome(RolloutOutcome.RESTARTED, message), None, True
        return None, _Watch(kind, namespace, name, uses, note), True

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
