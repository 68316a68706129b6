"""Merged pull requests: which ones recently closed by merging, and who merged each, when.

The reconciler needs this to finish work a crash interrupted: a pull request merged just
before the controller died is no longer in the open list, yet its change may not be applied
or synced. GitHub lists closed pull requests newest first; one page (the most recent
``limit``) bounds the cost of every poll, which is plenty when polls run every minute.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from controller.errors import GitHubError
from controller.github.client import GitHubClient
from controller.github.failures import github_errors
from controller.github.records import MergedPull


def _when(text: Any) -> datetime:
    return datetime.fromisoformat(str(text))


class PullHistory:
    """Reads merged pull requests; holds no state between calls."""

    def __init__(self, client: GitHubClient) -> None:
        self._client = client

    def recently_merged(self, repo_name: str, *, limit: int = 100) -> list[MergedPull]:
        """The merged ones among the ``limit`` most recently updated closed pull requests."""
        path = f"/repos/{quote(repo_name, safe='/')}/pulls"
        params = {"state": "closed", "sort": "updated", "direction": "desc", "per_page": limit}
        where = f"list closed pull requests of {repo_name}"
        with github_errors(where):
            _headers, data = self._client.github.requester.requestJsonAndCheck(
                "GET", path, parameters=params
            )
        try:
            return [
                MergedPull(
                    number=int(item["number"]),
                    head_sha=str(item["head"]["sha"]),
                    merged_at=_when(item["merged_at"]),
                    merged_by=str((item.get("merged_by") or {}).get("login") or ""),
                    merge_commit_sha=str(item.get("merge_commit_sha") or ""),
                )
                for item in data or ()
                if item.get("merged_at")
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise GitHubError(
                f"{where}: GitHub's answer lacks a field sealgate relies on", retryable=False
            ) from exc

    def merge_facts(self, repo_name: str, number: int) -> MergedPull | None:
        """Who merged ``number`` and when; None while it is not merged."""
        where = f"read merge of {repo_name}#{number}"
        with github_errors(where):
            pr = self._client.repo(repo_name).get_pull(number)
            if not pr.merged or pr.merged_at is None:
                return None
            merged_by = pr.merged_by.login if pr.merged_by is not None else ""
            return MergedPull(
                number=pr.number,
                head_sha=pr.head.sha,
                merged_at=pr.merged_at,
                merged_by=merged_by,
                merge_commit_sha=pr.merge_commit_sha or "",
            )
