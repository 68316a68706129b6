"""Policies name channels; the controller's configuration holds their webhook URLs.

A Slack or Teams incoming-webhook URL is a credential: anyone holding it can post. Policies
live in the requests repository, which every developer reads, so they name a channel
(``#sre-approvals``) and this router swaps each name for the URL configured for it before a
notification is sent. A name with no URL is logged (once) and skipped, never guessed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Protocol

from controller.model import NotifyTargets
from controller.notify.events import Notification

log = logging.getLogger(__name__)


class Sender(Protocol):
    def send(self, notification: Notification, targets: NotifyTargets) -> None: ...


def slack_channel_key(name: str) -> str:
    """Slack channel names are case-insensitive and policies may write them with or without '#'."""
    return name.removeprefix("#").casefold()


class ChannelRouter:
    """Wraps a sender: channel names in ``targets`` become their configured webhook URLs."""

    def __init__(
        self, sender: Sender, *, slack: Mapping[str, str], teams: Mapping[str, str]
    ) -> None:
        self._sender = sender
        self._slack = {slack_channel_key(name): url for name, url in slack.items()}
        self._teams = dict(teams)
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def send(self, notification: Notification, targets: NotifyTargets) -> None:
        routed = replace(
            targets,
            slack=self._urls("slack", targets.slack, self._slack, slack_channel_key),
            teams=self._urls("teams", targets.teams, self._teams, lambda name: name),
        )
        if routed.slack or routed.teams or routed.email:
            self._sender.send(notification, routed)

    def _urls(
        self,
        kind: str,
        names: tuple[str, ...],
        configured: Mapping[str, str],
        key: Callable[[str], str],
    ) -> tuple[str, ...]:
        urls: list[str] = []
        for name in names:
            url = configured.get(key(name))
            if url is not None:
                urls.append(url)
                continue
            with self._lock:
                first = (kind, name) not in self._warned
                self._warned.add((kind, name))
            if first:
                log.warning(
                    "no webhook is configured for %s channel %s named by a policy: add it to "
                    "notify.%sWebhooks in the controller configuration",
                    kind,
                    name,
                    kind,
                )
        return tuple(dict.fromkeys(urls))
