"""The second check run, ``sealgate/sync``: what applying and syncing a merged change did.

It is also sealgate's durable record that a merged pull request is finished: the reconciler
completes it only after the store commit, the sync and the rollouts, so after a crash a
merged pull request whose ``sealgate/sync`` is missing or still in progress is picked up
again. With token authentication (no check runs) a ``sealgate/sync`` commit status plays
both parts; its description holds the title only.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import quote

from github.GithubObject import NotSet, Opt

from controller.github.cache import LruCache
from controller.github.client import GitHubClient
from controller.github.failures import github_errors
from controller.github.records import SYNC_CHECK_NAME, SyncCheck, SyncCheckState
from controller.github.report import MAX_STATUS_DESCRIPTION, Via


class SyncReporter:
    """Writes and reads ``sealgate/sync`` on a head commit; skips writes that change nothing."""

    def __init__(self, client: GitHubClient, *, via: Via = Via.AUTO) -> None:
        self._client = client
        if via is Via.AUTO:
            via = Via.CHECK_RUN if client.app_id is not None else Via.STATUS
        self.via = via
        self._shown: LruCache[tuple[str, str], tuple[int, str]] = LruCache(4096)

    def state(self, repo_name: str, head_sha: str) -> SyncCheckState | None:
        """The latest ``sealgate/sync`` on ``head_sha`` written by sealgate, if any."""
        with github_errors(f"read {SYNC_CHECK_NAME} of {repo_name}@{head_sha[:12]}"):
            if self.via is Via.CHECK_RUN:
                repo = self._client.repo(repo_name)
                runs = [
                    run
                    for run in repo.get_commit(head_sha).get_check_runs(check_name=SYNC_CHECK_NAME)
                    if run.app is None or run.app.id == self._client.app_id
                ]
                if not runs:
                    return None
                latest = max(runs, key=lambda run: run.id)
                title = str((latest.output.title if latest.output else "") or "")
                return SyncCheckState(latest.status, latest.conclusion, title)
            path = f"/repos/{quote(repo_name, safe='/')}/commits/{head_sha}/statuses"
            _headers, data = self._client.github.requester.requestJsonAndCheck("GET", path)
            me = self._client.login().lower()
            for item in data or ():
                creator = str((item.get("creator") or {}).get("login") or "").lower()
                if item.get("context") == SYNC_CHECK_NAME and creator in ("", me):
                    state = str(item.get("state") or "")
                    if state == "pending":
                        return SyncCheckState("in_progress", None, str(item.get("description")))
                    return SyncCheckState("completed", state, str(item.get("description")))
            return None

    def report(self, repo_name: str, number: int, head_sha: str, check: SyncCheck) -> bool:
        """Show ``check``; False when it was already shown exactly so (nothing written)."""
        digest = hashlib.sha256(repr((check.title, check.text, check.conclusion)).encode())
        key = (repo_name, head_sha)
        known = self._shown.get(key)
        if known is not None and known[1] == digest.hexdigest():
            return False
        with github_errors(f"report {SYNC_CHECK_NAME} on {repo_name}#{number}"):
            if self.via is Via.CHECK_RUN:
                run_id = self._check_run(repo_name, number, head_sha, check, known)
            else:
                run_id = self._status(repo_name, head_sha, check)
        self._shown.put(key, (run_id, digest.hexdigest()))
        return True

    def _check_run(
        self,
        repo_name: str,
        number: int,
        head_sha: str,
        check: SyncCheck,
        known: tuple[int, str] | None,
    ) -> int:
        repo = self._client.repo(repo_name)
        output: dict[str, str | list[dict[str, str | int]]] = {
            "title": check.title,
            "summary": check.text,
        }
        status = "in_progress" if check.conclusion is None else "completed"
        conclusion: Opt[str] = NotSet
        completed_at: Opt[datetime] = NotSet
        if check.conclusion is not None:
            conclusion = check.conclusion
            completed_at = datetime.now(UTC)
        run_id = known[0] if known is not None else None
        if run_id is None:
            existing = [
                run
                for run in repo.get_commit(head_sha).get_check_runs(check_name=SYNC_CHECK_NAME)
                if run.app is None or run.app.id == self._client.app_id
            ]
            if existing:
                latest = max(existing, key=lambda run: run.id)
                # A completed run keeps its conclusion on GitHub: a new outcome gets a new run.
                run_id = None if latest.status == "completed" else latest.id
        if run_id is None:
            run = repo.create_check_run(
                name=SYNC_CHECK_NAME,
                head_sha=head_sha,
                external_id=f"{repo_name}#{number}",
                status=status,
                conclusion=conclusion,
                completed_at=completed_at,
                output=output,
            )
            return run.id
        repo.get_check_run(run_id).edit(
            status=status, conclusion=conclusion, completed_at=completed_at, output=output
        )
        return run_id

    def _status(self, repo_name: str, head_sha: str, check: SyncCheck) -> int:
        description = check.title
        if len(description) > MAX_STATUS_DESCRIPTION:
            description = description[: MAX_STATUS_DESCRIPTION - 1] + "…"
        state = "pending" if check.conclusion is None else check.conclusion
        if state not in ("pending", "success", "failure", "error"):
            state = "failure"
        self._client.github.requester.requestJsonAndCheck(
            "POST",
            f"/repos/{quote(repo_name, safe='/')}/statuses/{head_sha}",
            input={"state": state, "description": description, "context": SYNC_CHECK_NAME},
        )
        return 0
