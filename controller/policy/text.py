"""Small helpers that phrase reasons: lists of people, commits, durations, times."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

_MAX_NAMES = 10
_SHORT_SHA = 7


def names(people: Iterable[str], *, empty: str = "nobody") -> str:
    """``alice, bob`` or ``alice, bob and 12 more``: long teams stay readable."""
    ordered = sorted(people)
    if not ordered:
        return empty
    shown = ", ".join(ordered[:_MAX_NAMES])
    hidden = len(ordered) - _MAX_NAMES
    return f"{shown} and {hidden} more" if hidden > 0 else shown


def short_sha(sha: str) -> str:
    return sha[:_SHORT_SHA]


def duration(span: timedelta) -> str:
    """``72h``, ``7d``, ``30m``: the units policies are written in (hours below a week)."""
    minutes = int(span.total_seconds() // 60)
    day = 24 * 60
    if minutes % day == 0 and minutes >= 7 * day:
        return f"{minutes // day}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``: the form facts are written in."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
