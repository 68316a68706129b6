"""Access grants in a real git store: record, use, revoke, end, refuse; one commit and its
audit record per step; replays, refusals and hand edits."""

from __future__ import annotations

import json
import logging
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import git
import pytest

from controller.errors import InputError
from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from controller.model import (
    AccessDelivery,
    Grant,
    GrantState,
    KubernetesSubject,
    SecretAccess,
    grant_id_for,
)
from controller.reconciler.ports import GrantsPort
from controller.store import Store
from controller.store.grantfile import grant_path
from controller.store.types import CountedApproval, PullRequestOrigin

ENV = "production"
T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
CANARY = "ghp_" + "CanaryCanary" * 3  # a GitHub-token shape, assembled at run time
GRANT_ID = grant_id_for(ENV, 42, "incident-4711")
ORIGIN = PullRequestOrigin(
    repository="acme/requests",
    number=42,
    url="https://github.example/acme/requests/pull/42",
    head_sha="c" * 40,
    requester="dana",
    approvals=(CountedApproval("erin", "prod-access", "approvals"),),
    merged_by="sealgate[bot]",
    merge_trigger="auto-merge",
)


def _clock() -> Callable[[], datetime]:
    moments = (T0 + timedelta(seconds=i) for i in range(10**6))
    return lambda: next(moments)


@dataclass
class World:
    kek: LocalKekFile
    keyring: Keyring
    path: Path
    store: Store

    def reopen(self) -> Store:
        self.store.close()
        self.store = Store(self.path, self.kek, self.keyring, clock=_clock())
        return self.store

    def commits(self) -> int:
        if git.Repo(self.path).head.is_valid():
            return int(run_git(self.path, "rev-list", "--count", "main").strip())
        return 0

    def events(self) -> list[str]:
        return [r.event for r in self.store.audit_records()]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    kek = LocalKekFile(tmp_path / "keys" / KEK_FILE_NAME, create=True)
    keyring = Keyring(tmp_path / "keys", kek)
    path = tmp_path / "store"
    result = World(kek, keyring, path, Store(path, kek, keyring, clock=_clock()))
    yield result
    result.store.close()


def run_git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), *args], check=True, capture_output=True, text=True
    ).stdout


