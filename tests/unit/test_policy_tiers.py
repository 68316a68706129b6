"""Current and new tiers, floors and conflicting asked tiers (pure)."""

from __future__ import annotations

from controller.model import Environment, SecretChange, Tier, TierFloor
from controller.policy.scope import effective_tier
from controller.policy.tiers import current_tier, new_tier, tier_problems, with_new_tiers

ENV = Environment(
    name="production",
    sealing_keys=(),
    default_tier=Tier.CRITICAL,
    source="environments/production.yaml",
    tier_floors=(TierFloor(("payments/**",), Tier.CRITICAL),),
)
LENIENT = Environment(name="production", sealing_keys=(), default_tier=Tier.STANDARD)


def _change(path: str = "web/db", tier: Tier | None = None, source: str = "c.yaml") -> SecretChange:
    return SecretChange(
        name="c", environment="production", secret=path, reason="r", tier=tier, source=source
    )


def test_a_new_secret_starts_at_the_default_and_is_stored_there() -> None:
    change = _change()
    assert current_tier(change, ENV, {}) is Tier.CRITICAL
    assert new_tier(change, ENV, {}) is Tier.CRITICAL
    [resolved] = with_new_tiers([change], {"production": ENV}, {})
    assert resolved.tier is Tier.CRITICAL


def test_a_floor_raises_a_stored_tier_the_store_lost() -> None:
    floored = _change("payments/stripe")
    stored = {"production/payments/stripe": Tier.STANDARD}
    assert current_tier(floored, LENIENT, stored) is Tier.STANDARD
    with_floor = Environment(
        name="production",
        sealing_keys=(),
        default_tier=Tier.STANDARD,
        tier_floors=ENV.tier_floors,
    )
    assert current_tier(floored, with_floor, stored) is Tier.CRITICAL
    assert effective_tier(floored, with_floor, stored) is Tier.CRITICAL


def test_a_downgrade_is_stored_low_but_judged_high() -> None:
    down = _change(tier=Tier.STANDARD)
    stored = {"production/web/db": Tier.CRITICAL}
    assert new_tier(down, LENIENT, stored) is Tier.STANDARD
    assert effective_tier(down, LENIENT, stored) is Tier.CRITICAL


def test_below_a_floor_and_conflicting_tiers_are_problems() -> None:
    [below] = tier_problems([_change("payments/x", Tier.SENSITIVE)], {"production": ENV})
    assert below.field == "spec.tier"
    assert "floor 'critical'" in below.message
    assert "environments/production.yaml" in below.message
    conflict = tier_problems(
        [
            _change(tier=Tier.CRITICAL, source="a.yaml"),
            _change(tier=Tier.STANDARD, source="b.yaml"),
        ],
        {"production": LENIENT},
    )
    assert sorted(p.file for p in conflict) == ["a.yaml", "b.yaml"]
    assert all("different tiers" in p.message for p in conflict)
    same = [
        _change(tier=Tier.CRITICAL, source="a.yaml"),
        _change(tier=Tier.CRITICAL, source="b.yaml"),
    ]
    assert tier_problems(same, {"production": LENIENT}) == []
