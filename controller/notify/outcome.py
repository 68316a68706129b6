"""The record of one delivery attempt sequence: for metrics, logs and tests."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from controller.notify.events import NotificationKind


class Channel(enum.StrEnum):
    SLACK = "slack"
    TEAMS = "teams"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    channel: Channel
    target: str
    """A label safe to log and show: the webhook's host and position, or the mail server.
    Never a webhook URL's path, which is its credential."""
    kind: NotificationKind
    repository: str
    pull_request: int
    delivered: bool
    attempts: int
    """Tries made; 0 when the notification was dropped before any."""
    error: str | None = None
    """Why it was not delivered, in words safe to log (no URL paths, no passwords)."""
