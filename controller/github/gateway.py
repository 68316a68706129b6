"""``GitHubGateway``: the adapter's pieces behind one facade, shaped for the reconciler.

The reconciler may not import PyGithub, even through this package, so it states what it
needs as a Protocol (``controller.reconciler.ports.GitHubPort``) and this class satisfies
it structurally, taking and returning plain values and snapshots only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from controller.github.asked import Asked, parse_asked
from controller.github.cache import LruCache
from controller.github.client import GitHubClient
from controller.github.comments import CommentPoster
from controller.github.failures import github_errors
from controller.github.history import PullHistory
from controller.github.merge import merge
from controller.github.poll import PullPoller
from controller.github.pushes import PushLedger
from controller.github.records import MergedPull, RulesAt, SyncCheck, SyncCheckState
from controller.github.report import Reporter
from controller.github.review_requests import ReviewRequester
from controller.github.snapshot import MAX_CHANGED_FILES, PullRequestSnapshot, SnapshotReader
from controller.github.summary import Summary
from controller.github.sync_report import SyncReporter
from controller.github.teams import TeamDirectory
from controller.policy.reviewers import ReviewAsk


class GitHubGateway:
    """One client shared by a snapshot reader, the reporters, pollers and the merge."""

    def __init__(
        self,
        client: GitHubClient,
        *,
        merged_window: int = 100,
        branches: Iterable[str] = (),
        allow_forks: bool = False,
        ledger: PushLedger | None = None,
        max_changed_files: int = MAX_CHANGED_FILES,
        graphql: bool = True,
    ) -> None:
        self.client = client
        # One directory for the snapshots and the pre-merge re-read, so a fresh read also
        # refreshes what the next snapshot sees.
        self.teams = TeamDirectory(client)
        self.reader = SnapshotReader(
            client,
            teams=self.teams,
            branches=branches,
            allow_forks=allow_forks,
            ledger=ledger,
            max_changed_files=max_changed_files,
            graphql=graphql,
        )
        self.reporter = Reporter(client, graphql=graphql)
        self.sync_reporter = SyncReporter(client)
        self.history = PullHistory(client)
        self.comments = CommentPoster(client)
        self.review_requests = ReviewRequester(client)
        # (repo, number) -> who was asked to review, until the next report writes it down.
        self._asked: LruCache[tuple[str, int], Asked] = LruCache(4096)
        # Two pollers, each remembering what it saw: listing every open pull request (the
        # expiry loop) must not swallow the changes the next work poll should see.
        self._changes = PullPoller(client)
        self._listing = PullPoller(client)
        self._merged_window = merged_window

    def login(self) -> str:
        return self.client.login()

    def close(self) -> None:
        """Stops the worker threads of the reads and reports (the client is closed apart)."""
        self.reader.close()
        self.reporter.close()
        self.teams.close()

    def fetch(self, repo: str, number: int) -> PullRequestSnapshot:
        return self.reader.fetch(repo, number)

    def current_rules(self, repo: str) -> RulesAt:
        return self.reader.current_rules(repo)

    def fresh_teams(self, teams: Iterable[str]) -> Mapping[str, frozenset[str]]:
        return self.teams.memberships(teams, fresh=True)

    def expect_teams(self, repo: str, number: int, teams: Iterable[str]) -> None:
        self.reader.expect_teams(repo, number, teams)

    def first_parent(self, repo: str, sha: str) -> str | None:
        if not sha:
            return None
        with github_errors(f"read commit {sha[:12]} of {repo}"):
            parents = self.client.repo(repo).get_commit(sha).parents
            return parents[0].sha if parents else None

    def rules_at(self, repo: str, sha: str) -> Mapping[str, bytes]:
        return self.reader.rules_at(repo, sha)

    def report(self, snapshot: object, summary: Summary) -> None:
        """``snapshot`` is what :meth:`fetch` returned."""
        if not isinstance(snapshot, PullRequestSnapshot):
            raise TypeError("report takes a snapshot this gateway fetched")
        self.reporter.report(
            snapshot, summary, self._asked.get((snapshot.repo, snapshot.facts.number))
        )

    def request_reviews(self, snapshot: object, want: ReviewAsk) -> None:
        """Ask ``want`` to review on ``snapshot``'s head, once each; the next :meth:`report`
        records it in the sticky comment and mentions whoever was asked the first time."""
        if not isinstance(snapshot, PullRequestSnapshot):
            raise TypeError("request_reviews takes a snapshot this gateway fetched")
        key = (snapshot.repo, snapshot.facts.number)
        previous = self._asked.get(key)
        if previous is None:
            sticky = self.reporter.sticky(snapshot)
            previous = parse_asked(sticky[1] if sticky is not None else None)
        self._asked.put(key, self.review_requests.ask(snapshot, want, previous))

    def sync_state(self, repo: str, head_sha: str) -> SyncCheckState | None:
        return self.sync_reporter.state(repo, head_sha)

    def report_sync(self, repo: str, number: int, head_sha: str, check: SyncCheck) -> None:
        self.sync_reporter.report(repo, number, head_sha, check)

    def merge(self, repo: str, number: int, head_sha: str, method: str) -> str:
        return merge(self.client, repo, number, head_sha, method).sha

    def comment_once(self, repo: str, number: int, key: str, body: str) -> bool:
        return self.comments.post_once(repo, number, key, body)

    def changed_pulls(self, repo: str) -> list[int]:
        """Open pull requests that are new or moved since this gateway's last call."""
        return [p.number for p in self._changes.poll(repo).changed]

    def open_pulls(self, repo: str) -> list[int]:
        return [p.number for p in self._listing.poll(repo).pulls]

    def recently_merged(self, repo: str) -> list[MergedPull]:
        return self.history.recently_merged(repo, limit=self._merged_window)

    def merge_facts(self, repo: str, number: int) -> MergedPull | None:
        return self.history.merge_facts(repo, number)
