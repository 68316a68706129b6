"""What the store holds for the secrets one pass names, read on first use and kept for it.

A pass used to read the whole store (every file parsed and MAC-checked) to learn the tier
and shape of the few secrets its documents name: its cost and its memory grew with the
store, not with the pull request. ``StoredSecrets`` reads one secret at a time, when the
judgement first asks for it, and remembers the answer (a miss too) for the rest of the
pass. Make a new one per pass (one thread): it never notices later applies.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from controller.model import Tier
from controller.store.types import SecretInfo

_V_co = TypeVar("_V_co", covariant=True)


class Lookup(Protocol[_V_co]):
    """What ``assess`` needs of the store's view: one path at a time (a dict will do)."""

    def get(self, path: str, /) -> _V_co | None: ...


class SecretReader(Protocol):
    """``controller.store.Store.secret_info``, as the reconciler's ``StorePort`` offers it."""

    def secret_info(self, env: str, secret: str) -> SecretInfo | None: ...


class StoredSecrets:
    """``env/namespace/name`` -> the store's ``SecretInfo``, read lazily and memoised."""

    def __init__(self, store: SecretReader) -> None:
        self._store = store
        self._seen: dict[str, SecretInfo | None] = {}
        self.tiers: Lookup[Tier] = _Tiers(self)
        """The same view, giving only each secret's stored tier."""

    def get(self, path: str, /) -> SecretInfo | None:
        if path not in self._seen:
            env, _, secret = path.partition("/")
            self._seen[path] = self._store.secret_info(env, secret) if env and secret else None
        return self._seen[path]

    @property
    def paths_read(self) -> frozenset[str]:
        """Every path this view has asked the store about (found or not)."""
        return frozenset(self._seen)


class _Tiers:
    def __init__(self, secrets: StoredSecrets) -> None:
        self._secrets = secrets

    def get(self, path: str, /) -> Tier | None:
        info = self._secrets.get(path)
        return None if info is None else info.tier
