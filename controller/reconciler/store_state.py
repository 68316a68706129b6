"""The store's public state of the secrets a pull request touches: before and after it.

Only versions, tiers and the store's keyed fingerprints are read (as ``sealgate store ls``
shows them); no value is opened. Versions written by this pull request's own applies
(``own_change_ids``) are "after", never "before".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from controller.github.summary_keys import StoredSecret
from controller.model import SecretChange
from controller.store.types import VersionInfo


class StoreHistory(Protocol):
    """The store's index of applied sealed values and its histories."""

    def applied_sealed(self, env: str, digests: Sequence[str]) -> Mapping[str, str]: ...

    def history(self, env: str, secret: str) -> list[VersionInfo]: ...


class HistoryCache:
    """Reads each secret's history once per evaluation (it walks the store's commits)."""

    def __init__(self, store: StoreHistory) -> None:
        self._store = store
        self._seen: dict[tuple[str, str], list[VersionInfo]] = {}

    def applied_sealed(self, env: str, digests: Sequence[str]) -> Mapping[str, str]:
        return self._store.applied_sealed(env, digests)

    def history(self, env: str, secret: str) -> list[VersionInfo]:
        key = (env, secret)
        if key not in self._seen:
            self._seen[key] = list(self._store.history(env, secret))
        return self._seen[key]


def _state(info: VersionInfo) -> StoredSecret:
    return StoredSecret(version=info.version, tier=info.tier, fingerprints=info.fingerprints)


def store_states(
    changes: Sequence[SecretChange], store: HistoryCache, own_change_ids: frozenset[str]
) -> tuple[dict[str, StoredSecret], dict[str, StoredSecret]]:
    """``(before, after)``: per path, the newest version not written by this pull request,
    and the newest one it wrote (only once applied)."""
    before: dict[str, StoredSecret] = {}
    after: dict[str, StoredSecret] = {}
    for change in changes:
        versions = store.history(change.environment, change.secret)
        mine = [v for v in versions if v.change_id in own_change_ids]
        others = [v for v in versions if v.change_id not in own_change_ids]
        if mine:
            after[change.path] = _state(mine[0])
        # "Before" is what this pull request replaced: the newest other version older than
        # its own apply (a later change by someone else is not what this one replaced).
        if mine:
            others = [v for v in others if v.version < mine[0].version]
        if others:
            before[change.path] = _state(others[0])
    return before, after
