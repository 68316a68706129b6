"""Put a decision on the pull request: a ``sealgate`` check run, one sticky comment, labels.

Reporting is idempotent and frugal, because it runs after every event:

- the check run for a head SHA is created once and then updated in place; an update whose
  content equals the last one sent is skipped. GitHub lets only Apps write check runs, so
  with token authentication the decision goes out as a ``sealgate`` commit status instead
  (state and a one-line description; the table is in the comment);
- the summary comment is found by its hidden marker among the comments the snapshot already
  holds (only comments sealgate itself wrote count, so a look-alike cannot hijack it), and
  edited only when its text changed; it is never posted twice;
- exactly one ``sealgate:*`` label is kept: the current one is added, stale ones removed;
- the comment edit and the label edits go out as one GraphQL mutation, alongside the check
  run, wherever their node ids are known (``controller.github.report_graph``); the rest, and
  everything on a server without GraphQL, over REST.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from github.CheckRun import CheckRun
from github.GithubObject import NotSet, Opt

from controller.github.asked import Asked, parse_asked, render_asked
from controller.github.cache import LruCache
from controller.github.client import GitHubClient
from controller.github.failures import github_errors
from controller.github.report_edits import PullEdits
from controller.github.snapshot import PullRequestSnapshot
from controller.github.summary import CHECK_NAME, Label, Summary, comment_body


@dataclass(frozen=True, slots=True)
class ReportResult:
    check_run_id: int
    """0 when reporting through a commit status."""
    comment_id: int
    label: str
    requests: int
    """HTTP requests made: the check-run or status write, a check-run lookup if needed, the
    GraphQL mutation and whatever went over REST (a 404 from GraphQL counts too)."""


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
REPORT_WORKERS = 4
"""The check, the comment or the mutation, and the label edits left to REST, at once."""
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

    def __init__(self, client: GitHubClient, *, via: Via = Via.AUTO, graphql: bool = True) -> None:
        """``graphql``: edit the comment and the labels in one GraphQL mutation where their
        node ids are known; False, or a server that answers 404 at its GraphQL endpoint,
        keeps every edit on REST."""
        self._client = client
        if via is Via.AUTO:
            via = Via.CHECK_RUN if client.app_id is not None else Via.STATUS
        self.via = via
        self._edits = PullEdits(client, graphql=graphql)
        self._statuses: LruCache[tuple[str, str], str] = LruCache(4096)
        # (repo, number) -> (labels the last snapshot showed, labels after sealgate's edits).
        self._labels_after: LruCache[tuple[str, int], tuple[frozenset[str], frozenset[str]]] = (
            LruCache(4096)
        )
        # (repo, head sha) -> check run id; check run id -> (digest of what it shows, status).
        self._runs: LruCache[tuple[str, str], int] = LruCache(4096)
        self._shown: LruCache[int, tuple[str, str]] = LruCache(4096)
        # check run id -> the annotations it holds (GitHub appends, never replaces them).
        self._annotated: LruCache[int, frozenset[tuple[str, int, int, str, str]]] = LruCache(4096)
        self._pool = ThreadPoolExecutor(max_workers=REPORT_WORKERS, thread_name_prefix="report")

    @property
    def graphql(self) -> bool:
        """Whether comment and label edits still try GraphQL."""
        return self._edits.graphql

    def report(
        self, snapshot: PullRequestSnapshot, summary: Summary, asked: Asked | None = None
    ) -> ReportResult:
        """``asked``: who sealgate asked to review (``ReviewRequester``); None keeps what the
        sticky comment says."""
        number = snapshot.facts.number
        add, remove = self._label_edits(snapshot, summary.label)
        known = self._edits.known(snapshot)
        if asked is None:
            asked = parse_asked(known.body if known is not None else None)
        # Who was asked to review, and the mentions, close the comment (never the check run):
        # kept on every render, so a mention is made once.
        body = comment_body(summary) + render_asked(asked)
        graph, add, remove = self._edits.plan(snapshot, known, body, add, remove)
        # The check, the mutation and whatever REST edits remain are independent writes: one
        # round trip for all of them. Each runs on a worker with that thread's own client.
        with github_errors(f"report on {snapshot.repo}#{number}"):
            check: Future[tuple[int, int]] = (
                self._pool.submit(self._check_run, snapshot, summary)
                if self.via is Via.CHECK_RUN
                else self._pool.submit(lambda: (0, self._status(snapshot, summary)))
            )
            comment: Future[tuple[int | None, int]] | None = None
            if graph is None or graph.comment is None:
                comment = self._pool.submit(self._edits.comment, snapshot, known, body)
            mutation = (
                self._pool.submit(self._edits.mutate, snapshot, graph, known, body)
                if graph is not None
                else None
            )
            edits: list[Future[None]] = [
                self._pool.submit(self._edits.add_label, snapshot, label) for label in add
            ]
            edits += [
                self._pool.submit(self._edits.remove_label, snapshot, label) for label in remove
            ]
            # All of them settle before any failure is raised: what was written is remembered.
            pending: list[Future[Any]] = [check, *edits]
            pending += [f for f in (comment, mutation) if f is not None]
            wait(pending)
            try:
                run_id, requests = check.result()
                comment_id: int | None = None
                for future in (comment, mutation):
                    if future is not None:
                        written, made = future.result()
                        comment_id = written if written is not None else comment_id
                        requests += made
                for edit in edits:
                    edit.result()
            except BaseException:
                # Some label edits may be done and others not: the next read is the truth.
                self._labels_after.discard((snapshot.repo, number))
                raise
            self._labels_done(snapshot, summary.label)
        return ReportResult(
            check_run_id=run_id,
            comment_id=comment_id or 0,
            label=summary.label.value,
            requests=requests + len(edits),
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _check_run(self, snapshot: PullRequestSnapshot, summary: Summary) -> tuple[int, int]:
        repo = self._client.repo(snapshot.repo)
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

    def _status(self, snapshot: PullRequestSnapshot, summary: Summary) -> int:
        repo = self._client.repo(snapshot.repo)
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
        known = self._edits.known(snapshot)
        return None if known is None else (known.id, known.body)

    def _current_labels(self, snapshot: PullRequestSnapshot) -> frozenset[str]:
        """The labels as the pull request read shows them, or, when it is the same read
        sealgate last reported on, as sealgate's own edits since left them."""
        seen = frozenset(snapshot.labels)
        remembered = self._labels_after.get((snapshot.repo, snapshot.facts.number))
        return remembered[1] if remembered is not None and remembered[0] == seen else seen

    def _label_edits(
        self, snapshot: PullRequestSnapshot, label: Label
    ) -> tuple[list[str], list[str]]:
        """(to add, to remove): nothing at all when the pull request already shows it."""
        current = self._current_labels(snapshot)
        ours = {item.value for item in Label}
        add = [] if label.value in current else [label.value]
        return add, sorted(current & ours - {label.value})

    def _labels_done(self, snapshot: PullRequestSnapshot, label: Label) -> None:
        current = self._current_labels(snapshot)
        ours = {item.value for item in Label}
        self._labels_after.put(
            (snapshot.repo, snapshot.facts.number),
            (frozenset(snapshot.labels), (current - ours) | {label.value}),
        )
