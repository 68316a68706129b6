"""Per-environment data keys, kept in the store wrapped by the key-encryption key.

``.sealgate/datakeys/<env>.json`` holds the key id and the wrapped key; the wrap's associated
data names the environment and the id, so a record copied to another environment, or another
store's record, fails to unwrap. Unwrapped keys are cached in memory by the record's content.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from controller.crypto import KeyEncryptionKeyProvider
from controller.crypto.envelope import data_key_binding, new_data_key
from controller.crypto.rewrap import staged_wrap
from controller.errors import IntegrityError
from controller.store.gitobjects import GitObjects

DATAKEYS_ROOT = ".sealgate/datakeys"


def data_key_path(env: str) -> str:
    return f"{DATAKEYS_ROOT}/{env}.json"


class DataKeys:
    def __init__(self, git: GitObjects, kek: KeyEncryptionKeyProvider) -> None:
        self._git = git
        self._kek = kek
        self._records: dict[bytes, dict[str, Any]] = {}
        self._keys: dict[bytes, bytes] = {}

    def current(self, tree: bytes | None, env: str) -> tuple[str, bytes, dict[str, bytes]]:
        """(id, key, files to commit): the environment's data key, created on first use."""
        path = data_key_path(env)
        if self._git.lookup(tree, path) is not None:
            data_key_id = str(self._record(tree, env)["id"])
            return data_key_id, self.by_id(tree, env, data_key_id), {}
        data_key_id = f"dk-{secrets.token_hex(6)}"
        wrapped = self._kek.wrap(new_data_key(), data_key_binding(env, data_key_id))
        record = {
            "environment": env,
            "id": data_key_id,
            "kek": self._kek.key_id,
            "wrapped": wrapped.hex(),
        }
        content = json.dumps(record, sort_keys=True, indent=2).encode()
        # Unwrap what will be stored, so a provider that cannot read its own wrap fails now.
        data_key = self._kek.unwrap(wrapped, data_key_binding(env, data_key_id))
        return data_key_id, data_key, {path: content}

    def by_id(self, tree: bytes | None, env: str, data_key_id: str) -> bytes:
        """The key a file names; a file naming another key was moved from elsewhere."""
        record = self._record(tree, env)
        if str(record["id"]) != data_key_id:
            raise IntegrityError(
                f"{data_key_path(env)}: holds data key {record['id']} but a file was written "
                f"with {data_key_id}: the file was moved from another environment or store"
            )
        # Mid-rotation the record also holds a wrap by the new KEK (controller.crypto.rewrap).
        wrapped = staged_wrap(record, self._kek.key_id) or bytes.fromhex(str(record["wrapped"]))
        cache_key = hashlib.sha256(env.encode() + b"\0" + data_key_id.encode() + wrapped).digest()
        data_key = self._keys.get(cache_key)
        if data_key is None:
            data_key = self._kek.unwrap(wrapped, data_key_binding(env, data_key_id))
            self._keys[cache_key] = data_key
        return data_key

    def record(self, tree: bytes | None, env: str) -> dict[str, Any]:
        """The environment's data key record as stored (for a KEK rotation)."""
        return dict(self._record(tree, env))

    def _record(self, tree: bytes | None, env: str) -> dict[str, Any]:
        path = data_key_path(env)
        entry = self._git.lookup(tree, path)
        if entry is None:
            raise IntegrityError(
                f"{path}: the environment's data key is missing; restore it from the store's "
                "history"
            )
        cached = self._records.get(entry[0])
        if cached is not None:
            return cached
        try:
            record = json.loads(self._git.read_blob(entry[0]))
            if not isinstance(record, dict):
                raise TypeError("not an object")
            str(record["id"])
            bytes.fromhex(str(record["wrapped"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(
                f"{path}: data key record is malformed (needs id and wrapped); restore it from "
                "the store's history"
            ) from exc
        self._records[entry[0]] = record
        return record
