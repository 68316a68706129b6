"""Deliver one notification to every target, synchronously, each with its own retries.

This is the part the background worker runs; tests call it directly. Every outcome is
returned and logged, with targets named by labels that never show a webhook's path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from controller.model import NotifyTargets
from controller.notify.events import Notification
from controller.notify.mail import email_recipients, render_email
from controller.notify.outcome import Channel, DeliveryOutcome
from controller.notify.retry import DeliveryError, with_retries
from controller.notify.settings import RetryPolicy, SmtpSettings
from controller.notify.slack import render_slack
from controller.notify.smtp import send_email
from controller.notify.teams import render_teams
from controller.notify.webhook import post_webhook, webhook_host

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    """One target of one notification: what to call, and how to name it in logs."""

    channel: Channel
    label: str
    send: Callable[[], None] | None
    """None when the target cannot be served at all (``unsendable`` says why)."""
    unsendable: str | None = None


class Dispatcher:
    def __init__(
        self,
        *,
        smtp: SmtpSettings | None,
        approver_emails: Mapping[str, str],
        retry: RetryPolicy,
        session: requests.Session,
        sleep: Callable[[float], None],
        stop: threading.Event | None = None,
    ) -> None:
        self._smtp = smtp
        self._approver_emails = dict(approver_emails)
        self._retry = retry
        self._session = session
        self._sleep = sleep
        self._stop = stop

    def jobs(self, n: Notification, targets: NotifyTargets) -> list[Job]:
        """Every target ``n`` goes to, ready to run; rendering happens only when run."""
        jobs = [
            self._webhook_job(Channel.SLACK, i, url, render_slack, n)
            for i, url in enumerate(targets.slack, 1)
        ]
        jobs += [
            self._webhook_job(Channel.TEAMS, i, url, render_teams, n)
            for i, url in enumerate(targets.teams, 1)
        ]
        recipients, unknown = email_recipients(n, targets.email, self._approver_emails)
        if unknown:
            log.warning(
                "notify %s %s: no email address known for approver(s) %s; "
                "add them to the approver email mapping",
                n.kind,
                n.reference,
                ", ".join(unknown),
            )
        if recipients:
            jobs.append(self._email_job(n, recipients))
        return jobs

    def _webhook_job(
        self,
        channel: Channel,
        index: int,
        url: str,
        render: Callable[[Notification], dict[str, Any]],
        n: Notification,
    ) -> Job:
        def send() -> None:
            post_webhook(self._session, url, render(n), timeout_s=self._retry.http_timeout_s)

        return Job(channel, f"{channel} webhook {index} at {webhook_host(url)}", send)

    def _email_job(self, n: Notification, recipients: tuple[str, ...]) -> Job:
        count = f"{len(recipients)} recipient{'s' if len(recipients) != 1 else ''}"
        smtp = self._smtp
        if smtp is None:
            return Job(Channel.EMAIL, f"email to {count}", None, "no SMTP server is configured")

        def send() -> None:
            message = render_email(n, sender=smtp.sender, recipients=recipients)
            send_email(smtp, message, recipients)

        return Job(Channel.EMAIL, f"email to {count} via {smtp.host}:{smtp.port}", send)

    def deliver(self, n: Notification, targets: NotifyTargets) -> list[DeliveryOutcome]:
        return [self.run(n, job) for job in self.jobs(n, targets)]

    def run(self, n: Notification, job: Job) -> DeliveryOutcome:
        if job.send is None:
            log.error(
                "notify %s %s: %s not sent: %s", n.kind, n.reference, job.label, job.unsendable
            )
            return _outcome(n, job, attempts=0, error=job.unsendable)

        def on_retry(tries: int, error: DeliveryError, wait_s: float) -> None:
            log.warning(
                "notify %s %s: %s failed on try %d (%s); retrying in %.1f s",
                n.kind,
                n.reference,
                job.label,
                tries,
                error,
                wait_s,
            )

        try:
            result = with_retries(
                job.send, self._retry, sleep=self._sleep, stop=self._stop, on_retry=on_retry
            )
        except Exception as exc:
            # A bug must not kill the worker; only the type is logged because third-party
            # exception texts may quote the webhook URL.
            log.error(
                "notify %s %s: %s failed unexpectedly (%s)",
                n.kind,
                n.reference,
                job.label,
                type(exc).__name__,
            )
            return _outcome(n, job, attempts=1, error=f"internal error ({type(exc).__name__})")
        if result.error is None:
            log.info("notify %s %s: delivered to %s", n.kind, n.reference, job.label)
            return _outcome(n, job, attempts=result.tries, error=None)
        log.error(
            "notify %s %s: giving up on %s after %d tr%s: %s",
            n.kind,
            n.reference,
            job.label,
            result.tries,
            "y" if result.tries == 1 else "ies",
            result.error,
        )
        return _outcome(n, job, attempts=result.tries, error=str(result.error))


def _outcome(n: Notification, job: Job, *, attempts: int, error: str | None) -> DeliveryOutcome:
    return DeliveryOutcome(
        channel=job.channel,
        target=job.label,
        kind=n.kind,
        repository=n.repository,
        pull_request=n.pull_request,
        delivered=error is None,
        attempts=attempts,
        error=error,
    )


def dropped(n: Notification, job: Job, why: str) -> DeliveryOutcome:
    """The outcome of a target never tried: queue overflow or shutdown."""
    return _outcome(n, job, attempts=0, error=why)
