"""Polling open pull requests without spending rate-limit budget when nothing changed.

Each page of ``GET /repos/{owner}/{repo}/pulls?state=open`` is asked for with the ETag of
its previous answer (``If-None-Match``). GitHub answers an unchanged page with ``304 Not
Modified``, which does not count against the rate limit, and nothing else is fetched. Only
when a page changed does the caller learn which pull requests need a fresh snapshot.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from controller.github.client import GitHubClient
from controller.github.conditional import ConditionalLists
from controller.github.failures import github_errors


@dataclass(frozen=True, slots=True)
class PullSummary:
    number: int
    title: str
    author: str
    head_sha: str
    base_sha: str
    updated_at: datetime
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PollResult:
    pulls: tuple[PullSummary, ...]
    """Every open pull request, whether or not it changed."""
    changed: tuple[PullSummary, ...]
    """Those that are new or whose head, base or ``updated_at`` moved since the last poll."""
    requests: int
    not_modified: int
    """How many of ``requests`` were answered 304 (free of rate-limit cost)."""


def _summary(item: dict[str, Any]) -> PullSummary:
    return PullSummary(
        number=int(item["number"]),
        title=str(item.get("title") or ""),
        author=str((item.get("user") or {}).get("login") or ""),
        head_sha=str(item["head"]["sha"]),
        base_sha=str(item["base"]["sha"]),
        updated_at=datetime.fromisoformat(str(item["updated_at"])),
        labels=tuple(str(label["name"]) for label in item.get("labels") or ()),
    )


class PullPoller:
    """Remembers each page's ETag and the pull requests seen, per repository, between polls."""

    def __init__(self, client: GitHubClient, *, per_page: int = 100) -> None:
        self._lists = ConditionalLists(client)
        self._per_page = per_page
        self._seen: dict[str, dict[int, PullSummary]] = {}
        self._lock = threading.Lock()

    def poll(self, repo_name: str) -> PollResult:
        params = {"state": "open", "sort": "created", "per_page": self._per_page}
        with github_errors(f"list open pull requests of {repo_name}"):
            # Only the summaries are kept between polls, not each pull request's whole JSON.
            listing = self._lists.get(
                f"/repos/{quote(repo_name, safe='/')}/pulls", params, keep=_summary
            )
            pulls: list[PullSummary] = list(listing.items)
        return PollResult(
            pulls=tuple(pulls),
            changed=self._diff(repo_name, pulls),
            requests=listing.requests,
            not_modified=listing.not_modified,
        )

    def _diff(self, repo_name: str, pulls: Sequence[PullSummary]) -> tuple[PullSummary, ...]:
        with self._lock:
            before = self._seen.get(repo_name, {})
            self._seen[repo_name] = {p.number: p for p in pulls}
        return tuple(
            p
            for p in pulls
            if (old := before.get(p.number)) is None
            or (old.head_sha, old.updated_at, old.base_sha)
            != (p.head_sha, p.updated_at, p.base_sha)
        )
