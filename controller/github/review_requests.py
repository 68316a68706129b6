"""Ask the people and teams who can still approve for a review (GitHub's requested reviewers).

Frugal, because it runs on every pass: nothing is sent when everyone wanted was already
asked on this head (by the record in the sticky comment, or this process's memory). Only
when the wanted set grows does it read the pull request's requested reviewers (1 request)
and ask the ones not requested yet (1 request). GitHub refuses a whole request if one
name cannot be asked (the author, no access to the repository): then each is asked alone,
and the refused ones are not tried again on this head. Teams of other organisations cannot
be asked on a repository and are skipped, and GitHub keeps at most 15 requested reviewers
(teams are asked first, as one request reaches every member).

Each person is asked at most once per head: someone who removed a request sealgate made
(or reviewed, which removes it too) is not asked again until a new head is pushed, which
needs their review again.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import quote

from github.GithubException import GithubException

from controller.github.asked import Asked
from controller.github.cache import LruCache
from controller.github.client import GitHubClient
from controller.github.failures import github_errors, github_message
from controller.github.snapshot import PullRequestSnapshot
from controller.policy.reviewers import ReviewAsk

log = logging.getLogger(__name__)

MAX_REQUESTED = 15
"""GitHub keeps at most 15 users and teams requested on a pull request."""


class ReviewRequester:
    def __init__(self, client: GitHubClient) -> None:
        self._client = client
        # (repo, number, head) -> every name handled on that head (asked, found requested,
        # refused or skipped): the hot path's answer without reading anything.
        self._handled: LruCache[tuple[str, int, str], frozenset[str]] = LruCache(4096)
        self._lock = threading.Lock()
        self.requests = 0
        """HTTP requests made so far (for measurements)."""

    def ask(self, snapshot: PullRequestSnapshot, want: ReviewAsk, previous: Asked) -> Asked:
        """Ask whoever in ``want`` was not asked on the head yet; the record to keep."""
        repo, number, head = snapshot.repo, snapshot.facts.number, snapshot.facts.head_sha
        key = (repo, number, head)
        done = previous.on(head) | (self._handled.get(key) or frozenset())
        todo = (set(want.users) | set(want.teams)) - done
        if not todo:
            return previous
        owner = repo.split("/", 1)[0].casefold()
        users = sorted(n for n in todo if "/" not in n)
        teams = sorted(n for n in todo if n.startswith(f"{owner}/"))
        path = f"/repos/{quote(repo, safe='/')}/pulls/{number}/requested_reviewers"
        with github_errors(f"request reviews on {repo}#{number}"):
            already = self._requested(path, owner)
            # Teams first: one request reaches every member.
            room = max(0, MAX_REQUESTED - len(already))
            teams = [t for t in teams if t not in already][:room]
            users = [u for u in users if u not in already][: room - len(teams)]
            asked = self._post_all(path, users, teams) if users or teams else set()
        self._handled.put(key, frozenset(done | todo))
        if asked:
            log.info("%s#%d: asked %s to review", repo, number, ", ".join(sorted(asked)))
        return previous.add(head, frozenset(asked | (already & todo)), frozenset(asked))

    def _call(self, verb: str, path: str, body: dict[str, Any] | None = None) -> Any:
        with self._lock:
            self.requests += 1
        _headers, data = self._client.github.requester.requestJsonAndCheck(verb, path, input=body)
        return data

    def _requested(self, path: str, owner: str) -> set[str]:
        data = self._call("GET", path) or {}
        found = {str(u.get("login", "")).casefold() for u in data.get("users") or ()}
        found |= {f"{owner}/{str(t.get('slug', '')).casefold()}" for t in data.get("teams") or ()}
        return found

    def _post_all(self, path: str, users: list[str], teams: list[str]) -> set[str]:
        def body(us: list[str], ts: list[str]) -> dict[str, Any]:
            return {"reviewers": us, "team_reviewers": [t.split("/", 1)[1] for t in ts]}

        try:
            self._call("POST", path, body(users, teams))
            return {*users, *teams}
        except GithubException as exc:
            if exc.status != 422:
                raise
            if len(users) + len(teams) == 1:
                log.info("%s: GitHub refused the review request: %s", path, github_message(exc))
                return set()
        asked: set[str] = set()
        for us, ts in [([u], []) for u in users] + [([], [t]) for t in teams]:
            try:
                self._call("POST", path, body(us, ts))
            except GithubException as exc:
                if exc.status != 422:
                    raise
                log.info(
                    "%s: GitHub refused a review request for %s: %s",
                    path,
                    (us or ts)[0],
                    github_message(exc),
                )
                continue
            asked.update(us or ts)
        return asked
