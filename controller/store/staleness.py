"""Whether a change was written against a version of its secret that the store has left.

A change names the version it was proposed against (``spec.baseVersion``). It is stale when
a later version changed a key it touches: applying it would overwrite that change unseen
(two pull requests on one key, the last merge silently winning). A later version that only
touched other keys of the secret is no conflict: changes are per-key operations applied on
top of the current version, so both land. A whole-secret restore touches every key, and a
base of 0 ("the secret must not exist yet") conflicts with any version at all.

Pure over the store's history (``VersionInfo``, newest first): the reconciler judges a pull
request with it, and the store checks again inside its writer lock, so of two changes that
were both fresh when judged, the second apply is refused before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from controller.errors import ConflictError
from controller.model import SecretChange
from controller.store.types import VersionInfo

_PULL = re.compile(r"[a-z0-9-]+/pr-(\d+)")


def pull_request_of(change_id: str) -> int | None:
    """The pull request a reconciler change id (``<env>/pr-<number>``) names, else None."""
    match = _PULL.fullmatch(change_id)
    return int(match.group(1)) if match else None


def describe(change_id: str) -> str:
    number = pull_request_of(change_id)
    return f"pull request #{number}" if number is not None else f"change {change_id}"


@dataclass(frozen=True, slots=True)
class Stale:
    path: str
    base: int
    current: int
    by: tuple[tuple[int, str], ...]
    """(version, change id) of every version after the base that touched the change's keys."""
    keys: tuple[str, ...]
    """The keys those versions changed that this change touches (empty: the whole secret)."""

    def message(self, change: SecretChange) -> str:
        again = (
            f"re-propose on version {self.current}: `sealgate propose --env-file "
            f"environments/{change.environment}.yaml --secret {change.secret} ... "
            f"--base-version {self.current}` (or `--store <store>` to fill it in), push it "
            "and ask for review again"
        )
        if self.base > self.current:
            return (
                f"proposed against version {self.base} of {self.path}, but the store holds "
                f"version {self.current}: the store is older than the change (restored from "
                f"a backup?); {again}"
            )
        first_version, first_id = self.by[0]
        if self.base == 0:
            return (
                f"stale: proposed for a new secret (baseVersion 0), but {describe(first_id)} "
                f"created {self.path} first (version {first_version}); the store is at "
                f"version {self.current}; {again}"
            )
        what = f"key {', '.join(self.keys)}" if self.keys else "the secret"
        later = "" if len(self.by) == 1 else f" ({len(self.by) - 1} later version(s) too)"
        return (
            f"stale: proposed against version {self.base} of {self.path}, but "
            f"{describe(first_id)} got there first and changed {what} in version "
            f"{first_version}{later}; the store is at version {self.current}. Merging this "
            f"would overwrite that change unseen: {again}"
        )


def stale_against(
    change: SecretChange, history: Sequence[VersionInfo], *, own: frozenset[str] = frozenset()
) -> Stale | None:
    """``history`` newest first. ``own``: change ids of this pull request's own applies; a
    change already applied is judged again after its apply and is not stale against itself."""
    base = change.base_version
    if base is None or any(v.change_id in own for v in history):
        return None
    current = history[0].version if history else 0
    if base == current:
        return None
    if base > current:
        return Stale(change.path, base, current, (), ())
    if base == 0:
        first = min(history, key=lambda v: v.version)
        return Stale(change.path, base, current, ((first.version, first.change_id),), ())
    by_number = {v.version: v for v in history}
    touched = None if change.restores_whole else change.keys
    hits: list[tuple[int, str]] = []
    keys: set[str] = set()
    for number in range(base + 1, current + 1):
        version = by_number.get(number)
        before = by_number.get(number - 1)
        if version is None or before is None:
            # A gap in the history: nothing says which keys it left alone.
            hits.append((number, version.change_id if version else "unknown"))
            continue
        changed = _changed_keys(before, version)
        hit = changed if touched is None else changed & touched
        if hit:
            hits.append((number, version.change_id))
            keys.update(hit)
    if not hits:
        return None
    return Stale(change.path, base, current, tuple(hits), tuple(sorted(keys)))


def _changed_keys(before: VersionInfo, after: VersionInfo) -> set[str]:
    names = set(before.fingerprints) | set(after.fingerprints)
    return {n for n in names if before.fingerprints.get(n) != after.fingerprints.get(n)}


def refuse_stale(
    changes: Sequence[SecretChange], history_of: Callable[[str, str], Sequence[VersionInfo]]
) -> None:
    """Raise :class:`ConflictError` for the first stale change; read nothing else."""
    for change in changes:
        if change.base_version is None:
            continue
        stale = stale_against(change, history_of(change.environment, change.secret))
        if stale is not None:
            raise ConflictError(
                f"{change.source or change.path}: spec.baseVersion: {stale.message(change)}; "
                "nothing was applied"
            )
