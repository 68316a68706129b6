"""In-memory stand-ins for the store's grants (``GrantsPort``) and secrets, for the open
delivery's tests: they keep the port's contract (idempotence, refusing a use of a grant that
is not live) and record every audit entry they would write."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.errors import InputError, Problem
from controller.model import AccessDelivery, Grant, GrantState, SecretAccess, Tier
from controller.store.types import PullRequestOrigin, SecretData

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CANARY = "sk_live_CANARY_7f3a9e"


def grant(
    number: int = 7,
    *,
    requester: str = "dev1",
    environment: str = "production",
    secrets: Sequence[SecretAccess] = (SecretAccess("payments/stripe"),),
    deliver: frozenset[AccessDelivery] = frozenset({AccessDelivery.OPEN}),
    duration: timedelta = timedelta(hours=1),
    activate_within: timedelta = timedelta(hours=24),
    **extra: Any,
) -> Grant:
    return Grant(
        id=f"{environment}-pr-{number}-incident",
        environment=environment,
        repo="acme/requests",
        pull_request=number,
        request_id="incident",
        requester=requester,
        secrets=tuple(secrets),
        deliver=deliver,
        approvers=("alice",),
        approved_at=T0,
        duration=duration,
        activate_by=T0 + activate_within,
        reason="incident 4711",
        tier=Tier.CRITICAL,
        **extra,
    )


class FakeGrants:
    """A ``GrantsPort`` in memory."""

    def __init__(self, *grants: Grant) -> None:
        self.by_id: dict[str, Grant] = {g.id: g for g in grants}
        self.audit: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record_grant(self, grant: Grant, *, actor: str, origin: PullRequestOrigin | None) -> Grant:
        with self._lock:
            if grant.id in self.by_id:
                return self.by_id[grant.id]
            self.by_id[grant.id] = grant
            self.audit.append({"event": "grant-approved", "grant": grant.id, "actor": actor})
            return grant

    def grant(self, grant_id: str) -> Grant | None:
        return self.by_id.get(grant_id)

    def grants(self, *, live_only: bool = False) -> list[Grant]:
        return [g for g in self.by_id.values() if not (live_only and g.ended_recorded)]

    def record_use(
        self, grant_id: str, *, at: datetime, actor: str, secret: str, keys: Sequence[str], via: str
    ) -> Grant:
        with self._lock:
            current = self.by_id[grant_id]
            if not current.state(at).live:
                raise InputError([Problem(grant_id, "", "grant is not live")])
            if current.first_used_at is None:
                current = dataclasses.replace(current, first_used_at=at)
                self.audit.append({"event": "grant-activated", "grant": grant_id, "actor": actor})
            current = dataclasses.replace(current, uses=current.uses + 1)
            self.by_id[grant_id] = current
            self.audit.append(
                {
                    "event": "grant-used",
                    "grant": grant_id,
                    "actor": actor,
                    "secret": secret,
                    "keys": list(keys),
                    "via": via,
                }
            )
            return current

    def revoke_grant(self, grant_id: str, *, at: datetime, actor: str, reason: str) -> Grant:
        with self._lock:
            current = self.by_id[grant_id]
            if current.revoked_at is None:
                current = dataclasses.replace(
                    current, revoked_at=at, revoked_by=actor, revoke_reason=reason
                )
                self.by_id[grant_id] = current
            return current

    def end_grant(self, grant_id: str, *, at: datetime, state: GrantState) -> Grant:
        with self._lock:
            current = dataclasses.replace(self.by_id[grant_id], ended_recorded=True)
            self.by_id[grant_id] = current
            return current

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
        self.audit.append(
            {
                "event": "access-refused",
                "at": at.isoformat(),
                "actor": actor,
                "environment": environment,
                "secret": secret,
                "reason": reason,
                "grant": grant_id,
            }
        )

    def refusals(self) -> list[str]:
        return [entry["reason"] for entry in self.audit if entry["event"] == "access-refused"]


class FakeSecrets:
    """``read_secret`` over a literal table of ``<env>/<ns>/<name>`` -> values."""

    def __init__(self, table: Mapping[str, Mapping[str, bytes]]) -> None:
        self.table = table
        self.reads = 0

    def read_secret(self, env: str, secret: str) -> SecretData | None:
        self.reads += 1
        data = self.table.get(f"{env}/{secret}")
        if data is None:
            return None
        return SecretData(
            path=f"{env}/{secret}", version=3, tier=Tier.CRITICAL, data=dict(data), change_id="c1"
        )


def stripe_secrets() -> FakeSecrets:
    return FakeSecrets(
        {
            "production/payments/stripe": {
                "API_KEY": CANARY.encode(),
                "WEBHOOK_SECRET": b"whsec_CANARY_b2",
                "PUBLISHABLE": b"pk_live_public",
            },
            "production/payments/db": {"PASSWORD": b"db_CANARY_c3"},
        }
    )


class Clock:
    def __init__(self, now: datetime = T0 + timedelta(minutes=5)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
