"""``Store.secret_info``: one secret's metadata, the same as ``list_secrets`` gives for it."""

from __future__ import annotations

import pytest

from controller.model import GenerateSpec, SecretChange, Tier
from controller.reconciler.stored import StoredSecrets
from controller.store.types import SecretInfo
from tests.integration.test_store import ENV, World, _record
from tests.integration.test_store import world as world  # noqa: PLC0414


def _apply(world: World) -> None:
    changes = [
        SecretChange(
            name="c",
            environment=ENV,
            secret=secret,
            reason="test",
            set={"API_KEY": world.seal(secret, "API_KEY", b"canary-value-7c1f")},
            generate={"WEBHOOK": GenerateSpec(24)},
            tier=tier,
        )
        for secret, tier in (("payments/stripe", Tier.CRITICAL), ("payments/paypal", None))
    ]
    world.store.apply("pr-7", changes, _record("pr-7"))


def test_secret_info_equals_the_listing_for_each_secret(world: World) -> None:
    _apply(world)
    listed = {info.path: info for info in world.store.list_secrets()}
    assert len(listed) == 2
    for path, info in listed.items():
        env, _, secret = path.partition("/")
        assert world.store.secret_info(env, secret) == info
    stripe = world.store.secret_info(ENV, "payments/stripe")
    assert stripe is not None
    assert (stripe.tier, stripe.version, sorted(stripe.keys)) == (
        Tier.CRITICAL,
        1,
        ["API_KEY", "WEBHOOK"],
    )
    assert "canary-value-7c1f" not in repr(stripe)


@pytest.mark.parametrize(
    ("env", "secret"),
    [
        (ENV, "payments/none"),
        ("staging", "payments/stripe"),
        ("unknown", "payments/stripe"),
        (".sealgate", "heads/production/payments/stripe"),
        ("Production", "payments/stripe"),
        ("..", "production/payments/stripe"),
        (ENV, "payments"),
        (ENV, "payments/stripe/extra"),
        ("", "payments/stripe"),
    ],
)
def test_secret_info_is_none_for_what_the_store_does_not_hold(
    world: World, env: str, secret: str
) -> None:
    _apply(world)
    assert world.store.secret_info(env, secret) is None


def test_stored_secrets_reads_each_path_once_and_only_when_asked(world: World) -> None:
    _apply(world)
    asked: list[tuple[str, str]] = []

    class Reader:
        def secret_info(self, env: str, secret: str) -> SecretInfo | None:
            asked.append((env, secret))
            return world.store.secret_info(env, secret)

    view = StoredSecrets(Reader())
    assert asked == []
    assert view.tiers.get(f"{ENV}/payments/stripe") is Tier.CRITICAL
    stripe = view.get(f"{ENV}/payments/stripe")
    assert stripe is not None
    assert stripe.path == f"{ENV}/payments/stripe"
    assert view.get(f"{ENV}/payments/none") is None
    assert view.tiers.get(f"{ENV}/payments/none") is None
    assert view.get("no-slash") is None
    assert view.get("") is None
    assert asked == [(ENV, "payments/stripe"), (ENV, "payments/none")]
    assert view.paths_read == frozenset(
        {f"{ENV}/payments/stripe", f"{ENV}/payments/none", "no-slash", ""}
    )


def test_environments_namespaces_and_a_namespace_read_come_from_the_tree(world: World) -> None:
    _apply(world)
    world.store.apply(
        "pr-8",
        [
            SecretChange(
                name="c",
                environment=ENV,
                secret="billing/invoices",
                reason="test",
                generate={"TOKEN": GenerateSpec(24)},
            ),
        ],
        _record("pr-8"),
    )
    world.store.apply(
        "pr-9",
        [
            SecretChange(
                name="c",
                environment="staging",
                secret="payments/stripe",
                reason="test",
                generate={"TOKEN": GenerateSpec(24)},
            ),
        ],
        _record("pr-9"),
    )
    assert world.store.environments() == [ENV, "staging"]
    assert world.store.namespaces(ENV) == ["billing", "payments"]
    assert world.store.namespaces("staging") == ["payments"]
    assert world.store.namespaces("unknown") == []
    assert world.store.namespaces(".sealgate") == []
    whole = world.store.read(ENV)
    assert sorted(whole) == ["billing/invoices", "payments/paypal", "payments/stripe"]
    payments = world.store.read(ENV, "payments")
    assert payments == {k: v for k, v in whole.items() if k.startswith("payments/")}
    assert world.store.read(ENV, "billing") == {"billing/invoices": whole["billing/invoices"]}
    for nothing in ("none", "", "payments/stripe", "..", "pay"):
        assert world.store.read(ENV, nothing) == {}
