"""Who hears of a decision, and how often: approvers when a request starts waiting, the
requester when it is approved, rejected or expired, each once; reminders while it waits.

A chat or mail outage never stops a pass: a notification that cannot be sent is counted
(``failure("notify")``) and logged, and the pass goes on. Which notifications were sent is
kept in memory: a restart may repeat one (the issue notes say so).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from controller.errors import SealgateError
from controller.model import DecisionState
from controller.notify.events import NotificationKind
from controller.reconciler.evaluation import Evaluation
from controller.reconciler.notices import notification, targets_of
from controller.reconciler.ports import GitHubPort, NotifierPort, Observer
from controller.reconciler.settings import ReconcilerSettings

log = logging.getLogger(__name__)


class DecisionNotices:
    def __init__(
        self,
        github: GitHubPort,
        notifier: NotifierPort | None,
        observer: Observer,
        settings: ReconcilerSettings,
    ) -> None:
        self._github = github
        self._notifier = notifier
        self._observer = observer
        self._settings = settings
        self._lock = threading.Lock()
        self._notified: set[tuple[str, int, str, str]] = set()
        self._waiting: dict[tuple[str, int], tuple[str, datetime, int]] = {}
        """(repo, number) -> (head it waits on, since when, reminders sent)."""

    def decided(self, evaluation: Evaluation, now: datetime) -> None:
        """Tell who needs to know about this pass's decision, once per kind and head."""
        decision = evaluation.decision
        snapshot = evaluation.snapshot
        key = (snapshot.repo, snapshot.facts.number)
        head = snapshot.facts.head_sha
        if decision.state is DecisionState.PENDING:
            with self._lock:
                waiting = self._waiting.get(key)
                if waiting is None or waiting[0] != head:
                    self._waiting[key] = (head, now, 0)
            self._once(NotificationKind.WAITING, evaluation, head)
            return
        with self._lock:
            self._waiting.pop(key, None)
        if decision.state is DecisionState.EXPIRED:
            # Once per pull request, whatever its head: the request as a whole lapsed.
            if self._once(NotificationKind.EXPIRED, evaluation, ""):
                self._github.comment_once(
                    snapshot.repo,
                    snapshot.facts.number,
                    "expired",
                    "**sealgate: this request expired** before it was approved. Push a new "
                    "commit or open a new pull request to ask again.",
                )
        elif decision.state is DecisionState.REJECTED:
            self._once(NotificationKind.REJECTED, evaluation, head)
        elif decision.state is DecisionState.APPROVED and not decision.bypassed:
            self._once(NotificationKind.APPROVED, evaluation, head)

    def reminder_due(self, repo: str, number: int, now: datetime) -> datetime | None:
        """Since when ``repo#number`` waits, when a reminder is due now (and counted as
        sent); None when none is."""
        reminder_after = self._settings.reminder_after
        if reminder_after is None or reminder_after <= timedelta(0):
            return None
        with self._lock:
            waiting = self._waiting.get((repo, number))
            if waiting is None:
                return None
            head, since, sent = waiting
            if now - since < reminder_after * (sent + 1):
                return None
            self._waiting[(repo, number)] = (head, since, sent + 1)
        return since

    def send(
        self,
        kind: NotificationKind,
        evaluation: Evaluation,
        *,
        actor: str | None = None,
        reason: str | None = None,
        details: tuple[str, ...] = (),
        approvers: tuple[str, ...] | None = None,
    ) -> None:
        if self._notifier is None:
            return
        snapshot = evaluation.snapshot
        url = self._settings.pull_url.format(repo=snapshot.repo, number=snapshot.facts.number)
        message = notification(
            kind,
            evaluation,
            url=url,
            actor=actor,
            reason=reason,
            details=details,
            approvers=approvers,
        )
        try:
            self._notifier.send(message, targets_of(evaluation.policies))
        except SealgateError as exc:
            # A chat or mail outage must never stop a secret from being applied.
            self._observer.failure("notify")
            log.warning("%s: notification %s not sent: %s", message.reference, kind.value, exc)

    def _once(self, kind: NotificationKind, evaluation: Evaluation, head: str) -> bool:
        key = (evaluation.snapshot.repo, evaluation.snapshot.facts.number, kind.value, head)
        with self._lock:
            if key in self._notified:
                return False
            self._notified.add(key)
        reason = evaluation.decision.reasons[0] if evaluation.decision.reasons else None
        self.send(kind, evaluation, reason=reason)
        return True