def make_grant(**fields: object) -> Grant:
    base = Grant(
        id=GRANT_ID,
        environment=ENV,
        repo="acme/requests",
        pull_request=42,
        request_id="incident-4711",
        requester="dana",
        secrets=(SecretAccess("payments/db", ("password",)), SecretAccess("payments/stripe")),
        deliver=frozenset({AccessDelivery.OPEN, AccessDelivery.KUBERNETES}),
        approvers=("erin",),
        approved_at=T0,
        duration=timedelta(hours=1),
        activate_by=T0 + timedelta(hours=4),
        reason="incident 4711: payments failing",
        kubernetes_subject=KubernetesSubject("User", "dana"),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def use_grant(
    store: Store,
    at: datetime,
    secret: str = "payments/db",  # noqa: S107
    keys: tuple[str, ...] = (),
) -> Grant:
    return store.record_use(
        GRANT_ID, at=at, actor="dana", secret=secret, keys=keys or ("password",), via="open"
    )


def test_the_store_is_a_grants_port(world: World) -> None:
    port: GrantsPort = world.store
    assert port.grants() == []


def test_record_reads_back_and_is_one_commit_with_one_record(world: World) -> None:
    recorded = world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    assert recorded == make_grant()
    assert world.store.grant(GRANT_ID) == recorded
    assert world.store.grants() == [recorded]
    assert world.store.grants(live_only=True) == [recorded]
    assert world.commits() == 1
    [record] = list(world.store.audit_records())
    assert record.event == "grant-approved"
    fields = record.fields
    assert fields["grantId"] == GRANT_ID
    assert fields["requester"] == "dana"
    assert fields["approvers"] == ["erin"]
    assert fields["secrets"] == [
        {"secret": "payments/db", "keys": ["password"]},
        {"secret": "payments/stripe", "keys": []},
    ]
    assert fields["deliver"] == ["kubernetes", "open"]
    assert fields["duration"] == 3600
    assert fields["activateBy"] == (T0 + timedelta(hours=4)).isoformat()
    assert fields["pullRequestUrl"] == ORIGIN.url
    assert fields["approvedBy"] == ["erin"]
    message = run_git(world.path, "log", "-1", "--format=%B", "main")
    assert message.startswith(f"Grant {GRANT_ID} in production: 2 secret(s) to dana")
    for trailer in ("Actor: sealgate", f"Grant: {GRANT_ID}", "Audit-Head: 1 "):
        assert trailer in message
    stored = json.loads(run_git(world.path, "show", f"main:{grant_path(ENV, GRANT_ID)}"))
    assert list(stored) == sorted(stored)
    assert stored["approvedAt"] == T0.isoformat()
    assert stored["duration"] == 3600
    assert world.store.audit_verify().ok


def test_a_replayed_record_grants_nothing_twice(world: World) -> None:
    first = world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    again = world.store.record_grant(
        make_grant(approvers=("mallory",)), actor="sealgate", origin=ORIGIN
    )
    assert again == first
    assert world.commits() == 1
    assert world.events() == ["grant-approved"]


def test_the_first_use_activates_once_and_every_use_counts(world: World) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    first = use_grant(world.store, T0 + timedelta(minutes=10))
    assert first.first_used_at == T0 + timedelta(minutes=10)
    assert first.uses == 1
    assert first.state(T0 + timedelta(minutes=11)) is GrantState.ACTIVE
    assert first.ends_at == T0 + timedelta(minutes=70)
    # One commit for the first use: its activation and the use itself, two records.
    assert world.commits() == 2
    assert world.events() == ["grant-approved", "grant-activated", "grant-used"]
    second = use_grant(world.store, T0 + timedelta(minutes=20), "payments/stripe", ("any",))
    assert second.first_used_at == first.first_used_at
    assert second.uses == 2
    assert world.commits() == 3
    assert world.events()[-1] == "grant-used"
    last = list(world.store.audit_records())[-1].fields
    assert (last["actor"], last["secret"], last["keys"], last["via"]) == (
        "dana",
        "payments/stripe",
        ["any"],
        "open",
    )
    assert world.store.grant(GRANT_ID) == second
    assert world.store.audit_verify().ok


@pytest.mark.parametrize(
    ("setup", "at"),
    [
        pytest.param(lambda s: None, T0 + timedelta(hours=5), id="lapsed"),
        pytest.param(lambda s: use_grant(s, T0), T0 + timedelta(hours=2), id="ended"),
        pytest.param(
            lambda s: s.revoke_grant(GRANT_ID, at=T0, actor="ops", reason="done"),
            T0 + timedelta(minutes=1),
            id="revoked",
        ),
        pytest.param(lambda s: None, T0 - timedelta(minutes=1), id="before-approval"),
    ],
)
def test_a_use_of_a_grant_that_gives_no_access_is_refused_and_records_nothing(
    world: World, setup: Callable[[Store], object], at: datetime
) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    setup(world.store)
    commits, before = world.commits(), world.store.grant(GRANT_ID)
    with pytest.raises(InputError, match=f"grant {GRANT_ID}"):
        use_grant(world.store, at)
    assert (world.commits(), world.store.grant(GRANT_ID)) == (commits, before)


@pytest.mark.parametrize(
    ("secret", "keys"),
    [("payments/other", ("password",)), ("payments/db", ("username",))],
)
def test_a_use_outside_the_grant_is_refused(
    world: World, secret: str, keys: tuple[str, ...]
) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    with pytest.raises(InputError, match="does not cover"):
        use_grant(world.store, T0, secret, keys)
    assert world.commits() == 1


def test_unknown_grants_are_refused_or_absent(world: World) -> None:
    assert world.store.grant("nope") is None
    assert world.store.grant("../../etc") is None
    with pytest.raises(InputError, match="no such grant"):
        world.store.revoke_grant("nope", at=T0, actor="ops", reason="x")
    with pytest.raises(InputError, match="no such grant"):
        world.store.end_grant("nope", at=T0, state=GrantState.ENDED)
    assert world.commits() == 0


def test_revoke_is_idempotent_and_ends_access(world: World) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    at = T0 + timedelta(minutes=5)
    revoked = world.store.revoke_grant(GRANT_ID, at=at, actor="ops", reason="no longer needed")
    assert (revoked.revoked_at, revoked.revoked_by, revoked.revoke_reason) == (
        at,
        "ops",
        "no longer needed",
    )
    assert revoked.state(at) is GrantState.REVOKED
    again = world.store.revoke_grant(GRANT_ID, at=at + timedelta(minutes=1), actor="x", reason="y")
    assert again == revoked
    assert world.commits() == 2
    assert world.events() == ["grant-approved", "grant-revoked"]
    message = run_git(world.path, "log", "-1", "--format=%B", "main")
    assert "Reason: no longer needed" in message
    # Revoked but its delivery not yet removed: still listed as live.
    assert world.store.grants(live_only=True) == [revoked]


def test_a_credential_in_a_revocation_reason_is_withheld_never_refused(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    origin = replace(ORIGIN, bypassed_by="dana", bypass_reason=f"urgent {CANARY}")
    world.store.record_grant(make_grant(reason=f"paste {CANARY}"), actor="sealgate", origin=origin)
    revoked = world.store.revoke_grant(GRANT_ID, at=T0, actor="ops", reason=f"leaked {CANARY}")
    assert revoked.revoke_reason is not None
    assert revoked.revoke_reason.startswith("withheld")
    records = list(world.store.audit_records())
    assert all(r.fields["reasonWithheld"] for r in records)
    everything = run_git(world.path, "log", "-p", "--all", "--format=%B")
    assert CANARY not in everything
    assert CANARY not in json.dumps([dict(r.fields) for r in records])
    assert CANARY not in caplog.text
    assert CANARY not in repr(world.store.grants())


def test_end_is_idempotent_and_leaves_the_live_list(world: World) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    with pytest.raises(InputError, match="has not ended"):
        world.store.end_grant(GRANT_ID, at=T0, state=GrantState.LAPSED)
    with pytest.raises(InputError, match="must be ended, lapsed or revoked"):
        world.store.end_grant(GRANT_ID, at=T0, state=GrantState.ACTIVE)
    later = T0 + timedelta(hours=5)
    ended = world.store.end_grant(GRANT_ID, at=later, state=GrantState.LAPSED)
    assert ended.ended_recorded
    assert world.store.end_grant(GRANT_ID, at=later, state=GrantState.LAPSED) == ended
    assert world.commits() == 2
    assert world.events() == ["grant-approved", "grant-ended"]
    assert list(world.store.audit_records())[-1].fields["state"] == "lapsed"
    assert world.store.grants(live_only=True) == []
    assert world.store.grants() == [ended]
    # A grant whose end is recorded gives nothing, and is revoked no more.
    assert world.store.revoke_grant(GRANT_ID, at=later, actor="ops", reason="x") == ended
    assert world.commits() == 2
    assert world.store.audit_verify().ok


def test_a_refusal_is_one_commit_and_one_record(world: World) -> None:
    world.store.record_refusal(
        at=T0,
        actor="mallory",
        environment=ENV,
        secret="payments/db",
        reason="no live grant",
        grant_id=GRANT_ID,
    )
    assert world.commits() == 1
    [record] = list(world.store.audit_records())
    assert record.event == "access-refused"
    assert (record.fields["actor"], record.fields["grantId"], record.fields["reason"]) == (
        "mallory",
        GRANT_ID,
        "no live grant",
    )
    assert world.store.audit_verify().ok


def test_every_state_is_in_the_audit_log_and_survives_a_new_store_object(world: World) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    use_grant(world.store, T0 + timedelta(minutes=1))
    world.store.revoke_grant(GRANT_ID, at=T0 + timedelta(minutes=2), actor="ops", reason="r")
    world.store.end_grant(GRANT_ID, at=T0 + timedelta(minutes=3), state=GrantState.REVOKED)
    before = world.store.grant(GRANT_ID)
    reopened = world.reopen()
    assert reopened.grant(GRANT_ID) == before
    assert reopened.grants() == [before]
    assert world.events() == [
        "grant-approved",
        "grant-activated",
        "grant-used",
        "grant-revoked",
        "grant-ended",
    ]
    assert world.commits() == 4
    report = reopened.audit_verify()
    assert report.ok, report.problems


def test_a_write_pushes_to_the_remote(world: World, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git.Repo.init(remote, bare=True).close()
    world.store.close()
    world.store = Store(world.path, world.kek, world.keyring, remote=str(remote), clock=_clock())
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    assert run_git(remote, "rev-parse", "main") == run_git(world.path, "rev-parse", "main")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"secrets": (SecretAccess("../etc/passwd"),)}, "secret '../etc/passwd'"),
        ({"secrets": (SecretAccess("payments/db", ("bad key",)),)}, "key 'bad key'"),
        ({"secrets": ()}, "secrets"),
        ({"id": "Production/../x"}, "id"),
        ({"environment": "Prod"}, "environment"),
        ({"approved_at": datetime(2026, 11, 21, 10, 0)}, "approved_at"),
        ({"duration": timedelta(0)}, "duration"),
        ({"uses": 3}, "state"),
    ],
)
def test_a_bad_new_grant_is_refused_naming_the_field(
    world: World, fields: dict[str, object], field: str
) -> None:
    with pytest.raises(InputError, match=field.replace("(", r"\(")):
        world.store.record_grant(make_grant(**fields), actor="sealgate", origin=ORIGIN)
    assert world.commits() == 0


