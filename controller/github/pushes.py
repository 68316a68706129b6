"""Who pushed to a pull request's branch, as GitHub itself reports it.

Commit author and committer are text the pusher writes, so they cannot say who put content
into a pull request. Two sources can:

- the ``sender`` of ``pull_request`` ``opened`` / ``reopened`` / ``synchronize`` webhook
  deliveries, which :class:`PushLedger` appends to a file (one fsynced JSON line each), so
  what was learned survives restarts and every pass reads it;
- the repository activity API (``GET /repos/{owner}/{repo}/activity?ref=...``), which lists
  every ref update with its ``actor``, so pushes made while the controller was down count.

Also here: ``Co-authored-by:`` trailers, mapped to logins through GitHub's no-reply address.
"""

from __future__ import annotations

import json
import os
import re
import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from github.GithubException import UnknownObjectException

from controller.errors import StoreError
from controller.github.conditional import ConditionalLists
from controller.model import Push

LEDGER_NAME = "sealgate-pushes.jsonl"
"""Kept inside the store's directory: the one place a deployment already makes durable."""

_ZERO_SHA = "0" * 40
_PUSH_TYPES = frozenset({"push", "force_push", "branch_creation", "pr_merge", "merge_queue_merge"})
_CO_AUTHOR = re.compile(r"^\s*co-authored-by:\s*(?P<name>[^<]*?)\s*<(?P<email>[^>]*)>\s*$", re.I)
_NOREPLY = re.compile(r"^(?:\d+\+)?(?P<login>[A-Za-z0-9-]+)@users\.noreply\.github\.com$", re.I)


def co_authors(message: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(logins, unlinked)`` named by the ``Co-authored-by:`` trailers of ``message``.

    Only a GitHub no-reply address names a login for certain; any other email could be
    anyone's, so it is returned (as the trailer's name) among the unlinked, which block
    approval rather than being guessed at.
    """
    logins: list[str] = []
    unlinked: list[str] = []
    for line in message.splitlines():
        found = _CO_AUTHOR.match(line)
        if found is None:
            continue
        noreply = _NOREPLY.match(found.group("email").strip())
        if noreply is not None:
            logins.append(noreply.group("login"))
        else:
            unlinked.append(found.group("name").strip() or "an unnamed co-author")
    return tuple(logins), tuple(unlinked)


def _when(text: Any) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def activity_pushes(lists: ConditionalLists, repo: str, branch: str) -> tuple[Push, ...]:
    """Every update of ``refs/heads/<branch>`` in ``repo`` that left a commit behind.

    Callers wrap the call in ``github_errors``. An entry without an actor (a deleted
    account) is left out: its push stays unknown, which blocks rather than admits.
    """
    path = f"/repos/{quote(repo, safe='/')}/activity"
    try:
        listing = lists.get(path, {"ref": f"refs/heads/{branch}", "direction": "desc"})
    except UnknownObjectException:
        # A server without the activity API (or a deleted fork): the pushes stay unknown
        # and the decision says so, rather than every pass failing.
        return ()
    pushes: list[Push] = []
    for item in listing.items:
        if not isinstance(item, dict) or item.get("activity_type") not in _PUSH_TYPES:
            continue
        actor = item.get("actor")
        after = str(item.get("after") or "")
        if not isinstance(actor, dict) or not actor.get("login") or after in ("", _ZERO_SHA):
            continue
        pushes.append(
            Push(sha=after, pusher=str(actor["login"]), pushed_at=_when(item["timestamp"]))
        )
    return tuple(pushes)


class PushLedger:
    """Append-only record of the pushers webhooks reported, one JSON line per delivery.

    Each line is written with one ``write`` on an ``O_APPEND`` descriptor and fsynced
    before the delivery is acknowledged, so a crash loses nothing GitHub was told we have;
    a torn last line (a crash mid-write) is skipped when reading.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def in_store(cls, store_path: Path) -> PushLedger:
        return cls(store_path / LEDGER_NAME)

    def record(self, repo: str, number: int, push: Push) -> None:
        line = json.dumps(
            {
                "repo": repo.casefold(),
                "number": number,
                "sha": push.sha,
                "pusher": push.pusher,
                "pushedAt": push.pushed_at.isoformat(),
            },
            sort_keys=True,
        )
        # Leading newline: a line torn by a crash mid-write is closed off, never glued to
        # this one.
        data = ("\n" + line + "\n").encode()
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise StoreError(
                f"could not record a push in {self.path}: {exc.strerror}", retryable=True
            ) from exc

    def pushes(self, repo: str, number: int) -> tuple[Push, ...]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ()
        except OSError as exc:
            raise StoreError(
                f"could not read the push ledger {self.path}: {exc.strerror}", retryable=True
            ) from exc
        key = repo.casefold()
        found: list[Push] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if entry["repo"] != key or entry["number"] != number:
                    continue
                found.append(
                    Push(
                        sha=str(entry["sha"]),
                        pusher=str(entry["pusher"]),
                        pushed_at=datetime.fromisoformat(str(entry["pushedAt"])),
                    )
                )
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a crash mid-write
        return tuple(found)
