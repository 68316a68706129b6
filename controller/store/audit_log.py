"""The audit log inside the store's tree: find its end, append to it, read it back.

Record format and chain checks live in ``audit``; this module knows where the files are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from controller.store import audit
from controller.store.gitobjects import GitObjects

_AUDIT_HEAD = re.compile(r"^Audit-Head: (\d+) ([0-9a-f]{64})$", re.MULTILINE)


class AuditLog:
    def __init__(self, git: GitObjects) -> None:
        self._git = git

    def append(
        self, tree: bytes | None, events: Sequence[tuple[str, Mapping[str, Any]]], now: datetime
    ) -> tuple[str, bytes, str]:
        """(path, new content) of the file appended to, and the commit's ``Audit-Head``."""
        latest = self._latest_file(tree)
        seq, prev, existing = 0, audit.GENESIS, b""
        target = audit.day_file(now)
        if latest is not None:
            existing = self._git.read_path(tree, latest) or b""
            last_line = existing.rstrip(b"\n").rsplit(b"\n", 1)[-1]
            tail = list(audit.parse_lines(last_line, where=latest))
            if tail:
                seq, prev = int(tail[-1]["seq"]), str(tail[-1]["hash"])
            # A clock that stepped back must not fork the order of the files.
            target = max(latest, target)
            if target == latest and len(existing) >= audit.PART_BYTES:
                target = audit.next_part(latest)
        content = existing if target == latest else b""
        for event, fields in events:
            seq += 1
            body = audit.new_record(seq=seq, prev=prev, when=now, event=event, fields=fields)
            prev = body["hash"]
            content += audit.encode_line(body)
        return target, content, f"{seq} {prev}"

    def bodies(self, tree: bytes | None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every record in order, as (``file:line``, parsed JSON)."""
        root = self._git.lookup(tree, audit.AUDIT_ROOT)
        if root is None:
            return
        for path, sha in self._git.walk_blobs(root[0], audit.AUDIT_ROOT + "/"):
            lines = audit.parse_lines(self._git.read_blob(sha), where=path)
            for number, body in enumerate(lines, start=1):
                yield f"{path}:{number}", body

    def _latest_file(self, tree: bytes | None) -> str | None:
        months = self._git.lookup(tree, audit.AUDIT_ROOT)
        if months is None:
            return None
        month_entries = self._git.tree_entries(months[0])
        if not month_entries:
            return None
        month = max(month_entries)
        days = self._git.tree_entries(month_entries[month][0])
        return f"{audit.AUDIT_ROOT}/{month}/{max(days)}" if days else None


def anchor_problems(commit: str, message: str, count: int, last_hash: str) -> list[str]:
    """The log must end exactly where the head commit's ``Audit-Head`` trailer says."""
    anchor = _AUDIT_HEAD.search(message)
    if anchor is None:
        return [f"commit {commit[:12]}: no Audit-Head trailer; the log is unanchored"]
    if (int(anchor.group(1)), anchor.group(2)) != (count, last_hash):
        return [
            f"commit {commit[:12]}: audit log ends at record {count} but the commit says "
            f"{anchor.group(1)}: records were dropped or added at the end"
        ]
    return []


def audited_versions(bodies: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, tuple[int, str]]:
    """Latest (version, file MAC) per secret path, as the audit log tells it."""
    latest: dict[str, tuple[int, str]] = {}
    for _, body in bodies:
        # A malformed record is already reported by the chain check; skip it here.
        try:
            if body.get("event") == "apply" and isinstance(body.get("secrets"), dict):
                for path, entry in body["secrets"].items():
                    latest[str(path)] = (int(entry["version"]), str(entry["mac"]))
            elif body.get("event") == "rollback":
                latest[str(body["path"])] = (int(body["version"]), str(body["mac"]))
        except (KeyError, TypeError, ValueError):
            continue
    return latest
