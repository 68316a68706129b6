"""What the agents' pipeline asks of GitHub besides a snapshot: open the pull request that
carries an agent's request, and, when it is refused, in whose words.

A review's body and who closed a pull request are not in a snapshot (the policy engine has
no use for them); they are read only when an agent's request is being resolved.
"""

from __future__ import annotations

from collections.abc import Sequence

from github import GithubException

from controller.github.client import GitHubClient
from controller.github.failures import github_errors
from controller.github.request_pulls import OpenedPull, open_file_pull, request_branch


class AgentPulls:
    """Thread-safe as the client is."""

    def __init__(self, client: GitHubClient) -> None:
        self._client = client

    def open_request_pull(
        self,
        repo: str,
        *,
        environment: str,
        request_id: str,
        path: str,
        content: bytes,
        title: str,
        body: str,
        labels: Sequence[str] = (),
    ) -> OpenedPull:
        return open_file_pull(
            self._client,
            repo,
            branch=request_branch(environment, request_id),
            path=path,
            content=content,
            title=title,
            body=body,
            commit_message=title,
            labels=labels,
        )

    def review_text(self, repo: str, number: int, review_id: int) -> str:
        """The body of review ``review_id`` ("" when it has none or is gone)."""
        with github_errors(f"read review {review_id} of {repo}#{number}"):
            try:
                review = self._client.repo(repo).get_pull(number).get_review(review_id)
            except GithubException as exc:
                if exc.status == 404:
                    return ""
                raise
            return str(review.body or "")

    def closed_by(self, repo: str, number: int) -> str | None:
        """Who closed pull request ``number`` last (its timeline's ``closed`` events), or
        None when GitHub does not say."""
        with github_errors(f"read the timeline of {repo}#{number}"):
            issue = self._client.repo(repo).get_issue(number)
            closer: str | None = None
            for event in issue.get_timeline():
                if event.event == "closed" and event.actor is not None:
                    closer = str(event.actor.login)
            return closer
