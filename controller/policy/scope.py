"""What a pull request is, and which policies judge it.

A pull request either changes secrets (only files under ``changes/``), asks for access
(only files under ``access/``) or changes the rules (anything else: ``policies/``,
``environments/``, CI, code): the last is a governance change, judged by the governance
policies. Mixing any two is refused, so a secret change can never ride along with a rule
change that would judge it, and access is never granted by approvals given to a change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from controller.model import (
    GOVERNANCE,
    Action,
    Environment,
    Policy,
    RolloutFailure,
    SecretChange,
    Tier,
    Unmatched,
)
from controller.policy.globs import secret_glob_matches
from controller.policy.tiers import current_tier

CHANGES_DIR = "changes/"
ACCESS_DIR = "access/"
ANY_ENVIRONMENT = "*"


def governance_files(changed_files: Sequence[str]) -> tuple[str, ...]:
    """Changed files that make a pull request a governance change: anything outside
    changes/ and access/."""
    return tuple(
        sorted(path for path in changed_files if not path.startswith((CHANGES_DIR, ACCESS_DIR)))
    )


def change_files(changed_files: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(path for path in changed_files if path.startswith(CHANGES_DIR)))


def access_files(changed_files: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(path for path in changed_files if path.startswith(ACCESS_DIR)))


def effective_tier(
    change: SecretChange, environment: Environment, current_tiers: Mapping[str, Tier]
) -> Tier:
    """The higher of the secret's tier now (stored or default, raised to its floor) and the
    tier it asks for.

    Lowering a tier is thereby judged at the old, higher tier: nobody can downgrade a
    critical secret with the approvals a standard one needs.
    """
    current = current_tier(change, environment, current_tiers)
    return Tier.highest(current, change.tier or current)


def rollout_failure(
    changes: Sequence[SecretChange], environments: Mapping[str, Environment]
) -> dict[str, RolloutFailure]:
    """What a failed rollout does, per ``<env>/<namespace>/<name>`` a change touches.

    A change's own ``spec.onRolloutFailure`` wins over its environment's default; when
    several documents change one secret and any of them says ``keep``, the secret keeps its
    new value: a rollback would undo every key's change, the rotated one among them. An
    unknown environment falls back to ``keep`` (the change is invalid anyway).
    """
    out: dict[str, RolloutFailure] = {}
    for change in changes:
        environment = environments.get(change.environment)
        default = environment.on_rollout_failure if environment else RolloutFailure.KEEP
        wanted = change.on_rollout_failure or default
        if out.get(change.path) is RolloutFailure.KEEP:
            continue
        out[change.path] = wanted
    return out


def covers(policy: Policy, change: SecretChange, tier: Tier) -> bool:
    """Action ``change``, environment (``*`` never reaches the reserved governance), secret
    glob and tier."""
    return Action.CHANGE in policy.actions and covers_secret(
        policy, change.environment, change.secret, tier
    )


def covers_secret(policy: Policy, environment: str, secret: str, tier: Tier) -> bool:
    """Whether ``policy`` covers ``secret`` of ``environment`` at ``tier``, whatever the action."""
    environments = policy.environments
    in_environment = environment in environments or (
        ANY_ENVIRONMENT in environments and environment != GOVERNANCE
    )
    return (
        in_environment
        and tier in policy.tiers
        and any(secret_glob_matches(glob, secret) for glob in policy.secrets)
    )


@dataclass(slots=True)
class ChangeScope:
    """The policies a set of secret changes brings in, and what is wrong with the changes."""

    applicable: list[Policy] = field(default_factory=list)
    tiers: dict[str, Tier] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def scope_changes(
    environments: Mapping[str, Environment],
    policies: Sequence[Policy],
    changes: Sequence[SecretChange],
    current_tiers: Mapping[str, Tier],
) -> ChangeScope:
    """Effective tiers, applicable policies (in ``policies`` order) and uncovered changes."""
    scope = ChangeScope()
    applicable: set[str] = set()
    for change in changes:
        where = change.source or change.name
        if change.environment == GOVERNANCE:
            scope.invalid.append(
                f"{where}: spec.environment: '{GOVERNANCE}' is reserved for policies that judge"
                " rule changes; a secret change must name a real environment."
            )
            continue
        environment = environments.get(change.environment)
        if environment is None:
            known = ", ".join(sorted(environments)) or "none are defined"
            scope.invalid.append(
                f"{where}: spec.environment: environment '{change.environment}' does not exist"
                f" in environments/ of the base commit (known: {known}); fix the name or add"
                " the environment in a separate governance pull request."
            )
            continue
        tier = effective_tier(change, environment, current_tiers)
        scope.tiers[change.path] = Tier.highest(tier, scope.tiers.get(change.path, tier))
        covering = [policy for policy in policies if covers(policy, change, tier)]
        applicable.update(policy.name for policy in covering)
        if covering:
            continue
        if environment.unmatched is Unmatched.ALLOW:
            scope.notes.append(
                f"{where}: {change.path} (tier {tier}) is covered by no policy; environment"
                f" '{environment.name}' allows unmatched changes, so it needs no approval."
            )
        else:
            scope.invalid.append(
                f"{where}: {change.path} (tier {tier}) is covered by no policy and environment"
                f" '{environment.name}' denies unmatched changes; add a policy whose"
                " environments, secrets and tiers cover it."
            )
    scope.applicable = [policy for policy in policies if policy.name in applicable]
    return scope
