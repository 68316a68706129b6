"""Plain values the GitHub adapter hands out and takes in, importable without PyGithub.

The reconciler may not import PyGithub even indirectly, so the values it exchanges with
the adapter's facade live here, apart from the modules that talk to GitHub.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

SYNC_CHECK_NAME = "sealgate/sync"


@dataclass(frozen=True, slots=True)
class MergedPull:
    number: int
    head_sha: str
    merged_at: datetime
    merged_by: str
    """Login of whoever merged it; empty when GitHub's answer does not say."""
    merge_commit_sha: str = ""
    """The commit the merge made on the base branch; empty when not known."""


@dataclass(frozen=True, slots=True)
class RulesAt:
    """The rule files of a branch, with the commit they were read at."""

    branch: str
    sha: str
    files: Mapping[str, bytes]


@dataclass(frozen=True, slots=True)
class SyncCheck:
    """What ``sealgate/sync`` shows. ``conclusion`` None keeps it in progress."""

    title: str
    text: str
    conclusion: str | None = None


@dataclass(frozen=True, slots=True)
class SyncCheckState:
    status: str
    """``in_progress`` or ``completed``."""
    conclusion: str | None
    title: str
