"""The notifier the reconciler holds: ``send`` hands a notification to a background worker
and returns at once; the worker delivers with bounded retries; ``close`` drains it.

A notification that cannot be delivered is logged and recorded, never raised: a chat or
mail outage must not stop a secret from being applied.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from types import TracebackType

import requests

from controller.model import NotifyTargets
from controller.notify.backlog import Backlog, BacklogClosed
from controller.notify.dispatch import Dispatcher, dropped
from controller.notify.events import Notification
from controller.notify.outcome import DeliveryOutcome
from controller.notify.settings import RetryPolicy, SmtpSettings

log = logging.getLogger(__name__)

OutcomeHook = Callable[[DeliveryOutcome], None]
_Item = tuple[Notification, NotifyTargets]


class Notifier:
    """Deliver notifications in the background.

    ``smtp`` is needed only if some policy lists email addresses. ``approver_emails`` maps
    GitHub logins to email addresses: a ``bypassed`` notification is mailed to every
    approver it names that has an entry here (missing ones are logged). ``on_outcome`` is
    called with every outcome on the thread that produced it (usually the worker), e.g. to
    count deliveries in metrics; it must be quick and thread-safe. ``deliver`` may be called
    from any thread; it shares the worker's HTTP session.
    """

    def __init__(
        self,
        *,
        smtp: SmtpSettings | None = None,
        approver_emails: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        queue_size: int = 1000,
        history: int = 1000,
        on_outcome: OutcomeHook | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        # Set when shutdown stops waiting: back-off sleeps end early and no retry follows.
        self._abandon = threading.Event()
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._dispatcher = Dispatcher(
            smtp=smtp,
            approver_emails=approver_emails or {},
            retry=retry or RetryPolicy(),
            session=self._session,
            sleep=sleep or self._pause,
            stop=self._abandon,
        )
        self._backlog: Backlog[_Item] = Backlog(queue_size)
        self._history: deque[DeliveryOutcome] = deque(maxlen=history)
        self._on_outcome = on_outcome
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._closed = False

    # ------------------------------------------------------------------ caller's side

    def send(self, notification: Notification, targets: NotifyTargets) -> None:
        """Queue ``notification`` for delivery to ``targets``; never blocks, never raises."""
        item = (notification, targets)
        oldest: _Item | None = None
        refused = False
        with self._lock:
            if self._closed:
                refused = True
            else:
                try:
                    oldest = self._backlog.put(item)
                except BacklogClosed:
                    refused = True
                else:
                    self._start_worker()
        # Outside the lock: recording an outcome takes it again.
        if refused:
            self._drop(item, "notifier is closed")
        elif oldest is not None:
            self._drop(oldest, "notification queue full; oldest notification dropped")

    def deliver(self, notification: Notification, targets: NotifyTargets) -> list[DeliveryOutcome]:
        """Deliver now, on the caller's thread, with retries; outcomes are also recorded."""
        outcomes = self._dispatcher.deliver(notification, targets)
        for outcome in outcomes:
            self._record(outcome)
        return outcomes

    @property
    def deliveries(self) -> list[DeliveryOutcome]:
        """The most recent outcomes (up to ``history``), oldest first."""
        with self._lock:
            return list(self._history)

    @property
    def pending(self) -> int:
        """Notifications queued and not yet picked up: the queue depth for metrics."""
        return len(self._backlog)

    def close(self, timeout: float | None = None) -> bool:
        """Stop accepting work and deliver what is queued; True if everything was handled.

        After ``timeout`` seconds the worker stops retrying, whatever is still queued is
        dropped (and recorded), and False is returned.
        """
        with self._lock:
            self._closed = True
            worker = self._worker
        self._backlog.close()
        if worker is not None:
            worker.join(timeout)
        if worker is None or not worker.is_alive():
            if self._owns_session:
                self._session.close()
            return True
        self._abandon.set()
        left = self._backlog.drain()
        if left:
            log.warning("notify: shutting down with %d notification(s) undelivered", len(left))
        for item in left:
            self._drop(item, "notifier shut down before delivery")
        return False

    def __enter__(self) -> Notifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ worker's side

    def _pause(self, seconds: float) -> None:
        self._abandon.wait(seconds)

    def _start_worker(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="sealgate-notify", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while (item := self._backlog.get()) is not None:
            notification, targets = item
            try:
                self.deliver(notification, targets)
            except Exception as exc:
                # Only the type: see Dispatcher.run on why exception texts are not logged.
                log.error(
                    "notify %s %s: delivery crashed (%s)",
                    notification.kind,
                    notification.reference,
                    type(exc).__name__,
                )

    def _drop(self, item: _Item, why: str) -> None:
        notification, targets = item
        log.warning("notify %s %s: %s", notification.kind, notification.reference, why)
        for job in self._dispatcher.jobs(notification, targets):
            self._record(dropped(notification, job, why))

    def _record(self, outcome: DeliveryOutcome) -> None:
        with self._lock:
            self._history.append(outcome)
        if self._on_outcome is not None:
            try:
                self._on_outcome(outcome)
            except Exception as exc:
                log.error("notify: outcome callback failed (%s)", type(exc).__name__)
