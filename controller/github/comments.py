"""One-off pull-request comments (a rollout failed, merged without approval, expired).

Each carries a hidden marker naming the event; before posting, sealgate looks for its own
comment with that marker, so an event is commented on once even across restarts.
"""

from __future__ import annotations

from urllib.parse import quote

from controller.github.client import GitHubClient
from controller.github.failures import github_errors
from controller.github.markers import note_marker

__all__ = ["CommentPoster", "note_marker"]


class CommentPoster:
    def __init__(self, client: GitHubClient) -> None:
        self._client = client

    def post_once(self, repo_name: str, number: int, key: str, body: str) -> bool:
        """Post ``body`` under the marker for ``key`` unless sealgate already did; True if
        posted now."""
        marker = note_marker(key)
        me = self._client.login().lower()
        path = f"/repos/{quote(repo_name, safe='/')}/issues/{number}/comments"
        requester = self._client.github.requester
        with github_errors(f"comment on {repo_name}#{number}"):
            page = 1
            while True:
                _headers, data = requester.requestJsonAndCheck(
                    "GET", path, parameters={"per_page": 100, "page": page}
                )
                items = list(data or ())
                for item in items:
                    author = str((item.get("user") or {}).get("login") or "").lower()
                    if author == me and str(item.get("body") or "").startswith(marker):
                        return False
                if len(items) < 100:
                    break
                page += 1
            requester.requestJsonAndCheck("POST", path, input={"body": f"{marker}\n{body}"})
        return True
