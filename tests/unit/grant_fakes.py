"""In-memory fakes of sealgate's own grant ports (``GrantsPort``, ``AccessTargetsPort``).

They honour the ports' docstrings (idempotence, refusals) and share one ``events`` list so a
test can check the order of store and cluster steps. ``fail`` makes the next call of a method
(optionally in one cluster) raise once; ``down`` makes a cluster fail every call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from controller.errors import ClusterError, InputError, Problem
from controller.model import Grant, GrantState
from controller.reconciler.ports import NullObserver
from controller.store.types import PullRequestOrigin

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakeGrants:
    def __init__(self, events: list[tuple[str, ...]]) -> None:
        self.stored: dict[str, Grant] = {}
        self.audit: list[tuple[str, str]] = []
        self.events = events
        self.fail: dict[str, Exception] = {}
        self.refusals: list[dict[str, object]] = []

    def _maybe_fail(self, method: str) -> None:
        error = self.fail.pop(method, None)
        if error is not None:
            raise error

    def _put(self, grant: Grant, event: str) -> Grant:
        self.stored[grant.id] = grant
        self.audit.append((event, grant.id))
        self.events.append(("store", event, grant.id))
        return grant

    def record_grant(self, grant: Grant, *, actor: str, origin: PullRequestOrigin | None) -> Grant:
        self._maybe_fail("record_grant")
        if grant.id in self.stored:
            return self.stored[grant.id]
        return self._put(grant, "grant-approved")

    def grant(self, grant_id: str) -> Grant | None:
        return self.stored.get(grant_id)

    def grants(self, *, live_only: bool = False) -> list[Grant]:
        return [g for g in self.stored.values() if not (live_only and g.ended_recorded)]

    def record_use(
        self, grant_id: str, *, at: datetime, actor: str, secret: str, keys: Sequence[str], via: str
    ) -> Grant:
        self._maybe_fail("record_use")
        grant = self.stored[grant_id]
        if not grant.state(at).live:
            raise InputError([Problem(grant_id, "state", "grant is not live")])
        if grant.first_used_at is None:
            grant = self._put(dataclasses.replace(grant, first_used_at=at), "grant-activated")
        return self._put(dataclasses.replace(grant, uses=grant.uses + 1), f"grant-used:{via}")

    def revoke_grant(self, grant_id: str, *, at: datetime, actor: str, reason: str) -> Grant:
        self._maybe_fail("revoke_grant")
        grant = self.stored[grant_id]
        if grant.revoked_at is not None:
            return grant
        revoked = dataclasses.replace(grant, revoked_at=at, revoked_by=actor, revoke_reason=reason)
        return self._put(revoked, "grant-revoked")

    def end_grant(self, grant_id: str, *, at: datetime, state: GrantState) -> Grant:
        self._maybe_fail("end_grant")
        grant = self.stored[grant_id]
        if grant.ended_recorded:
            return grant
        assert not state.live
        return self._put(dataclasses.replace(grant, ended_recorded=True), f"grant-ended:{state}")

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
        self.refusals.append({"actor": actor, "secret": secret, "grant": grant_id})


class FakeAccessTargets:
    def __init__(self, events: list[tuple[str, ...]], clusters: Sequence[str]) -> None:
        self.bindings: dict[str, dict[str, Grant]] = {c: {} for c in clusters}
        self.events = events
        self.down: set[str] = set()
        self.fail: dict[tuple[str, str], Exception] = {}

    def _maybe_fail(self, method: str, cluster: str) -> None:
        if cluster in self.down:
            raise ClusterError(f"cluster {cluster} is unreachable", retryable=True)
        error = self.fail.pop((method, cluster), None)
        if error is not None:
            raise error

    def bind_access(self, cluster: str, grant: Grant) -> None:
        self._maybe_fail("bind", cluster)
        assert grant.kubernetes_subject is not None
        self.bindings[cluster][grant.id] = grant
        self.events.append(("kube", "bind", cluster, grant.id))

    def unbind_access(
        self, cluster: str, grant_id: str, *, namespaces: Iterable[str] | None = None
    ) -> None:
        self._maybe_fail("unbind", cluster)
        self.bindings[cluster].pop(grant_id, None)
        self.events.append(("kube", "unbind", cluster, grant_id))

    def bound_grants(
        self, cluster: str, *, namespaces: Iterable[str] | None = None
    ) -> frozenset[str]:
        self._maybe_fail("bound", cluster)
        return frozenset(self.bindings[cluster])

    def bound(self) -> dict[str, set[str]]:
        return {c: set(b) for c, b in self.bindings.items()}


class CountingObserver(NullObserver):
    """Counts what the grant keeper reports; everything else is ignored, as NullObserver does."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.grant_events: list[str] = []
        self.active: dict[str, int] = {}

    def grant_event(self, outcome: str) -> None:
        self.grant_events.append(outcome)

    def grants_active(self, environment: str, count: int) -> None:
        self.active[environment] = count

    def failure(self, step: str) -> None:
        self.failures.append(step)
