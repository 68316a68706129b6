"""``AccessOpener``: every refusal says why and is audited; the first use activates the
grant, later ones do not; only granted keys leave, sealed to the caller."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from controller.crypto.caller_box import new_caller_key, open_for_caller
from controller.model import AccessDelivery, KubernetesSubject, SecretAccess
from controller.reconciler.access_open import AccessOpener, AccessRefused, Opened
from controller.reconciler.ports import NullObserver
from tests.unit.access_fakes import (
    CANARY,
    T0,
    Clock,
    FakeGrants,
    FakeSecrets,
    grant,
    stripe_secrets,
)

NONCE = "cmVxdWVzdC1ub25jZS0x"
SECRET = "payments/stripe"


class Observed(NullObserver):
    def __init__(self) -> None:
        self.opened: list[str] = []
        self.refused: list[str] = []

    def access_opened(self, environment: str) -> None:
        self.opened.append(environment)

    def access_refused(self, reason: str) -> None:
        self.refused.append(reason)


@dataclasses.dataclass
class Rig:
    grants: FakeGrants
    secrets: FakeSecrets
    clock: Clock
    observer: Observed
    opener: AccessOpener

    def open(self, *keys: str, login: str = "dev1", secret: str = SECRET) -> dict[str, bytes]:
        key = new_caller_key()
        opened = self.opener.open(login, "production", secret, keys, key.public_key(), nonce=NONCE)
        self.last = opened
        return open_for_caller(
            opened.sealed,
            key,
            grant_id=opened.grant_id,
            environment="production",
            secret=secret,
            nonce=NONCE,
        )

    def refused(self, *keys: str, login: str = "dev1", secret: str = SECRET) -> AccessRefused:
        with pytest.raises(AccessRefused) as caught:
            self.open(*keys, login=login, secret=secret)
        refusal = caught.value
        assert CANARY not in refusal.message
        assert self.grants.refusals()[-1] == refusal.reason_code
        assert self.observer.refused[-1] == refusal.reason_code
        return refusal

    last: Opened | None = None


def rig(*grants: object, secrets: FakeSecrets | None = None) -> Rig:
    store = FakeGrants(*grants)  # type: ignore[arg-type]
    clock, observer = Clock(), Observed()
    table = secrets or stripe_secrets()
    opener = AccessOpener(store, table, clock=clock, observer=observer)
    return Rig(store, table, clock, observer, opener)


def test_first_use_activates_and_later_uses_do_not_move_the_clock() -> None:
    r = rig(grant())
    first_at = r.clock.now
    assert r.open()["API_KEY"] == CANARY.encode()
    assert r.last is not None
    assert r.last.ends_at == first_at + timedelta(hours=1)
    r.clock.now += timedelta(minutes=20)
    r.open()
    stored = r.grants.grant("production-pr-7-incident")
    assert stored is not None
    assert stored.first_used_at == first_at
    assert stored.uses == 2
    assert r.last.ends_at == first_at + timedelta(hours=1)
    events = [e["event"] for e in r.grants.audit]
    assert events == ["grant-activated", "grant-used", "grant-used"]
    assert r.observer.opened == ["production", "production"]
    assert all(e.get("via") in (None, "open") for e in r.grants.audit)


def test_requester_matches_case_insensitively() -> None:
    r = rig(grant(requester="Dev1"))
    assert "API_KEY" in r.open(login="dEV1")


def test_no_grant_for_you() -> None:
    r = rig(grant(requester="someone-else"))
    refusal = r.refused()
    assert refusal.reason_code == "no-grant"
    assert "not approved yet" in refusal.message
    assert r.secrets.reads == 0


def test_unknown_secret_is_refused_like_no_grant() -> None:
    r = rig(grant())
    unknown = r.refused(secret="payments/does-not-exist")
    no_grant = r.refused(secret="payments/db")
    assert unknown.reason_code == no_grant.reason_code == "no-grant"
    assert unknown.message.replace("does-not-exist", "X") == no_grant.message.replace("db", "X")


def test_granted_but_missing_from_the_store_is_no_grant_and_does_not_activate() -> None:
    r = rig(grant(secrets=(SecretAccess("payments/gone"),)))
    assert r.refused(secret="payments/gone").reason_code == "no-grant"
    assert r.grants.grant("production-pr-7-incident").first_used_at is None  # type: ignore[union-attr]


def test_lapsed_names_when() -> None:
    r = rig(grant())
    r.clock.now = T0 + timedelta(hours=25)
    refusal = r.refused()
    assert refusal.reason_code == "lapsed"
    assert "2026-03-02T09:00:00Z" in refusal.message
    assert refusal.grant_id == "production-pr-7-incident"


def test_ended_names_when() -> None:
    r = rig(grant(first_used_at=T0, uses=1))
    r.clock.now = T0 + timedelta(hours=2)
    refusal = r.refused()
    assert refusal.reason_code == "ended"
    assert "2026-03-01T10:00:00Z" in refusal.message


def test_revoked_names_when_and_by_whom() -> None:
    revoked = grant(
        first_used_at=T0,
        revoked_at=T0 + timedelta(minutes=2),
        revoked_by="carol",
        revoke_reason="incident closed",
    )
    r = rig(revoked)
    refusal = r.refused()
    assert refusal.reason_code == "revoked"
    assert "carol" in refusal.message
    assert "incident closed" in refusal.message
    assert "2026-03-01T09:02:00Z" in refusal.message


def test_kubernetes_only_grant_is_not_opened() -> None:
    r = rig(
        grant(
            deliver=frozenset({AccessDelivery.KUBERNETES}),
            kubernetes_subject=KubernetesSubject("User", "dev1"),
        )
    )
    assert r.refused().reason_code == "not-open-delivery"


def test_only_granted_keys_leave() -> None:
    r = rig(grant(secrets=(SecretAccess(SECRET, ("API_KEY", "MISSING")),)))
    assert r.open() == {"API_KEY": CANARY.encode()}
    assert r.open("API_KEY") == {"API_KEY": CANARY.encode()}
    refusal = r.refused("WEBHOOK_SECRET")
    assert refusal.reason_code == "key-not-granted"
    assert "WEBHOOK_SECRET" in refusal.message
    assert "whsec" not in refusal.message


def test_all_keys_grant_and_key_filter() -> None:
    r = rig(grant())
    assert set(r.open()) == {"API_KEY", "WEBHOOK_SECRET", "PUBLISHABLE"}
    assert r.open("PUBLISHABLE", "PUBLISHABLE") == {"PUBLISHABLE": b"pk_live_public"}
    assert r.refused("NOPE").reason_code == "key-not-found"


def test_asking_for_a_granted_key_the_secret_lacks_is_refused() -> None:
    r = rig(grant(secrets=(SecretAccess(SECRET, ("API_KEY", "MISSING")),)))
    assert r.refused("MISSING").reason_code == "key-not-found"


def test_an_active_grant_is_used_before_a_fresh_one_is_activated() -> None:
    active = grant(7, first_used_at=T0, uses=1)
    fresh = grant(8)
    r = rig(active, fresh)
    r.open()
    assert r.last is not None
    assert r.last.grant_id == active.id
    assert r.grants.grant(fresh.id).first_used_at is None  # type: ignore[union-attr]


def test_a_live_grant_wins_over_an_ended_one() -> None:
    ended = grant(7, first_used_at=T0 - timedelta(hours=5), uses=3)
    live = grant(8)
    r = rig(ended, live)
    r.open()
    assert r.last is not None
    assert r.last.grant_id == live.id


def test_a_grant_that_ends_while_opening_is_refused_not_used() -> None:
    r = rig(grant())

    class Racing(FakeGrants):
        def record_use(self, grant_id, **kwargs):  # type: ignore[no-untyped-def]
            self.revoke_grant(grant_id, at=T0, actor="carol", reason="race")
            return super().record_use(grant_id, **kwargs)

    racing = Racing(grant())
    r.grants = racing
    r.opener = AccessOpener(racing, r.secrets, clock=r.clock, observer=r.observer)
    assert r.refused().reason_code == "revoked"


def test_refusals_are_audited_with_who_what_and_why_and_no_value() -> None:
    r = rig(grant(requester="someone-else"))
    r.refused()
    record = r.grants.audit[-1]
    assert record == {
        "event": "access-refused",
        "at": r.clock.now.isoformat(),
        "actor": "dev1",
        "environment": "production",
        "secret": SECRET,
        "reason": "no-grant",
        "grant": None,
    }
    assert CANARY not in repr(r.grants.audit)


def test_opened_holds_no_plaintext() -> None:
    r = rig(grant())
    r.open()
    assert CANARY not in repr(r.last)


def test_a_grant_whose_keys_are_all_gone_is_not_used() -> None:
    r = rig(grant(secrets=(SecretAccess(SECRET, ("MISSING",)),)))
    assert r.refused().reason_code == "key-not-found"
    assert r.grants.grant("production-pr-7-incident").first_used_at is None  # type: ignore[union-attr]
