"""The reconciler's pure parts: change ids, the sync check's text, status JSON, sealed values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from controller.crypto import load_public_key, seal
from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from controller.kube.results import (
    RolloutOutcome,
    SecretOutcome,
    SecretSync,
    SyncReport,
    WorkloadOutcome,
)
from controller.model import (
    Decision,
    DecisionState,
    NotifyTargets,
    Policy,
    SecretChange,
    StepResult,
    Tier,
    frozen_map,
)
from controller.reconciler import RequestStatus, Status, SyncRow, change_id_for
from controller.reconciler.delivery import EnvironmentOutcome, pull_request_of
from controller.reconciler.evaluation import open_values, reuse_warnings
from controller.reconciler.notices import targets_of
from controller.reconciler.status import sync_rows
from controller.reconciler.sync_text import refused_check, sync_check
from controller.store.types import ApplyResult, VersionInfo

WHEN = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_change_ids_name_environment_and_pull_request() -> None:
    assert change_id_for("production", 42) == "production/pr-42"
    assert pull_request_of(change_id_for("staging", 7)) == 7
    assert pull_request_of("rollback-20261121T120000-ab12cd34") is None
    assert pull_request_of("production/pr-x") is None


def _outcome(report: SyncReport, *, rollbacks: tuple[ApplyResult, ...] = ()) -> EnvironmentOutcome:
    applied = ApplyResult(
        "production/pr-3", "c0ffee" * 6, frozen_map({"production/pay/db": 2}), False
    )
    return EnvironmentOutcome(
        "production",
        "production/pr-3",
        applied,
        report,
        rollbacks=rollbacks,
        rollback_sync=SyncReport() if rollbacks else None,
    )


def test_sync_check_rows_and_conclusions() -> None:
    good = SyncReport(
        (SecretSync("loop", "pay", "db", SecretOutcome.UPDATED),),
        (WorkloadOutcome("loop", "Deployment", "pay", "api", RolloutOutcome.ROLLED),),
    )
    check = sync_check([_outcome(good)], retrying=False)
    assert check.conclusion == "success"
    assert "| loop | Secret | pay | db | updated |" in check.text
    assert "| loop | Deployment | pay | api | rolled |" in check.text
    assert "`production/pay/db` v2" in check.text

    bad = SyncReport(
        (SecretSync("loop", "pay", "db", SecretOutcome.UPDATED),),
        (
            WorkloadOutcome(
                "loop", "Deployment", "pay", "api", RolloutOutcome.FAILED, "bad | <b>x</b>"
            ),
        ),
    )
    rolled = ApplyResult("rollback-1", "ab" * 20, frozen_map({"production/pay/db": 3}), False)
    failed = sync_check([_outcome(bad, rollbacks=(rolled,))], retrying=False)
    assert failed.conclusion == "failure"
    assert failed.title == "sealgate/sync: rollout failed, rolled back to the replaced value"
    assert "bad \\| &lt;b&gt;x&lt;/b&gt;" in failed.text  # a message cannot break the table
    assert "`production/pay/db` v3" in failed.text

    waiting = sync_check([_outcome(bad)], retrying=True)
    assert waiting.conclusion is None
    assert sync_check([], retrying=False).conclusion == "success"
    assert refused_check("merged | around").conclusion == "failure"


def test_request_status_json_carries_approvals_and_sync_rows() -> None:
    decision = Decision(
        state=DecisionState.PENDING,
        reasons=("needs 1 more approval",),
        steps=(
            StepResult(
                policy="production",
                step="approvals",
                required=2,
                approved_by=("bob",),
                eligible_remaining=("carol", "dave"),
            ),
        ),
        expires_at=WHEN,
        head_sha="abc123",
    )
    report = SyncReport((SecretSync("loop", "pay", "db", SecretOutcome.CREATED),))
    status = RequestStatus.from_decision(
        "acme/requests",
        5,
        Status.PENDING,
        decision,
        updated_at=WHEN,
        versions=(("production/pay/db", 1),),
        sync=sync_rows(report),
    )
    data = status.to_json()
    json.dumps(data)
    assert data["status"] == "pending"
    assert data["approvals"] == [
        {
            "policy": "production",
            "step": "approvals",
            "required": 2,
            "current": 1,
            "approvedBy": ["bob"],
            "eligible": ["carol", "dave"],
            "satisfied": False,
        }
    ]
    assert data["eligibleApprovers"] == ["carol", "dave"]
    assert data["expiresAt"] == WHEN.isoformat()
    assert data["versions"] == {"production/pay/db": 1}
    assert data["messages"] == ["needs 1 more approval"]
    assert status.sync == (SyncRow("loop", "Secret", "pay", "db", "created"),)


def test_sealed_values_are_fingerprinted_or_reported_without_the_value(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path, LocalKekFile(tmp_path / KEK_FILE_NAME, create=True))
    info = keyring.init("production")

    def sealed(secret: str, key: str, value: bytes) -> str:
        return seal(
            value,
            key_id=info.key_id,
            public_key=load_public_key(info.public_key, where="test"),
            environment="production",
            secret=secret,
            key=key,
        )

    good = SecretChange(
        name="ok",
        environment="production",
        secret="pay/db",
        reason="rotate",
        set=frozen_map({"password": sealed("pay/db", "password", b"value-one")}),
        source="changes/production/ok.yaml",
    )
    moved = SecretChange(
        name="moved",
        environment="production",
        secret="pay/other",
        reason="copy",
        # Sealed for pay/db: opening it as pay/other must fail.
        set=frozen_map({"password": sealed("pay/db", "password", b"value-two")}),
        source="changes/production/moved.yaml",
    )
    opened = open_values([good, moved], keyring, shown_in="acme/requests#7")
    fingerprints, problems = opened.stored, opened.problems

    assert fingerprints == {
        ("production/pay/db", "password"): keyring.fingerprint(
            b"value-one", environment="production", secret="pay/db", key="password"
        )
    }
    assert [(p.file, p.field) for p in problems] == [
        ("changes/production/moved.yaml", "spec.set.password")
    ]
    assert "value-two" not in str(problems)
    # What the pull request shows is bound to it: it matches neither the store's
    # fingerprint nor the one the same value shows in any other pull request.
    shown = opened.shown[("production/pay/db", "password")]
    assert shown != fingerprints[("production/pay/db", "password")]
    elsewhere = open_values([good], keyring, shown_in="acme/requests#8").shown
    assert shown != elsewhere[("production/pay/db", "password")]
    again = open_values([good], keyring, shown_in="acme/requests#7").shown
    assert shown == again[("production/pay/db", "password")]


def test_notify_targets_join_every_applicable_policy_once() -> None:
    one = Policy(name="a", steps=(), notify=NotifyTargets(slack=("#x",), email=("a@x",)))
    two = Policy(name="b", steps=(), notify=NotifyTargets(slack=("#x", "#y"), teams=("t",)))
    assert targets_of([one, two]) == NotifyTargets(slack=("#x", "#y"), email=("a@x",), teams=("t",))


class _History:
    """The store's history of one secret, newest first."""

    def __init__(self, versions: list[VersionInfo]) -> None:
        self.versions = versions

    def applied_sealed(self, env: str, digests: object) -> dict[str, str]:
        return {}

    def history(self, env: str, secret: str) -> list[VersionInfo]:
        return self.versions


def test_a_value_equal_to_a_stored_one_is_warned_but_not_its_own_apply() -> None:
    when = datetime(2026, 11, 20, tzinfo=UTC)
    store = _History(
        [
            VersionInfo(2, "c2", "production/pr-9", when, Tier.SENSITIVE, {"password": "fp-new"}),
            VersionInfo(1, "c1", "production/pr-3", when, Tier.SENSITIVE, {"password": "fp-old"}),
        ]
    )
    change = SecretChange(
        name="rotate",
        environment="production",
        secret="pay/db",
        reason="rotate",
        set=frozen_map({"password": "sg1:k:x"}),
        source="changes/production/rotate.yaml",
    )
    back = {("production/pay/db", "password"): "fp-old"}
    (warning,) = reuse_warnings([change], back, store)
    assert "version 1, which was replaced since" in warning
    # A pass resuming after pull request 9's own apply finds its value stored: not a reuse.
    mine = {("production/pay/db", "password"): "fp-new"}
    assert reuse_warnings([change], mine, store, frozenset({"production/pr-9"})) == []
    assert "holds now" in reuse_warnings([change], mine, store)[0]
