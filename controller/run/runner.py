"""The controller's loops: one work queue fed by webhooks and polls, drained by workers.

- A pump moves webhook events (from the HTTP thread's bounded ``queue.Queue``) into the
  :class:`WorkQueue`, which de-duplicates by pull request.
- A poll timer adds every pull request ``Reconciler.work_items`` names, so a missed webhook
  is repaired within one ``pollInterval``; it also runs at start and on gaining leadership.
- ``workers`` threads take keys and call ``Reconciler.handle``; one pull request is never
  handled by two threads at once.
- A drift timer (``repair_drift``), an expiry timer (``expire_and_remind``) and a grant
  timer (``keep_grants``: ended grants' bindings removed, missing and stray ones repaired),
  all also run at start and whenever this replica gains leadership. ``sealgate open``
  checks a grant's clock on every use, so only Kubernetes bindings wait for the grant
  timer: a binding never outlives its grant's end by more than ``grants.interval`` plus
  one pass.

Only an active replica (no leader election, or the current leader) polls, handles and
repairs; a standby keeps accepting webhooks into the queue so a takeover starts warm.
Failures are logged and counted, never fatal: every step is idempotent and the next poll
brings a failed pull request back.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from controller.github import WebhookEvent
from controller.logs import log_context
from controller.run.metrics import Metrics
from controller.run.workqueue import WorkQueue

log = logging.getLogger("sealgate.run")

Key = tuple[str, int]


class Reconciling(Protocol):
    """What the runner needs of ``controller.reconciler.Reconciler``."""

    def handle(self, repo: str, number: int) -> object: ...

    def work_items(self, repo: str) -> list[int]: ...

    def learn_environments(self, repo: str) -> object: ...

    def repair_drift(self) -> object: ...

    def expire_and_remind(self, repo: str) -> object: ...

    def keep_grants(self) -> object: ...


@dataclass(frozen=True, slots=True)
class Schedule:
    workers: int = 4
    poll_interval_s: float = 60.0
    drift_interval_s: float = 300.0
    expiry_interval_s: float = 600.0
    grants_interval_s: float = 10.0
    idle_wait_s: float = 0.5
    """How often an idle worker or a standby looks again (bounds shutdown and takeover)."""


class Runner:
    def __init__(
        self,
        reconciler: Reconciling,
        repo: str,
        events: queue.Queue[WebhookEvent],
        metrics: Metrics,
        schedule: Schedule,
        *,
        is_active: Callable[[], bool] = lambda: True,
        after_handle: Callable[[], None] | None = None,
    ) -> None:
        self._reconciler = reconciler
        self.repo = repo
        self._events = events
        self.metrics = metrics
        self._schedule = schedule
        self._is_active = is_active
        self._after_handle = after_handle
        """Runs on the worker's thread after each pass (e.g. to read its rate-limit state)."""
        self.queue: WorkQueue[Key] = WorkQueue()
        self._arrived: dict[Key, float] = {}
        """When the oldest unhandled webhook for a key arrived, for latency."""
        self._arrived_lock = threading.Lock()
        # Pull requests whose last pass failed. The reconciler's poll only names what moved
        # on GitHub, so without this a pass that failed for good (a 5xx past every retry
        # while reporting the last approval) would wait for the next push or review.
        self._failed: set[int] = set()
        self._stop = threading.Event()
        self._poll_now = threading.Event()
        self._kicks: list[threading.Event] = []
        """One per timer: set to run it now (at start and on gaining leadership), so drift
        made while no replica led is repaired at once, not an interval later."""
        self._threads: list[threading.Thread] = []
        metrics.track_queue(lambda: len(self.queue), lambda: self.queue.active)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        loops: list[tuple[str, Callable[[], None]]] = [
            ("pump", self._pump),
            ("poll", self._poll_loop),
            ("drift", self._timer(self._schedule.drift_interval_s, self.repair_drift)),
            ("expiry", self._timer(self._schedule.expiry_interval_s, self.expire)),
            ("grants", self._timer(self._schedule.grants_interval_s, self.keep_grants)),
        ]
        loops += [(f"worker-{i}", self._work) for i in range(self._schedule.workers)]
        for name, target in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float) -> bool:
        """Stop taking work and wait up to ``timeout_s`` for work in flight; True if all
        finished. Keys still waiting are left for the next start's poll."""
        self._stop.set()
        self._poll_now.set()  # wakes the loops, which then see the stop
        for kick in self._kicks:
            kick.set()
        self.queue.shut_down()
        deadline = time.monotonic() + timeout_s
        finished = self.queue.wait_idle(timeout_s)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]
        if not finished or self._threads:
            log.warning("shutdown: %d pull request(s) still in flight", self.queue.active)
            return False
        return True

    def leadership_changed(self, leading: bool) -> None:
        """Called by the leader elector; a new leader polls at once."""
        self.metrics.leader.set(1 if leading else 0)
        if leading:
            self._poll_now.set()
            for kick in self._kicks:
                kick.set()

    # ------------------------------------------------------------------ feeding

    def enqueue(self, number: int, *, received_at: float | None = None) -> bool:
        key = (self.repo, number)
        if received_at is not None:
            with self._arrived_lock:
                self._arrived.setdefault(key, received_at)
        return self.queue.add(key)

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                event = self._events.get(timeout=self._schedule.idle_wait_s)
            except queue.Empty:
                continue
            if event.repo.lower() != self.repo.lower():
                log.warning(
                    "ignored a %s webhook for %s: this controller serves %s",
                    event.kind,
                    event.repo,
                    self.repo,
                )
                continue
            self.metrics.webhooks.labels(event.kind).inc()
            self.enqueue(event.number, received_at=event.received_at or None)

    def poll(self) -> int:
        """Queue every pull request the reconciler wants handled; how many were new."""
        try:
            numbers = self._reconciler.work_items(self.repo)
        except Exception:
            self.metrics.polls.labels("failed").inc()
            self.metrics.failure("poll")
            log.exception("poll of %s failed; trying again next interval", self.repo)
            return 0
        self.metrics.polls.labels("ok").inc()
        with self._arrived_lock:
            retries = sorted(self._failed.difference(numbers))
        return sum(1 for number in [*numbers, *retries] if self.enqueue(number))

    def _poll_loop(self) -> None:
        self._poll_now.set()  # at start
        while not self._stop.is_set():
            self._poll_now.wait(self._schedule.poll_interval_s)
            self._poll_now.clear()
            if self._stop.is_set():
                return
            if self._is_active():
                self.poll()

    def _timer(self, interval_s: float, action: Callable[[], None]) -> Callable[[], None]:
        kick = threading.Event()
        kick.set()
        self._kicks.append(kick)

        def loop() -> None:
            while not self._stop.is_set():
                kick.wait(interval_s)
                kick.clear()
                if self._stop.is_set():
                    return
                if self._is_active():
                    action()

        return loop

    def repair_drift(self) -> None:
        try:
            self._reconciler.learn_environments(self.repo)
            self._reconciler.repair_drift()
        except Exception:
            self.metrics.failure("drift")
            log.exception("drift repair failed; trying again next interval")

    def expire(self) -> None:
        try:
            self._reconciler.expire_and_remind(self.repo)
        except Exception:
            self.metrics.failure("expiry")
            log.exception("expiry and reminders failed; trying again next interval")

    def keep_grants(self) -> None:
        try:
            self._reconciler.keep_grants()
        except Exception:
            self.metrics.failure("grants")
            log.exception("grant upkeep failed; trying again next interval")

    # ------------------------------------------------------------------ working

    def _work(self) -> None:
        while not self._stop.is_set():
            if not self._is_active():
                # A standby holds its queue; it is handled if this replica takes over.
                self._stop.wait(self._schedule.idle_wait_s)
                continue
            key = self.queue.get(timeout=self._schedule.idle_wait_s)
            if key is None:
                continue
            try:
                self.handle(key)
            finally:
                self.queue.done(key)

    def handle(self, key: Key) -> None:
        repo, number = key
        with self._arrived_lock:
            arrived = self._arrived.pop(key, None)
        started = time.monotonic()
        with log_context(repo=repo, pr=number):
            try:
                self._reconciler.handle(repo, number)
            except Exception:
                with self._arrived_lock:
                    self._failed.add(number)
                self.metrics.handled.labels("failed").inc()
                self.metrics.failure("handle")
                log.exception("handling %s#%d failed; the next poll retries it", repo, number)
            else:
                with self._arrived_lock:
                    self._failed.discard(number)
                self.metrics.handled.labels("ok").inc()
            finally:
                ended = time.monotonic()
                self.metrics.handle_seconds.observe(ended - started)
                if arrived is not None:
                    self.metrics.webhook_to_handled_seconds.observe(max(0.0, ended - arrived))
                if self._after_handle is not None:
                    self._after_handle()
