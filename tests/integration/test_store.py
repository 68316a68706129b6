"""The store end to end on real git: apply, replay, conflicts, history, rollback, audit."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import git
import pytest

from controller.crypto import load_public_key, seal, sealed_digest
from controller.errors import ConflictError, InputError, SealedValueError
from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from controller.model import Alphabet, GenerateSpec, RolloutFailure, SecretChange, Tier
from controller.store import ApprovalRecord, Store
from controller.store import audit as audit_module

ENV = "production"


@dataclass
class World:
    keyring: Keyring
    kek: LocalKekFile
    store: Store
    path: Path

    def seal(self, secret: str, key: str, value: bytes, env: str = ENV) -> str:
        info = self.keyring.list_keys(env)[0]
        return seal(
            value,
            key_id=info.key_id,
            public_key=load_public_key(info.public_key, where="test"),
            environment=env,
            secret=secret,
            key=key,
        )

    def reopen(self) -> Store:
        self.store.close()
        self.store = Store(self.path, self.kek, self.keyring, clock=_clock())
        return self.store


def _clock() -> Callable[[], datetime]:
    moments = (
        datetime(2026, 11, 21, 10, 0, tzinfo=UTC) + timedelta(seconds=i) for i in range(10**6)
    )
    return lambda: next(moments)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    kek = LocalKekFile(tmp_path / "keys" / KEK_FILE_NAME, create=True)
    keyring = Keyring(tmp_path / "keys", kek)
    keyring.init(ENV)
    keyring.init("staging")
    store = Store(tmp_path / "store", kek, keyring, clock=_clock())
    result = World(keyring, kek, store, tmp_path / "store")
    yield result
    result.store.close()


def _record(change_id: str, **extra: object) -> ApprovalRecord:
    fields: dict[str, object] = {
        "change_id": change_id,
        "pull_request": 7,
        "head_sha": "a" * 40,
        "approved_by": ("alice", "bob"),
        "merged_by": "carol",
    }
    fields.update(extra)
    return ApprovalRecord(**fields)  # type: ignore[arg-type]


def _change(target: str = "payments/stripe", env: str = ENV, **fields: object) -> SecretChange:
    return SecretChange(name="c", environment=env, secret=target, reason="test", **fields)  # type: ignore[arg-type]


def _git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), *args], check=True, capture_output=True, text=True
    ).stdout


def test_apply_stores_values_and_reads_them_back(world: World) -> None:
    sealed = world.seal("payments/stripe", "API_KEY", b"sk_live_1")
    result = world.store.apply(
        "pr-7",
        [
            _change(
                set={"API_KEY": sealed},
                generate={"WEBHOOK": GenerateSpec(24, Alphabet.HEX)},
                tier=Tier.CRITICAL,
            )
        ],
        _record("pr-7"),
    )
    assert result.already_applied is False
    assert dict(result.versions) == {"production/payments/stripe": 1}
    data = world.store.read_secret(ENV, "payments/stripe")
    assert data is not None
    assert data.data["API_KEY"] == b"sk_live_1"
    assert len(data.data["WEBHOOK"]) == 24
    assert set(data.data["WEBHOOK"].decode()) <= set("0123456789abcdef")
    assert (data.path, data.version, data.tier, data.change_id) == (
        "production/payments/stripe",
        1,
        Tier.CRITICAL,
        "pr-7",
    )
    assert (data.environment, data.secret) == (ENV, "payments/stripe")
    assert "sk_live_1" not in repr(data)
    assert world.store.read(ENV) == {"payments/stripe": data}
    assert world.store.read("staging") == {}
    assert world.store.read_secret(ENV, "payments/none") is None

    [info] = world.store.list_secrets()
    assert info.keys["API_KEY"].fingerprint == world.keyring.fingerprint(
        b"sk_live_1", environment=ENV, secret="payments/stripe", key="API_KEY"
    )
    assert info.keys["WEBHOOK"].fingerprint == world.keyring.fingerprint(
        data.data["WEBHOOK"], environment=ENV, secret="payments/stripe", key="WEBHOOK"
    )
    assert world.store.current_tiers() == {"production/payments/stripe": Tier.CRITICAL}


def test_commit_carries_the_trailers_and_the_repository_is_bare_and_sound(world: World) -> None:
    sealed = world.seal("payments/stripe", "K", b"v")
    result = world.store.apply("pr-7", [_change(set={"K": sealed})], _record("pr-7"))
    message = _git(world.path, "log", "-1", "--format=%B", "main")
    for trailer in (
        "Change-Id: pr-7",
        "Pull-Request: 7",
        f"Head-Sha: {'a' * 40}",
        "Approved-By: alice, bob",
        "Merged-By: carol",
        "Audit-Head: 1 ",
    ):
        assert trailer in message
    assert "Bypass:" not in message
    assert _git(world.path, "rev-parse", "main").strip() == result.commit
    assert _git(world.path, "rev-parse", "--is-bare-repository").strip() == "true"
    _git(world.path, "fsck", "--strict", "--no-dangling")
    files = _git(world.path, "ls-tree", "-r", "--name-only", "main").split()
    assert "production/payments/stripe.yaml" in files


def test_replaying_a_change_is_a_no_op_returning_the_earlier_result(world: World) -> None:
    changes = [_change(set={"K": world.seal("payments/stripe", "K", b"v1")})]
    first = world.store.apply("pr-7", changes, _record("pr-7"))
    world.store.apply(
        "pr-8", [_change(target="ns/other", generate={"X": GenerateSpec()})], _record("pr-8")
    )
    again = world.reopen().apply("pr-7", changes, _record("pr-7"))
    assert again.already_applied is True
    assert (again.commit, dict(again.versions)) == (first.commit, dict(first.versions))
    assert world.store.is_applied("pr-7") == again
    assert world.store.is_applied("pr-unknown") is None
    assert _git(world.path, "rev-list", "--count", "main").strip() == "2"
    applies = [r for r in world.store.audit_records() if r.event == "apply"]
    assert [r.fields["changeId"] for r in applies] == ["pr-7", "pr-8"]


def test_all_changes_of_one_apply_land_in_one_commit(world: World) -> None:
    changes = [
        _change(target="payments/stripe", set={"K": world.seal("payments/stripe", "K", b"a")}),
        _change(target="payments/paypal", set={"K": world.seal("payments/paypal", "K", b"b")}),
        _change(target="web/session", generate={"SECRET": GenerateSpec()}),
    ]
    result = world.store.apply("pr-9", changes, _record("pr-9"))
    assert dict(result.versions) == {
        "production/payments/paypal": 1,
        "production/payments/stripe": 1,
        "production/web/session": 1,
    }
    assert _git(world.path, "rev-list", "--count", "main").strip() == "1"
    assert sorted(world.store.read(ENV)) == ["payments/paypal", "payments/stripe", "web/session"]


def test_updates_check_the_base_version(world: World) -> None:
    world.store.apply(
        "c1", [_change(set={"A": world.seal("payments/stripe", "A", b"1")})], _record("c1")
    )
    world.store.apply(
        "c2",
        [_change(set={"A": world.seal("payments/stripe", "A", b"2")}, base_version=1)],
        _record("c2"),
    )
    head = _git(world.path, "rev-parse", "main")
    for stale in (1, 5):
        with pytest.raises(ConflictError, match=f"proposed against version {stale}"):
            world.store.apply(
                f"c-stale-{stale}",
                [_change(delete=("A",), base_version=stale)],
                _record(f"c-stale-{stale}"),
            )
    assert _git(world.path, "rev-parse", "main") == head
    data = world.store.read_secret(ENV, "payments/stripe")
    assert data is not None
    assert (data.version, dict(data.data)) == (2, {"A": b"2"})


def test_delete_and_keys_untouched_keep_their_provenance(world: World) -> None:
    world.store.apply(
        "c1",
        [
            _change(
                set={
                    "A": world.seal("payments/stripe", "A", b"a"),
                    "B": world.seal("payments/stripe", "B", b"b"),
                }
            )
        ],
        _record("c1"),
    )
    world.store.apply(
        "c2",
        [_change(delete=("B",), set={"C": world.seal("payments/stripe", "C", b"c")})],
        _record("c2"),
    )
    [info] = world.store.list_secrets(ENV)
    assert info.version == 2
    assert sorted(info.keys) == ["A", "C"]
    assert (info.keys["A"].change_id, info.keys["C"].change_id) == ("c1", "c2")
    data = world.store.read_secret(ENV, "payments/stripe")
    assert data is not None
    assert dict(data.data) == {"A": b"a", "C": b"c"}


def test_history_and_rollback(world: World) -> None:
    secret = "payments/stripe"
    world.store.apply("c1", [_change(set={"A": world.seal(secret, "A", b"one")})], _record("c1"))
    world.store.apply(
        "c2",
        [_change(set={"A": world.seal(secret, "A", b"two")}, tier=Tier.CRITICAL)],
        _record("c2"),
    )
    history = world.store.history(ENV, secret)
    assert [(v.version, v.change_id, v.tier) for v in history] == [
        (2, "c2", Tier.CRITICAL),
        (1, "c1", Tier.SENSITIVE),
    ]
    assert history[1].fingerprints["A"] == world.keyring.fingerprint(
        b"one", environment=ENV, secret=secret, key="A"
    )

    result = world.store.rollback(ENV, secret, 1, actor="oncall", reason="bad key\nrotated")
    assert dict(result.versions) == {"production/payments/stripe": 3}
    data = world.store.read_secret(ENV, secret)
    assert data is not None
    assert (data.version, dict(data.data), data.tier) == (3, {"A": b"one"}, Tier.SENSITIVE)
    [rollback] = [r for r in world.store.audit_records() if r.event == "rollback"]
    assert (rollback.fields["actor"], rollback.fields["toVersion"]) == ("oncall", 1)
    assert "Reason: bad key rotated" in _git(world.path, "log", "-1", "--format=%B")
    assert world.store.audit_verify().ok
    with pytest.raises(InputError, match="no version 9"):
        world.store.rollback(ENV, secret, 9, actor="x", reason="y")
    with pytest.raises(InputError, match="no such secret"):
        world.store.rollback(ENV, "payments/none", 1, actor="x", reason="y")


def test_bypass_is_in_the_trailers_and_audited(world: World) -> None:
    world.store.apply(
        "c1",
        [_change(generate={"K": GenerateSpec()})],
        _record("c1", bypass_reason="outage INC-42", bypassed_by="dev1"),
    )
    message = _git(world.path, "log", "-1", "--format=%B")
    assert "Bypass: outage INC-42" in message
    assert "Bypassed-By: dev1" in message
    records = list(world.store.audit_records())
    assert [(r.event, r.fields.get("changeId")) for r in records] == [
        ("apply", "c1"),
        ("bypass", "c1"),
    ]
    assert records[0].fields["bypassedBy"] == "dev1"
    assert records[1].fields["by"] == "dev1"


def test_a_value_sealed_for_elsewhere_aborts_the_whole_apply(world: World) -> None:
    misplaced = world.seal("payments/stripe", "OTHER", b"v")
    good = world.seal("payments/paypal", "K", b"v")
    with pytest.raises(SealedValueError, match="sealed for another"):
        world.store.apply(
            "c1",
            [_change(target="payments/paypal", set={"K": good}), _change(set={"K": misplaced})],
            _record("c1"),
        )
    assert world.store.list_secrets() == []
    assert world.store.is_applied("c1") is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            [
                _change(generate={"K": GenerateSpec()}),
                _change(env="staging", generate={"K": GenerateSpec()}),
            ],
            "one environment",
        ),
        (
            [_change(target="../escape", generate={"K": GenerateSpec()})],
            "secret: must be <namespace>/<name>",
        ),
        ([_change(target="ns/.sealgate", generate={"K": GenerateSpec()})], "secret: must be"),
        ([_change(env=".sealgate", generate={"K": GenerateSpec()})], "environment: must match"),
        ([_change(generate={"a/b": GenerateSpec()})], "must match"),
        ([], "nothing to apply"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    world: World, changes: list[SecretChange], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        world.store.apply("c1", changes, _record("c1"))
    assert world.store.list_secrets() == []


def test_record_must_name_the_change_being_applied(world: World) -> None:
    with pytest.raises(InputError, match=r"record\.change_id"):
        world.store.apply("c1", [_change(generate={"K": GenerateSpec()})], _record("c2"))


def test_untouched_subtrees_are_reused_not_rewritten(world: World) -> None:
    world.store.apply(
        "c1",
        [
            _change(target="alpha/one", generate={"K": GenerateSpec()}),
            _change(target="beta/two", generate={"K": GenerateSpec()}),
        ],
        _record("c1"),
    )
    world.store.apply(
        "c2",
        [_change(env="staging", target="gamma/three", generate={"K": GenerateSpec()})],
        _record("c2"),
    )
    before = {
        line.split()[3]: line.split()[2]
        for line in _git(world.path, "ls-tree", "-r", "-t", "main").splitlines()
    }
    world.store.apply(
        "c3", [_change(target="alpha/one", generate={"K": GenerateSpec()})], _record("c3")
    )
    after = {
        line.split()[3]: line.split()[2]
        for line in _git(world.path, "ls-tree", "-r", "-t", "main").splitlines()
    }
    assert after["production/beta"] == before["production/beta"]
    assert after["staging"] == before["staging"]
    assert after["production/alpha"] != before["production/alpha"]
    repo = git.Repo(world.path)
    try:
        changed = repo.commit("main~1").diff(repo.commit("main"))
        touched = sorted(d.b_path or d.a_path or "" for d in changed)
    finally:
        repo.close()
    assert "production/beta/two.yaml" not in touched
    assert "production/alpha/one.yaml" in touched


def test_push_to_a_remote_after_each_write(world: World, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git.Repo.init(remote, bare=True).close()
    world.store.close()
    world.store = Store(world.path, world.kek, world.keyring, remote=str(remote))
    result = world.store.apply("c1", [_change(generate={"K": GenerateSpec()})], _record("c1"))
    assert _git(remote, "rev-parse", "main").strip() == result.commit


def test_key_events_are_audited(world: World) -> None:
    commit = world.store.record_key_event(ENV, "rotate", "production-2026-11-abcd", actor="ops")
    [record] = list(world.store.audit_records())
    assert (record.event, record.fields["keyId"], record.fields["actor"]) == (
        "key",
        "production-2026-11-abcd",
        "ops",
    )
    assert _git(world.path, "rev-parse", "main").strip() == commit
    assert world.store.audit_verify().ok


def test_audit_log_rolls_over_by_size_and_by_day_and_stays_chained(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_module, "PART_BYTES", 600)
    for number in range(4):
        world.store.apply(
            f"c{number}", [_change(generate={"K": GenerateSpec()})], _record(f"c{number}")
        )
    moments = iter(
        [datetime(2026, 11, 22, 0, 0, 1, tzinfo=UTC), datetime(2026, 11, 21, 23, 0, tzinfo=UTC)]
    )
    world.store.close()
    world.store = Store(world.path, world.kek, world.keyring, clock=lambda: next(moments))
    world.store.apply("next-day", [_change(generate={"K": GenerateSpec()})], _record("next-day"))
    # A clock stepping back appends to the newest file rather than forking the order.
    world.store.apply(
        "clock-back", [_change(generate={"K": GenerateSpec()})], _record("clock-back")
    )
    files = [
        f
        for f in _git(world.path, "ls-tree", "-r", "--name-only", "main").split()
        if "/audit/" in f
    ]
    assert files[0] == ".sealgate/audit/2026-11/2026-11-21.0000.jsonl"
    assert any(f.endswith("2026-11-21.0001.jsonl") for f in files)
    assert files[-2:] == [
        ".sealgate/audit/2026-11/2026-11-22.0000.jsonl",
        ".sealgate/audit/2026-11/2026-11-22.0001.jsonl",
    ]
    records = list(world.store.audit_records())
    assert [r.seq for r in records] == list(range(1, 7))
    assert all(later.prev == earlier.hash for earlier, later in itertools.pairwise(records))
    report = world.store.audit_verify()
    assert report.ok, report.problems
    assert (report.records, report.secrets, report.head) == (6, 1, records[-1].hash)


def test_stale_lock_files_are_repaired_on_start(world: World) -> None:
    world.store.apply("c1", [_change(generate={"K": GenerateSpec()})], _record("c1"))
    lock = world.path / "refs" / "heads" / "main.lock"
    lock.write_text("left by a crashed writer\n")
    store = world.reopen()
    assert store.repaired == ["refs/heads/main.lock"]
    assert not lock.exists()
    store.apply("c2", [_change(generate={"K": GenerateSpec()})], _record("c2"))
    assert store.audit_verify().ok


def test_a_sealed_value_is_applied_once_and_its_digest_lands_with_the_apply(
    world: World,
) -> None:
    sealed = world.seal("payments/stripe", "API_KEY", b"sk_live_old")
    first = world.store.apply("pr-1", [_change(set={"API_KEY": sealed})], _record("pr-1"))
    digest = sealed_digest(sealed)
    assert digest is not None
    assert world.store.applied_sealed(ENV, [digest]) == {digest: "pr-1"}
    # The digest was written by the apply's own commit, not a later one.
    assert _git(world.path, "log", "--format=%H", "-1", "--", ".sealgate/sealed").strip() == (
        first.commit
    )
    world.store.apply(
        "pr-2",
        [_change(set={"API_KEY": world.seal("payments/stripe", "API_KEY", b"sk_live_new")})],
        _record("pr-2"),
    )
    commits = _git(world.path, "rev-list", "--count", "HEAD")

    # Defence in depth: a decision that missed it still cannot apply it.
    with pytest.raises(InputError, match=r"spec.set.API_KEY: .*already applied \(by pr-1\)"):
        world.store.apply("pr-3", [_change(set={"API_KEY": sealed})], _record("pr-3"))
    assert _git(world.path, "rev-list", "--count", "HEAD") == commits
    stored = world.store.read_secret(ENV, "payments/stripe")
    assert stored is not None
    assert stored.data["API_KEY"] == b"sk_live_new"
    # Applying the same change again is the idempotent lookup, not a replay.
    assert world.store.apply("pr-1", [_change(set={"API_KEY": sealed})], _record("pr-1"))


def test_the_rollout_intent_is_recorded_with_the_apply(world: World) -> None:
    keep = _change(generate={"A": GenerateSpec()}, on_rollout_failure=RolloutFailure.KEEP)
    back = _change(
        target="payments/paypal",
        generate={"B": GenerateSpec()},
        on_rollout_failure=RolloutFailure.ROLLBACK,
    )
    result = world.store.apply("pr-9", [keep, back], _record("pr-9"))
    expected = {
        f"{ENV}/payments/stripe": RolloutFailure.KEEP,
        f"{ENV}/payments/paypal": RolloutFailure.ROLLBACK,
    }
    assert dict(result.on_rollout_failure) == expected
    again = world.store.is_applied("pr-9")
    assert again is not None
    assert dict(again.on_rollout_failure) == expected
