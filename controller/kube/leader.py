"""Leader election over a ``coordination.k8s.io/v1`` Lease, as client-go does it.

Expiry is judged by the local clock from when this process last saw the Lease change, never
by comparing the holder's ``renewTime`` with our wall clock: clocks on different nodes drift.
A leader that cannot renew within ``renew_deadline_s`` stops calling itself leader before any
other replica may take over (``lease_duration_s`` later), so two never act at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from controller.errors import ClusterError, ConflictError
from controller.kube.api import KubeApi, Obj

log = logging.getLogger(__name__)


def _micro_time(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        client: KubeApi,
        namespace: str,
        name: str,
        identity: str,
        *,
        lease_duration_s: float = 15.0,
        renew_deadline_s: float = 10.0,
        retry_period_s: float = 2.0,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not identity:
            raise ValueError("a leader identity must not be empty")
        if not retry_period_s < renew_deadline_s < lease_duration_s:
            raise ValueError("need retry_period_s < renew_deadline_s < lease_duration_s")
        self._api = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self._duration = lease_duration_s
        self._deadline = renew_deadline_s
        self._period = retry_period_s
        self._on_start = on_started_leading
        self._on_stop = on_stopped_leading
        self._clock = clock
        self._wall = wall_clock
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._renewed_at: float | None = None
        self._was_leader = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ state

    @property
    def is_leader(self) -> bool:
        with self._lock:
            return self._leading_locked()

    def _leading_locked(self) -> bool:
        return self._renewed_at is not None and self._clock() - self._renewed_at < self._deadline

    @property
    def holder(self) -> str | None:
        """The identity last seen holding the Lease (None when free or never read)."""
        with self._lock:
            return str(self._observed[0]) if self._observed and self._observed[0] else None

    def _notify(self) -> None:
        leading = self.is_leader
        if leading == self._was_leader:
            return
        self._was_leader = leading
        log.info(
            "%s %s leadership of lease %s/%s",
            self.identity,
            "acquired" if leading else "lost",
            self.namespace,
            self.name,
        )
        callback = self._on_start if leading else self._on_stop
        if callback is not None:
            callback()

    # ------------------------------------------------------------------- steps

    def _spec(self, previous: dict[str, Any] | None, now: str) -> dict[str, Any]:
        spec = dict(previous or {})
        taking_over = spec.get("holderIdentity") != self.identity
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=max(1, round(self._duration)),
            renewTime=now,
        )
        if taking_over:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (
                1 if previous and previous.get("holderIdentity") else 0
            )
        return spec

    def try_acquire_or_renew(self) -> bool:
        """One round: take the Lease if free or expired, renew it if ours. True if leading."""
        try:
            leading = self._round()
        except ConflictError:
            # Another replica wrote first; its record is read next round.
            leading = False
        except ClusterError as exc:
            log.warning("lease %s/%s: %s", self.namespace, self.name, exc)
            leading = False
        if not leading:
            with self._lock:
                # A failed renewal keeps us leader until the renew deadline passes; a lost
                # race (someone else holds it) ends leadership now.
                if self._observed and self._observed[0] not in (self.identity, "", None):
                    self._renewed_at = None
        self._notify()
        return self.is_leader

    def _round(self) -> bool:
        now = _micro_time(self._wall())
        lease = self._api.get_lease(self.namespace, self.name)
        if lease is None:
            body: Obj = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec(None, now),
            }
            created = self._api.create_lease(self.namespace, body)
            self._observe(created, renewed=True)
            return True
        spec = lease.get("spec") or {}
        self._observe(lease, renewed=False)
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or self._duration)
        with self._lock:
            held_elsewhere = (
                holder != self.identity and holder and self._clock() - self._observed_at < duration
            )
        if held_elsewhere:
            return False
        updated = self._api.replace_lease(
            self.namespace, self.name, self._body(lease, self._spec(spec, now))
        )
        self._observe(updated, renewed=True)
        return True

    def _body(self, lease: Obj, spec: dict[str, Any]) -> Obj:
        # The resourceVersion read makes the write conditional: a 409 means someone else won.
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": (lease.get("metadata") or {}).get("resourceVersion"),
            },
            "spec": spec,
        }

    def _observe(self, lease: Obj, *, renewed: bool) -> None:
        spec = lease.get("spec") or {}
        record = (
            spec.get("holderIdentity") or "",
            spec.get("renewTime"),
            spec.get("leaseTransitions"),
        )
        with self._lock:
            if record != self._observed:
                self._observed = record
                self._observed_at = self._clock()
            if renewed:
                self._renewed_at = self._clock()

    def release(self) -> None:
        """Give the Lease up now, so another replica need not wait for it to expire."""
        with self._lock:
            leading = self._leading_locked()
            self._renewed_at = None
        if not leading:
            self._notify()
            return
        try:
            lease = self._api.get_lease(self.namespace, self.name)
            spec = (lease or {}).get("spec") or {}
            if lease is not None and spec.get("holderIdentity") == self.identity:
                now = _micro_time(self._wall())
                spec = {**spec, "holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": now}
                self._api.replace_lease(self.namespace, self.name, self._body(lease, spec))
        except (ClusterError, ConflictError) as exc:
            log.warning(
                "lease %s/%s: release failed, it will expire: %s", self.namespace, self.name, exc
            )
        self._notify()

    # -------------------------------------------------------------------- loop

    def run(self, stop: threading.Event | None = None) -> None:
        """Contend until ``stop`` (or :meth:`stop`) is set, then release the Lease."""
        stop = stop or self._stop
        while not stop.is_set() and not self._stop.is_set():
            self.try_acquire_or_renew()
            stop.wait(self._period)
        self.release()

    def start(self) -> threading.Thread:
        self._stop.clear()
        thread = threading.Thread(target=self.run, name=f"lease-{self.name}", daemon=True)
        self._thread = thread
        thread.start()
        return thread

    def stop(self, timeout_s: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
