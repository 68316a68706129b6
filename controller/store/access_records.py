"""The store's access records: grants and agent requests, as the reconciler's ports see them.

A mixin of :class:`controller.store.Store`, apart so that the store's module keeps to secrets,
history and audit; the logic itself is in ``grants`` and ``agent_requests``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from controller.model import Grant, GrantState
from controller.store.agent_records import AgentRequestRecord
from controller.store.agent_requests import AgentRequests
from controller.store.grants import Grants
from controller.store.types import PullRequestOrigin


class AccessRecords:
    _grants: Grants
    _agent_requests: AgentRequests

    # ------------------------------------------------------------------ grants
    # See ``controller.reconciler.ports.GrantsPort``.

    def record_grant(self, grant: Grant, *, actor: str, origin: PullRequestOrigin | None) -> Grant:
        return self._grants.record(grant, actor=actor, origin=origin)

    def grant(self, grant_id: str) -> Grant | None:
        return self._grants.get(grant_id)

    def grants(self, *, live_only: bool = False) -> list[Grant]:
        return self._grants.all(live_only=live_only)

    def record_use(
        self, grant_id: str, *, at: datetime, actor: str, secret: str, keys: Sequence[str], via: str
    ) -> Grant:
        return self._grants.use(grant_id, at=at, actor=actor, secret=secret, keys=keys, via=via)

    def revoke_grant(self, grant_id: str, *, at: datetime, actor: str, reason: str) -> Grant:
        return self._grants.revoke(grant_id, at=at, actor=actor, reason=reason)

    def end_grant(self, grant_id: str, *, at: datetime, state: GrantState) -> Grant:
        return self._grants.end(grant_id, at=at, state=state)

    def record_refusal(
        self,
        *,
        at: datetime,
        actor: str,
        environment: str,
        secret: str,
        reason: str,
        grant_id: str | None = None,
    ) -> None:
        self._grants.refuse(
            at=at, actor=actor, environment=environment, secret=secret, reason=reason,
            grant_id=grant_id,
        )  # fmt: skip

    # ------------------------------------------------------------------ agent requests

    def record_agent_request(self, record: AgentRequestRecord, *, actor: str) -> AgentRequestRecord:
        return self._agent_requests.record(record, actor=actor)

    def agent_request_opened(
        self, request_id: str, number: int, url: str, *, actor: str
    ) -> AgentRequestRecord:
        return self._agent_requests.opened(request_id, number, url, actor=actor)

    def resolve_agent_request(
        self, request_id: str, state: str, reason: str, *, at: datetime, actor: str
    ) -> AgentRequestRecord:
        return self._agent_requests.resolve(request_id, state, reason, at=at, actor=actor)

    def record_agent_refusal(
        self, *, at: datetime, actor: str, environment: str, code: str, message: str
    ) -> None:
        self._agent_requests.refuse(
            at=at, actor=actor, environment=environment, code=code, message=message
        )

    def agent_request(self, request_id: str) -> AgentRequestRecord | None:
        return self._agent_requests.get(request_id)

    def agent_requests(self) -> list[AgentRequestRecord]:
        return self._agent_requests.all()
