"""Render a notification as a Slack incoming-webhook payload (Block Kit, with a text fallback).

Everything a person typed (titles, reasons, details) is escaped: Slack would otherwise turn
``<!channel>`` in a pull-request title into a page for the whole channel.
"""

from __future__ import annotations

from typing import Any

from controller.notify.events import Notification, NotificationKind
from controller.notify.text import details, facts, headline, summary

# Block Kit limits (api.slack.com/reference/block-kit/blocks).
_HEADER_MAX = 150
_SECTION_MAX = 3000
_FIELD_MAX = 2000
_FIELDS_MAX = 10

_EMOJI: dict[NotificationKind, str] = {
    NotificationKind.WAITING: ":hourglass_flowing_sand:",
    NotificationKind.REMINDER: ":alarm_clock:",
    NotificationKind.APPROVED: ":white_check_mark:",
    NotificationKind.REJECTED: ":no_entry:",
    NotificationKind.BYPASSED: ":rotating_light:",
    NotificationKind.APPLIED: ":rocket:",
    NotificationKind.FAILED: ":x:",
    NotificationKind.EXPIRED: ":wastebasket:",
}


def escape(text: str) -> str:
    """Slack's three control characters, as its formatting guide requires."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_slack(n: Notification) -> dict[str, Any]:
    title = headline(n)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _clip(f"{_EMOJI[n.kind]} {title}", _HEADER_MAX),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _clip(escape(summary(n)), _SECTION_MAX)},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _clip(f"*{label}*\n{escape(value)}", _FIELD_MAX)}
                for label, value in facts(n)[:_FIELDS_MAX]
            ],
        },
    ]
    if n.details:
        lines = "\n".join(f"• {escape(line)}" for line in details(n))
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(lines, _SECTION_MAX)}}
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open pull request"},
                    "url": n.url,
                }
            ],
        }
    )
    # ``text`` is what phones show in the push notification and what old clients render.
    fallback = f"{escape(title)}: {escape(summary(n))} {n.url}"
    return {"text": fallback, "blocks": blocks}
