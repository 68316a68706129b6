"""WATCH: a stream of JSON lines, one ``{"type", "object"}`` event per change.

Without a starting resourceVersion a watch first replays the current state as ADDED events,
as a real server does. Selector-filtered watches see an object that starts matching as
ADDED and one that stops matching as DELETED.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from controller.sandbox.kube_server import errors
from controller.sandbox.kube_server.errors import ApiError
from controller.sandbox.kube_server.resources import ResourceType
from controller.sandbox.kube_server.selectors import Matcher
from controller.sandbox.kube_server.state import ObjectStore, WatchEvent

# A watch without timeoutSeconds ends after this long; clients simply watch again.
DEFAULT_WATCH_SECONDS = 1800.0
# How often an idle watch checks whether the server is stopping.
POLL_SECONDS = 0.5
# How long a watch stays silent before it writes a blank line (which watch decoders skip)
# to find clients that went away, so their serving threads end.
HEARTBEAT_SECONDS = 5.0


def seen_as(
    event: WatchEvent, rtype: ResourceType, namespace: str | None, matches: Matcher
) -> str | None:
    """The event type this watcher sees, or None when the event is not for it."""
    if event.rtype is not rtype:
        return None
    if namespace is not None and event.object["metadata"].get("namespace") != namespace:
        return None
    now = matches(event.object)
    if event.type != "MODIFIED" or event.previous is None:
        return event.type if now else None
    before = matches(event.previous)
    if before and now:
        return "MODIFIED"
    if before:
        return "DELETED"
    return "ADDED" if now else None


def _line(event_type: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": event_type, "object": obj}).encode() + b"\n"


def start_revision(resource_version: str) -> int | None:
    """Where a watch starts (None: from the current state).

    A version older than the kept history is not refused here: like a real server, the
    watch answers 200 and then sends an ERROR event carrying a 410 Expired ``Status``.
    """
    if resource_version in ("", "0"):
        return None
    if not resource_version.isdigit():
        raise errors.bad_request(f"invalid resource version: {resource_version!r}")
    return int(resource_version)


def stream(
    store: ObjectStore,
    rtype: ResourceType,
    namespace: str | None,
    matches: Matcher,
    *,
    start: int | None,
    timeout: float,
) -> Iterator[bytes]:
    # An empty chunk makes the server send the headers now: clients wait for them.
    yield b""
    if start is None:
        items, revision = store.list(rtype, namespace, matches)
        for obj in items:
            yield _line("ADDED", obj)
    else:
        revision = start
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    while not store.closed:
        now = time.monotonic()
        if now >= deadline:
            return
        if now - quiet_since >= HEARTBEAT_SECONDS:
            yield b"\n"
            quiet_since = now
        try:
            events = store.events_after(revision, min(deadline - now, POLL_SECONDS))
        except ApiError as exc:
            yield _line("ERROR", exc.status_body())
            return
        for event in events:
            revision = event.revision
            event_type = seen_as(event, rtype, namespace, matches)
            if event_type is not None:
                quiet_since = time.monotonic()
                yield _line(event_type, event.object)