def test_a_time_without_a_zone_is_refused_before_anything_is_written(world: World) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    naive = datetime(2026, 11, 21, 10, 5)
    with pytest.raises(InputError, match="time zone"):
        use_grant(world.store, naive)
    with pytest.raises(InputError, match="time zone"):
        world.store.revoke_grant(GRANT_ID, at=naive, actor="ops", reason="r")
    assert world.commits() == 1


def test_a_use_naming_no_keys_records_the_keys_the_grant_gives(world: World) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    world.store.record_use(GRANT_ID, at=T0, actor="dana", secret="payments/db", keys=(), via="open")
    world.store.record_use(
        GRANT_ID, at=T0, actor="dana", secret="payments/stripe", keys=(), via="kubernetes"
    )
    used = [r.fields["keys"] for r in world.store.audit_records() if r.event == "grant-used"]
    assert used == [["password"], []]


def test_names_in_a_commit_subject_cannot_forge_trailers(world: World) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    world.store.revoke_grant(
        GRANT_ID, at=T0, actor="ops\nAudit-Head: 1 " + "0" * 64, reason="a\nGrant: other"
    )
    message = run_git(world.path, "log", "-1", "--format=%B", "main")
    lines = message.strip().splitlines()
    assert [line for line in lines if line.startswith("Audit-Head:")] == [lines[-1]]
    assert "Grant: other" not in lines
    assert world.store.audit_verify().ok


def test_end_records_the_state_the_grant_is_in_not_a_stale_one(world: World) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    world.store.revoke_grant(GRANT_ID, at=T0, actor="ops", reason="r")
    world.store.end_grant(GRANT_ID, at=T0 + timedelta(minutes=1), state=GrantState.ENDED)
    assert list(world.store.audit_records())[-1].fields["state"] == "revoked"


def test_uses_from_two_store_objects_at_once_are_all_counted(world: World) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    other = Store(world.path, world.kek, world.keyring, clock=_clock())

    def use_many(store: Store) -> None:
        for minute in range(5):
            use_grant(store, T0 + timedelta(minutes=minute))

    try:
        threads = [threading.Thread(target=use_many, args=(s,)) for s in (world.store, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.close()
    grant = world.store.grant(GRANT_ID)
    assert grant is not None
    assert grant.uses == 10
    assert world.events().count("grant-used") == 10
    assert world.events().count("grant-activated") == 1
    assert world.store.audit_verify().ok
