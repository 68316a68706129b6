"""A pass over a pull request reads from the store only the secrets its documents name.

The store holds many other secrets; a pass used to parse and MAC-check every one of them
(``list_secrets``) to learn one tier. The store here is the real one, subclassed only to
record which reads the reconciler asks of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.keyring import KEK_FILE_NAME, LocalKekFile
from controller.model import GenerateSpec, SecretChange, Tier
from controller.reconciler import Reconciler, ReconcilerSettings, Status
from controller.store import ApprovalRecord, Store
from controller.store.types import SecretData, SecretInfo
from tests.integration.test_reconciler_world import (
    BOT,
    CANARY,
    CLUSTER,
    ENV,
    FULL,
    NAMESPACE,
    SECRET,
    Controller,
    World,
)
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414

OTHERS = 40
TARGET = f"{ENV}/{NAMESPACE}/{SECRET}"


class RecordingStore(Store):
    """The real store, noting which whole-store and per-secret reads were asked of it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.listed = 0
        self.looked_up: list[tuple[str, str]] = []
        self.reads: list[tuple[str, str | None]] = []

    def list_secrets(self, env: str | None = None) -> list[SecretInfo]:
        self.listed += 1
        return super().list_secrets(env)

    def current_tiers(self) -> dict[str, Tier]:
        self.listed += 1
        return super().current_tiers()

    def secret_info(self, env: str, secret: str) -> SecretInfo | None:
        self.looked_up.append((env, secret))
        return super().secret_info(env, secret)

    def read(self, env: str, namespace: str | None = None) -> dict[str, SecretData]:
        self.reads.append((env, namespace))
        return super().read(env, namespace)


def _seed(store: Store) -> None:
    """The target at a tier above its environment's default, beside many other secrets."""
    changes = [
        SecretChange(
            name="seed",
            environment=ENV,
            secret=f"{NAMESPACE}/other-{i:02d}",
            reason="seed",
            generate={"password": GenerateSpec(24)},
        )
        for i in range(OTHERS)
    ]
    changes.append(
        SecretChange(
            name="seed",
            environment=ENV,
            secret=f"{NAMESPACE}/{SECRET}",
            reason="seed",
            generate={"password": GenerateSpec(24)},
            tier=Tier.CRITICAL,
        )
    )
    store.apply("seed", changes, ApprovalRecord("seed", 1, "0" * 40, ("bob",), BOT))


@pytest.fixture
def recording(world: World, controller: Controller) -> Iterator[tuple[Reconciler, RecordingStore]]:
    _seed(controller.store)
    kek = LocalKekFile(Path(world.spec.keys) / KEK_FILE_NAME)
    store = RecordingStore(Path(world.spec.store), kek, controller.keyring)
    reconciler = Reconciler(
        github=controller.gateway,
        store=store,
        targets=controller.targets,
        keys=controller.keyring,
        notifier=controller.notifier,
        observer=controller.observer,
        settings=ReconcilerSettings(
            bot_login=BOT,
            rollout_timeout_s=10.0,
            reminder_after=timedelta(hours=1),
            environment_clusters={ENV: (CLUSTER,)},
        ),
        clock=lambda: datetime.now(UTC),
    )
    try:
        yield reconciler, store
    finally:
        store.close()


def _summary(world: World, number: int) -> str:
    return str(world.checks(world.head(number), "sealgate")[-1]["output"]["summary"])


def test_an_open_pass_reads_only_the_secret_it_changes(
    world: World, recording: tuple[Reconciler, RecordingStore]
) -> None:
    reconciler, store = recording
    number = world.open_pull(CANARY)
    assert reconciler.handle(FULL, number).status is Status.PENDING
    assert store.listed == 0
    assert set(store.looked_up) == {(ENV, f"{NAMESPACE}/{SECRET}")}
    # The stored tier (critical, above the environment's default) still judges the change.
    assert "critical → critical" in _summary(world, number)
    assert CANARY.decode() not in _summary(world, number)


def test_a_merged_pass_reads_only_the_secret_it_changes(
    world: World, recording: tuple[Reconciler, RecordingStore]
) -> None:
    reconciler, store = recording
    number = world.open_pull(CANARY)
    world.approve("bob", number)
    assert reconciler.handle(FULL, number).status is Status.SYNCED
    assert store.listed == 0
    assert set(store.looked_up) == {(ENV, f"{NAMESPACE}/{SECRET}")}
    info = store.secret_info(ENV, f"{NAMESPACE}/{SECRET}")
    assert info is not None
    assert (info.path, info.version, info.tier) == (TARGET, 2, Tier.CRITICAL)


def test_a_new_secret_is_looked_up_once_and_judged_at_the_default_tier(
    world: World, recording: tuple[Reconciler, RecordingStore]
) -> None:
    reconciler, store = recording
    number = world.open_pull(CANARY, secret=f"{NAMESPACE}/brand-new")
    assert reconciler.handle(FULL, number).status is Status.PENDING
    assert store.looked_up == [(ENV, f"{NAMESPACE}/brand-new")]
    assert "sensitive → sensitive" in _summary(world, number)


def test_drift_repair_reads_and_repairs_one_namespace_at_a_time(
    world: World, recording: tuple[Reconciler, RecordingStore]
) -> None:
    reconciler, store = recording
    world.kube.create_namespace("billing")
    store.apply(
        "billing-seed",
        [
            SecretChange(
                name="seed",
                environment=ENV,
                secret="billing/invoices",
                reason="seed",
                generate={"token": GenerateSpec(24)},
            )
        ],
        ApprovalRecord("billing-seed", 2, "0" * 40, ("bob",), BOT),
    )
    report = reconciler.repair_drift()
    assert store.listed == 0
    assert store.reads == [(ENV, "billing"), (ENV, NAMESPACE)]
    created = sorted((r.namespace, r.name) for r in report.repaired if r.outcome == "created")
    assert created == sorted(
        [("billing", "invoices"), (NAMESPACE, SECRET)]
        + [(NAMESPACE, f"other-{i:02d}") for i in range(OTHERS)]
    )
    world.kube.reset_request_log()
    assert reconciler.repair_drift().repaired == ()
    assert world.kube_writes() == []
