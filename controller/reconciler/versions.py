"""What a pull request's changes say about store versions, judged against the store's history.

Two things, both from the history alone (version numbers, change ids, tiers and keyed
fingerprints; no value is opened):

- **Staleness**: a change proposed against ``spec.baseVersion`` that a later version
  overtook on a key it touches is a problem, so the decision is ``invalid``: it cannot be
  approved, merged or bypassed until re-proposed (``controller.store.staleness``; the store
  checks again when it applies).
- **Restores**: the versions and keys ``spec.restore`` names must exist; the restored
  content is judged at least at the tier it had then, and the summary shows each key's
  store fingerprint now and restored, so reviewers see exactly what comes back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from controller.errors import Problem
from controller.model import SecretChange, Tier, frozen_map
from controller.store.staleness import stale_against
from controller.store.types import VersionInfo

HistoryOf = Callable[[str, str], Sequence[VersionInfo]]


@dataclass(frozen=True, slots=True)
class RestoreRow:
    key: str
    operation: str
    """``restore (vN)``, or ``delete (restore vN)`` for a key the restored version lacked."""
    current: str | None
    """The store fingerprint the key has now; None when it has no value now."""
    restored: str | None
    """The store fingerprint it gets back; None for a deletion."""


@dataclass(frozen=True, slots=True)
class VersionView:
    problems: tuple[Problem, ...] = ()
    tiers: Mapping[str, Tier] = field(default_factory=frozen_map)
    """Path -> the highest tier the restored versions had."""
    restores: Mapping[str, tuple[RestoreRow, ...]] = field(default_factory=frozen_map)
    """Path -> one row per key a restore writes or removes."""


def judge_versions(
    changes: Sequence[SecretChange],
    history_of: HistoryOf,
    *,
    own: frozenset[str] = frozenset(),
    stale: bool = True,
) -> VersionView:
    """``stale``: judge ``baseVersion`` too (``own``: this pull request's own applies)."""
    cache: dict[tuple[str, str], Sequence[VersionInfo]] = {}

    def history(change: SecretChange) -> Sequence[VersionInfo]:
        place = (change.environment, change.secret)
        if place not in cache:
            cache[place] = history_of(*place)
        return cache[place]

    problems: list[Problem] = []
    tiers: dict[str, Tier] = {}
    restores: dict[str, tuple[RestoreRow, ...]] = {}
    for change in changes:
        where = change.source or change.path
        prefix = f"document {change.document_index + 1}: " if change.document_index else ""
        if stale and change.base_version is not None:
            overtaken = stale_against(change, history(change), own=own)
            if overtaken is not None:
                problems.append(
                    Problem(where, "spec.baseVersion", prefix + overtaken.message(change))
                )
        if change.restore_version is None and not change.restore_keys:
            continue
        by_number = {v.version: v for v in history(change)}
        current = max(by_number.values(), key=lambda v: v.version, default=None)
        now = current.fingerprints if current is not None else {}
        rows, found, missing = _restore_rows(change, by_number, now)
        problems.extend(Problem(where, f, prefix + m) for f, m in missing)
        if found:
            tiers[change.path] = Tier.highest(*(v.tier for v in found))
        restores[change.path] = (*restores.get(change.path, ()), *rows)
    return VersionView(tuple(problems), frozen_map(tiers), frozen_map(restores))


def _restore_rows(
    change: SecretChange, by_number: Mapping[int, VersionInfo], now: Mapping[str, str]
) -> tuple[list[RestoreRow], list[VersionInfo], list[tuple[str, str]]]:
    rows: list[RestoreRow] = []
    found: list[VersionInfo] = []
    missing: list[tuple[str, str]] = []
    known = ", ".join(str(n) for n in sorted(by_number)) or "none: the secret does not exist"
    if change.restore_version is not None:
        number = change.restore_version
        old = by_number.get(number)
        if old is None:
            missing.append(
                (
                    "spec.restore.version",
                    f"{change.path} has no version {number} (its versions: {known}): "
                    "name one of them",
                )
            )
            return rows, found, missing
        found.append(old)
        for key in sorted(set(now) | set(old.fingerprints)):
            if key in old.fingerprints:
                rows.append(
                    RestoreRow(key, f"restore (v{number})", now.get(key), old.fingerprints[key])
                )
            else:
                rows.append(RestoreRow(key, f"delete (restore v{number})", now.get(key), None))
        return rows, found, missing
    for key, number in sorted(change.restore_keys.items()):
        old = by_number.get(number)
        field_name = f"spec.restore.keys.{key}"
        if old is None:
            missing.append(
                (field_name, f"{change.path} has no version {number} (its versions: {known})")
            )
        elif key not in old.fingerprints:
            held = [n for n, v in sorted(by_number.items()) if key in v.fingerprints]
            which = ", ".join(str(n) for n in held) or "none"
            missing.append(
                (
                    field_name,
                    f"{change.path} had no key {key} at version {number} (deleted by then, "
                    f"or not added yet); versions holding it: {which}",
                )
            )
        else:
            found.append(old)
            rows.append(
                RestoreRow(key, f"restore (v{number})", now.get(key), old.fingerprints[key])
            )
    return rows, found, missing


def with_restored_tiers(
    changes: Sequence[SecretChange],
    moves: Mapping[str, tuple[Tier, Tier]],
    restored: Mapping[str, Tier],
) -> tuple[list[SecretChange], dict[str, tuple[Tier, Tier]]]:
    """A restore is judged, and stored, at least at the tier the restored version had: a
    value once critical stays critical when it comes back."""
    out_moves = dict(moves)
    out: list[SecretChange] = []
    for change in changes:
        tier = restored.get(change.path)
        if tier is None or change.path not in out_moves:
            out.append(change)
            continue
        now, after = out_moves[change.path]
        out_moves[change.path] = (now, Tier.highest(after, tier))
        out.append(dataclasses.replace(change, tier=Tier.highest(after, tier)))
    return out, out_moves
