"""What the agents' pipeline needs of the store and of GitHub, beside the reconciler's ports.

``controller.store.Store`` is an :class:`AgentRecordsPort`,
``controller.github.agent_pulls.AgentPulls`` an :class:`AgentPullsPort`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from controller.reconciler.ports import Snapshot
from controller.reconciler.status import RequestStatus
from controller.store.agent_records import AgentRequestRecord


class AgentRecordsPort(Protocol):
    def record_agent_request(
        self, record: AgentRequestRecord, *, actor: str
    ) -> AgentRequestRecord: ...

    def agent_request_opened(
        self, request_id: str, number: int, url: str, *, actor: str
    ) -> AgentRequestRecord: ...

    def resolve_agent_request(
        self, request_id: str, state: str, reason: str, *, at: datetime, actor: str
    ) -> AgentRequestRecord: ...

    def agent_request(self, request_id: str) -> AgentRequestRecord | None: ...

    def agent_requests(self) -> list[AgentRequestRecord]: ...


class OpenedRequestPull(Protocol):
    """``controller.github.request_pulls.OpenedPull``."""

    @property
    def number(self) -> int: ...

    @property
    def url(self) -> str: ...


class AgentPullsPort(Protocol):
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
    ) -> OpenedRequestPull:
        """Open (or find, on a retry) the pull request adding ``path`` on the branch of
        the controller's own for this request."""
        ...

    def review_text(self, repo: str, number: int, review_id: int) -> str: ...

    def closed_by(self, repo: str, number: int) -> str | None: ...


class AgentHooks(Protocol):
    """What the reconciler asks of the agents' pipeline on every pass
    (``controller.reconciler.agent_requests.AgentRequestFlow``)."""

    def vouched(self, snapshot: Snapshot) -> dict[str, str]:
        """``PullRequestFacts.agent_requests`` for this pull request."""
        ...

    def after_pass(self, snapshot: Snapshot, status: RequestStatus) -> None: ...


class AgentAuditPort(Protocol):
    def record_agent_refusal(
        self, *, at: datetime, actor: str, environment: str, code: str, message: str
    ) -> None: ...
