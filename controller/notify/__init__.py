"""Notifications: Slack and Microsoft Teams incoming webhooks, and email over SMTP.

The reconciler builds a :class:`Notification` (metadata only: never a secret value) and
hands it with a policy's :class:`~controller.model.NotifyTargets` to :meth:`Notifier.send`,
which returns at once; a background worker delivers with bounded retries and records a
:class:`DeliveryOutcome` per target. Webhook URLs are credentials: logs and outcomes name
their host only.

Logging note for deployers: ``urllib3`` logs request paths at DEBUG level; keep the
``urllib3`` logger at INFO or above in production so webhook paths never reach the logs.
"""

from controller.notify.channels import ChannelRouter
from controller.notify.events import Notification, NotificationKind
from controller.notify.mail import email_recipients, render_email
from controller.notify.notifier import Notifier, OutcomeHook
from controller.notify.outcome import Channel, DeliveryOutcome
from controller.notify.settings import RetryPolicy, SmtpSettings
from controller.notify.slack import render_slack
from controller.notify.teams import render_teams

__all__ = [
    "Channel",
    "ChannelRouter",
    "DeliveryOutcome",
    "Notification",
    "NotificationKind",
    "Notifier",
    "OutcomeHook",
    "RetryPolicy",
    "SmtpSettings",
    "email_recipients",
    "render_email",
    "render_slack",
    "render_teams",
]
