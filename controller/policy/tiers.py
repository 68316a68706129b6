"""A secret's tier now, the tier a change leaves it at, and what is wrong with asked tiers.

Tier floors come from the environment documents on the default branch, never from the
store: a store that is lost, restored from an old backup or tampered with can at worst
forget a raised tier, and the floor puts it back. A new secret starts at the environment's
``defaultTier``, so the tier it is judged at is the tier it is stored at.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from controller.errors import Problem
from controller.model import Environment, SecretChange, Tier
from controller.policy.globs import secret_glob_matches


def tier_floor(environment: Environment, secret: str) -> Tier | None:
    """The highest floor any of the environment's ``tierFloors`` sets for ``secret``."""
    floors = [
        floor.tier
        for floor in environment.tier_floors
        if any(secret_glob_matches(glob, secret) for glob in floor.secrets)
    ]
    return Tier.highest(*floors) if floors else None


def current_tier(
    change: SecretChange, environment: Environment, current_tiers: Mapping[str, Tier]
) -> Tier:
    """The highest of the stored tier (``defaultTier`` when new) and the secret's floor."""
    return secret_tier(environment, change.secret, current_tiers.get(change.path))


def secret_tier(environment: Environment, secret: str, stored: Tier | None) -> Tier:
    """The tier of ``<namespace>/<name>`` now: ``stored`` (``defaultTier`` when None),
    raised to its floor. Reading a secret is judged at it, as changing it would be."""
    tier = stored if stored is not None else environment.default_tier
    floor = tier_floor(environment, secret)
    return Tier.highest(tier, floor) if floor is not None else tier


def new_tier(
    change: SecretChange, environment: Environment, current_tiers: Mapping[str, Tier]
) -> Tier:
    """The tier the store keeps after the change: the one asked for, else the current one."""
    return (
        change.tier if change.tier is not None else current_tier(change, environment, current_tiers)
    )


def with_new_tiers(
    changes: Sequence[SecretChange],
    environments: Mapping[str, Environment],
    current_tiers: Mapping[str, Tier],
) -> list[SecretChange]:
    """The changes with ``tier`` set to what the store must keep (unknown environments
    are left alone: they are invalid anyway)."""
    out: list[SecretChange] = []
    for change in changes:
        environment = environments.get(change.environment)
        out.append(
            change
            if environment is None
            else dataclasses.replace(change, tier=new_tier(change, environment, current_tiers))
        )
    return out


def tier_problems(
    changes: Sequence[SecretChange], environments: Mapping[str, Environment]
) -> list[Problem]:
    """Tiers below a floor, and documents asking for different tiers for one secret."""
    problems: list[Problem] = []
    asked: dict[str, dict[Tier, str]] = {}
    for change in changes:
        if change.tier is None:
            continue
        where = _where(change)
        asked.setdefault(change.path, {}).setdefault(change.tier, where)
        environment = environments.get(change.environment)
        floor = tier_floor(environment, change.secret) if environment else None
        if environment is not None and floor is not None and change.tier.rank < floor.rank:
            problems.append(
                Problem(
                    where,
                    "spec.tier",
                    f"tier '{change.tier}' is below the floor '{floor}' that"
                    f" {environment.source or 'the environment'} (spec.tierFloors) sets for"
                    f" {change.secret}; ask for '{floor}' or higher, or drop spec.tier (the"
                    " floor of a secret is lowered only by a governance pull request)",
                )
            )
    for path, tiers in sorted(asked.items()):
        if len(tiers) > 1:
            listed = ", ".join(f"'{tier}' in {where}" for tier, where in sorted(tiers.items()))
            problems.extend(
                Problem(
                    where,
                    "spec.tier",
                    f"this pull request asks for different tiers for {path} ({listed});"
                    " give every document for one secret the same spec.tier, or set it in one"
                    " document only",
                )
                for where in dict.fromkeys(tiers.values())
            )
    return problems


def _where(change: SecretChange) -> str:
    where = change.source or change.name
    return f"{where} (document {change.document_index + 1})" if change.document_index else where
