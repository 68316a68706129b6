"""Put a decision on the pull request: a ``sealgate`` check run, one sticky comment, labels.

Reporting is idempotent and frugal, because it runs after every event:

- the check run for a head SHA is created once and then updated in place; an update whose
  content equals the last one sent is skipped. GitHub lets only Apps write check runs, so
  with token authentication the decision goes out as a ``sealgate`` commit status instead
  (state and a one-line description; the table is in the comment);
- the summary comment is found by its hidden marker among the comments the snapshot already
  holds (only comments sealgate itself wrote count, so a look-alike cannot hijack it), and
  edited only when its text changed; it is never posted twice;
- exactly one ``sealgate:*`` label is kept: the current one is added, stale ones removed.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from github.CheckRun import CheckRun
from github.GithubException import UnknownObjectException
from github.GithubObject import NotSet, Opt
from github.Repository import Repository

from controller.github.asked import Asked, parse_asked, render_asked
from controller.github.cache import LruCache
from controller.github.client import GitHubClient
from controller.github.failures import github_errors
from controller.github.snapshot import PullRequestSnapshot
from controller.github.summary import CHECK_NAME, MARKER, Label, Summary, comment_body


@dataclass(frozen=True, slots=True)
class ReportResult:
    check_run_id: int
    """0 when reporting through a commit status."""
    comment_id: int
    label: str
    requests: int
    """Write requests made (check run, comment, labels) plus a check-run lookup if needed."""


class Via(enum.StrEnum):
    AUTO = "auto"
    """Check runs when acting as a GitHub App, commit statuses otherwise."""
    CHECK_RUN = "check-run"
    STATUS = "status"


_STATUS_STATES: dict[str | None, str] = {
    "success": "success",
    "failure": "failure",
    None: "pending",
}
MAX_STATUS_DESCRIPTION = 140
MAX_ANNOTATIONS = 50
"""GitHub takes at most 50 annotations per check-run request; more need further updates."""


def annotation_key(item: Mapping[str, object]) -> tuple[str, int, int, str, str]:
    return (
        str(item.get("path")),
        int(str(item.get("start_line") or 0)),
        int(str(item.get("end_line") or 0)),
        str(item.get("annotation_level")),
        str(item.get("message")),
    )


def annotations_of(run: CheckRun) -> list[dict[str, object]]:
    return [
        {
            "path": a.path,
            "start_line": a.start_line,
            "end_line": a.end_line,
            "annotation_level": a.annotation_level,
            "message": a.message,
        }
        for a in run.get_annotations()
    ]


class Reporter:
    """Reports decisions; remembers what it wrote so repeats cost nothing.

    Safe to share between threads, but one pull request should be reported on by one
    thread at a time (the reconciler works on a pull request at a time anyway).
    """

    def __init__(self, client: GitHubClient, *, via: Via = Via.AUTO) -> None:
        self._client = client
        if via is Via.AUTO:
            via = Via.CHECK_RUN if client.app_id is not None else Via.STATUS
        self.via = via
        self._statuses: LruCache[tuple[str, str], str] = LruCache(4096)
        # (repo, number) -> the sticky comment's id and body as sealgate last wrote them.
        self._sticky: LruCache[tuple[str, int], tuple[int, str]] = LruCache(4096)
        # (repo, number) -> (labels the last snapshot showed, labels after sealgate's edits).
        self._labels_after: LruCache[tuple[str, int], tuple[frozenset[str], frozenset[str]]] = (
            LruCache(4096)
        )
        # (repo, head sha) -> check run id; check run id -> (digest of what it shows, status).
        self._runs: LruCache[tuple[str, str], int] = LruCache(4096)
        self._shown: LruCache[int, tuple[str, str]] = LruCache(4096)
        # check run id -> the annotations it holds (GitHub appends, never replaces them).
        self._annotated: LruCache[int, frozenset[tuple[str, int, int, str, str]]] = LruCache(4096)

    def report(
        self, snapshot: PullRequestSnapshot, summary: Summary, asked: Asked | None = None
    ) -> ReportResult:
        """``asked``: who sealgate asked to review (``ReviewRequester``); None keeps what the
        sticky comment says."""
        repo = self._client.repo(snapshot.repo)
        number = snapshot.facts.number
        with github_errors(f"report on {snapshot.repo}#{number}"):
            if self.via is Via.CHECK_RUN:
                run_id, run_requests = self._check_run(repo, snapshot, summary)
            else:
                run_id, run_requests = 0, self._status(repo, snapshot, summary)
            comment_id, comment_requests = self._comment(repo, snapshot, summary, asked)
            label_requests = self._labels(repo, snapshot, summary.label)
        return ReportResult(
            check_run_id=run_id,
            comment_id=comment_id,
            label=summary.label.value,
            requests=run_requests + comment_requests + label_requests,
        )

    def _check_run(
        self, repo: Repository, snapshot: PullRequestSnapshot, summary: Summary
    ) -> tuple[int, int]:
        head = snapshot.facts.head_sha
        outcome = summary.outcome
        conclusion: Opt[str] = NotSet
        completed_at: Opt[datetime] = NotSet
        if outcome.conclusion is not None:
            conclusion = outcome.conclusion
            completed_at = datetime.now(UTC)
        wanted = [a.as_json() for a in summary.annotations]
        digest = hashlib.sha256(
            repr((outcome.status, outcome.conclusion, summary.title, summary.text)).encode()
        ).hexdigest()

        requests = 0
        run_id = self._runs.get((snapshot.repo, head))
        if run_id is None:
            # After a restart the run may exist already: find it rather than add a second.
            requests += 1
            existing = [
                run
                for run in repo.get_commit(head).get_check_runs(check_name=CHECK_NAME)
                if run.app is None or run.app.id == self._client.app_id
            ]
            if existing:
                latest = max(existing, key=lambda run: run.id)
                run_id = latest.id
                self._shown.put(run_id, ("", latest.status))
                if latest.output.annotations_count:
                    # GitHub appends annotations: learn which it has so none is sent twice.
                    requests += 1
                    self._annotated.put(
                        run_id, frozenset(annotation_key(a) for a in annotations_of(latest))
                    )
        shown = self._shown.get(run_id) if run_id is not None else None
        # A completed run is not reopened (GitHub keeps its conclusion): a decision that
        # falls back to pending on the same head gets a fresh run, which GitHub shows and
        # branch protection honours as the latest.
        reopen = shown is not None and shown[1] == "completed" and outcome.status != "completed"
        sent = frozenset() if run_id is None or reopen else self._annotated.get(run_id)
        new = [a for a in wanted if annotation_key(a) not in (sent or frozenset())]
        batches = [new[i : i + MAX_ANNOTATIONS] for i in range(0, len(new), MAX_ANNOTATIONS)]
        first = batches.pop(0) if batches else []
        output: dict[str, str | list[dict[str, str | int]]] = {
            "title": summary.title,
            "summary": summary.text,
        }
        if first:
            output["annotations"] = first
        if run_id is None or reopen:
            run = repo.create_check_run(
                name=CHECK_NAME,
                head_sha=head,
                external_id=f"{snapshot.repo}#{snapshot.facts.number}",
                status=outcome.status,
                conclusion=conclusion,
                completed_at=completed_at,
                output=output,
            )
            run_id = run.id
            requests += 1
        elif shown is None or shown[0] != digest or first:
            repo.get_check_run(run_id).edit(
                status=outcome.status,
                conclusion=conclusion,
                completed_at=completed_at,
                output=output,
            )
            requests += 1
        for batch in batches:
            # Past GitHub's 50 per request: each further update appends the next batch.
            self._client.github.requester.requestJsonAndCheck(
                "PATCH",
                f"{repo.url}/check-runs/{run_id}",
                input={
                    "output": {
                        "title": summary.title,
                        "summary": summary.text,
                        "annotations": batch,
                    }
                },
            )
            requests += 1
        self._annotated.put(run_id, (sent or frozenset()) | {annotation_key(a) for a in new})
        self._runs.put((snapshot.repo, head), run_id)
        self._shown.put(run_id, (digest, outcome.status))
        return run_id, requests

    def _status(self, repo: Repository, snapshot: PullRequestSnapshot, summary: Summary) -> int:
        head = snapshot.facts.head_sha
        state = _STATUS_STATES.get(summary.outcome.conclusion, "error")
        description = summary.title
        if len(description) > MAX_STATUS_DESCRIPTION:
            description = description[: MAX_STATUS_DESCRIPTION - 1] + "…"
        digest = f"{state}\n{description}"
        if self._statuses.get((snapshot.repo, head)) == digest:
            return 0
        # Through the requester: PyGithub's Commit.create_status would first fetch the commit.
        self._client.github.requester.requestJsonAndCheck(
            "POST",
            f"{repo.url}/statuses/{head}",
            input={"state": state, "description": description, "context": CHECK_NAME},
        )
        self._statuses.put((snapshot.repo, head), digest)
        return 1

    def sticky(self, snapshot: PullRequestSnapshot) -> tuple[int, str] | None:
        """The sticky comment's id and body, as the snapshot shows it or sealgate last wrote
        it."""
        me = self._client.login().lower()
        mine = [
            c for c in snapshot.facts.comments if c.user.lower() == me and c.body.startswith(MARKER)
        ]
        # A snapshot taken before sealgate's own last write does not show that write yet:
        # what sealgate remembers writing stands in for it, so nothing is posted twice.
        if mine:
            first = min(mine, key=lambda c: c.id)
            return first.id, first.body
        return self._sticky.get((snapshot.repo, snapshot.facts.number))

    def _comment(
        self,
        repo: Repository,
        snapshot: PullRequestSnapshot,
        summary: Summary,
        asked: Asked | None,
    ) -> tuple[int, int]:
        key = (snapshot.repo, snapshot.facts.number)
        known = self.sticky(snapshot)
        if asked is None:
            asked = parse_asked(known[1] if known is not None else None)
        # Who was asked to review, and the mentions, close the comment (never the check run):
        # kept on every render, so a mention is made once.
        body = comment_body(summary) + render_asked(asked)
        if known is not None:
            sticky_id, shown = known
            if shown == body:
                self._sticky.put(key, (sticky_id, body))
                return sticky_id, 0
            try:
                self._client.github.requester.requestJsonAndCheck(
                    "PATCH", f"{repo.url}/issues/comments/{sticky_id}", input={"body": body}
                )
            except UnknownObjectException:
                pass  # someone deleted it: post a new one below
            else:
                self._sticky.put(key, (sticky_id, body))
                return sticky_id, 1
        created = repo.get_issue(snapshot.facts.number).create_comment(body)
        self._sticky.put(key, (created.id, body))
        return created.id, 1 if known is None else 2

    def _labels(self, repo: Repository, snapshot: PullRequestSnapshot, label: Label) -> int:
        key = (snapshot.repo, snapshot.facts.number)
        seen = frozenset(snapshot.labels)
        remembered = self._labels_after.get(key)
        # Unchanged since the snapshot sealgate last reported on: its own edits still hold.
        current = remembered[1] if remembered is not None and remembered[0] == seen else seen
        issue = repo.get_issue(snapshot.facts.number)
        requests = 0
        if label.value not in current:
            issue.add_to_labels(label.value)
            requests += 1
        ours = {item.value for item in Label}
        for stale in sorted(current & ours - {label.value}):
            with contextlib.suppress(UnknownObjectException):  # already gone: fine
                issue.remove_from_labels(stale)
            requests += 1
        self._labels_after.put(key, (seen, (current - ours) | {label.value}))
        return requests
