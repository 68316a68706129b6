"""Which files of a pull request sealgate reads and judges, from the list of files it changes.

One rule for the controller (GitHub's pull-request files list) and for ``sealgate validate``
(``git diff`` against the base): a change file is judged in the pull request that adds or
modifies it, and never again. Once applied it stays under ``changes/`` as history, and a
later pull request that leaves it alone is not judged by it, so rotating a key a second time
is not "the same key changed by two documents". Access requests under ``access/`` follow
the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from controller.documents.rules import ENVIRONMENTS_DIR, POLICIES_DIR, REQUEST_DIRS

REMOVED = "removed"
"""GitHub's status of a file the pull request deletes; others: added, modified, renamed,
copied, changed (mode), unchanged."""

RULE_DIRS = (ENVIRONMENTS_DIR, POLICIES_DIR)


@dataclass(frozen=True, slots=True)
class FileChange:
    """One row of a pull request's files: its path at the head, what happened to it, and,
    for a rename, where it came from."""

    filename: str
    status: str
    previous_filename: str | None = None


@dataclass(frozen=True, slots=True)
class PullFiles:
    changed: tuple[str, ...]
    """Every path the pull request touches, a rename's old path included (a rename out of
    ``policies/`` edits the rules just as much as a rewrite)."""
    judged: tuple[str, ...]
    """Request files read at the head and judged: under ``changes/`` or ``access/`` and not
    removed (a removed access request asks for nothing)."""

    @property
    def touches_rules(self) -> bool:
        """A governance change: the rules it leaves behind are checked too."""
        return any(path.split("/", 1)[0] in RULE_DIRS for path in self.changed)


def pull_files(rows: Iterable[FileChange]) -> PullFiles:
    changed: list[str] = []
    judged: list[str] = []
    for row in rows:
        changed.append(row.filename)
        if row.previous_filename and row.previous_filename not in changed:
            changed.append(row.previous_filename)
        if is_judged_change(row):
            judged.append(row.filename)
    return PullFiles(changed=tuple(changed), judged=tuple(judged))


def is_judged_change(row: FileChange) -> bool:
    return row.status != REMOVED and row.filename.startswith(tuple(f"{d}/" for d in REQUEST_DIRS))
