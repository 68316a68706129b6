"""Render a notification as a Microsoft Teams incoming-webhook payload (an Adaptive Card).

The message envelope with one Adaptive Card attachment is what both Teams Workflows
webhooks and the older Office 365 connector webhooks accept.
"""

from __future__ import annotations

from typing import Any

from controller.notify.events import Notification
from controller.notify.text import GOOD, URGENT, details, facts, headline, summary

_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
_CARD_VERSION = "1.4"


def _colour(n: Notification) -> str:
    if n.kind in URGENT:
        return "attention"
    if n.kind in GOOD:
        return "good"
    return "warning"


def render_teams(n: Notification) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": headline(n),
            "size": "large",
            "weight": "bolder",
            "color": _colour(n),
            "wrap": True,
        },
        {"type": "TextBlock", "text": summary(n), "wrap": True},
        {
            "type": "FactSet",
            "facts": [{"title": label, "value": value} for label, value in facts(n)],
        },
    ]
    if n.details:
        body.append(
            {"type": "TextBlock", "text": "\n".join(f"- {d}" for d in details(n)), "wrap": True}
        )
    card = {
        "$schema": _CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": _CARD_VERSION,
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open pull request", "url": n.url}],
        "msteams": {"width": "Full"},
    }
    return {
        "type": "message",
        # Shown in the activity feed and in clients that cannot draw cards.
        "summary": headline(n),
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
