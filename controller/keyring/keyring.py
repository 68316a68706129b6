"""Environment key pairs and fingerprint keys in a key directory, wrapped by the KEK.

Layout (every file 0600, every directory 0700)::

    <key dir>/kek.key                          the local key-encryption key (default provider)
    <key dir>/<env>/sealing-<key id>.json      one X25519 key pair: public key, wrapped
                                               private key, created time, status
    <key dir>/<env>/fingerprint.json           the wrapped HMAC key for fingerprints

Retired keys stay on disk (their status says so) but no longer open anything.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from controller.crypto import KeyEncryptionKeyProvider, KeySet, OpeningKey, new_key_id
from controller.crypto.canonical import canonical_json
from controller.crypto.fingerprint import FINGERPRINT_KEY_BYTES
from controller.crypto.rewrap import staged_wrap
from controller.crypto.sealing import public_key_text
from controller.errors import InputError, IntegrityError, Problem
from controller.keyring.files import ensure_private_dir, write_private

ENVIRONMENT_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_FINGERPRINT_FILE = "fingerprint.json"


class KeyStatus(enum.StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """Public facts about one sealing key: never private material."""

    environment: str
    key_id: str
    created: datetime
    status: KeyStatus
    public_key: str


class Keyring:
    """Creates, rotates, retires and loads keys; implements ``SealedValueOpener``."""

    def __init__(self, key_dir: Path, kek: KeyEncryptionKeyProvider) -> None:
        self.key_dir = key_dir
        self._kek = kek
        self._loaded: KeySet | None = None

    # ------------------------------------------------------------------ management

    def init(self, environment: str, *, now: datetime | None = None) -> KeyInfo:
        self._check_environment(environment)
        if self.list_keys(environment):
            raise InputError(
                [
                    Problem(
                        str(self.key_dir / environment),
                        "",
                        f"environment {environment!r} already has sealing keys; use "
                        "`sealgate keys rotate` to add a new one",
                    )
                ]
            )
        self._write_fingerprint_key(environment)
        return self._create_key(environment, now or datetime.now(UTC))

    def rotate(self, environment: str, *, now: datetime | None = None) -> KeyInfo:
        """A new active key, listed first; older keys keep opening until retired."""
        self._check_environment(environment)
        if not self.list_keys(environment):
            raise InputError(
                [
                    Problem(
                        str(self.key_dir / environment),
                        "",
                        f"environment {environment!r} has no keys; run `sealgate keys init` first",
                    )
                ]
            )
        return self._create_key(environment, now or datetime.now(UTC))

    def retire(self, environment: str, key_id: str) -> KeyInfo:
        self._check_environment(environment)
        keys = {info.key_id: info for info in self.list_keys(environment)}
        info = keys.get(key_id)
        if info is None:
            raise InputError(
                [
                    Problem(
                        str(self.key_dir / environment),
                        "key id",
                        f"no key {key_id!r} in environment {environment!r}; see "
                        "`sealgate keys list`",
                    )
                ]
            )
        others_active = [k for k in keys.values() if k.key_id != key_id and _active(k)]
        if _active(info) and not others_active:
            raise InputError(
                [
                    Problem(
                        str(self._key_path(environment, key_id)),
                        "status",
                        "cannot retire the only active key; run `sealgate keys rotate` first",
                    )
                ]
            )
        path = self._key_path(environment, key_id)
        record = self._read_json(path)
        record["status"] = KeyStatus.RETIRED.value
        write_private(path, _dump(record))
        self._loaded = None
        return self._info(record, path)

    def list_keys(self, environment: str | None = None) -> list[KeyInfo]:
        """Newest first within each environment, environments in name order."""
        infos = [self._info(self._read_json(p), p) for p in self._key_files(environment)]
        return sorted(infos, key=lambda i: (i.environment, -i.created.timestamp(), i.key_id))

    # ------------------------------------------------------------------ opening

    def key_set(self) -> KeySet:
        """Every key unwrapped once, in memory; reloaded after any change here."""
        if self._loaded is None:
            keys: dict[str, OpeningKey] = {}
            fingerprint_keys: dict[str, bytes] = {}
            for path in self._key_files(None):
                record = self._read_json(path)
                info = self._info(record, path)
                raw = self._kek.unwrap(
                    self._wrapped(record, "wrappedPrivateKey", path),
                    _private_binding(info.environment, info.key_id),
                )
                keys[info.key_id] = OpeningKey(
                    environment=info.environment,
                    key_id=info.key_id,
                    private_key=X25519PrivateKey.from_private_bytes(raw),
                    retired=info.status is KeyStatus.RETIRED,
                )
            for env_dir in self._environment_dirs():
                path = env_dir / _FINGERPRINT_FILE
                if path.exists():
                    record = self._read_json(path)
                    fingerprint_keys[env_dir.name] = self._kek.unwrap(
                        self._wrapped(record, "wrappedKey", path),
                        _fingerprint_binding(env_dir.name),
                    )
            self._loaded = KeySet(keys, fingerprint_keys)
        return self._loaded

    def open(self, sealed: str, *, environment: str, secret: str, key: str) -> bytes:
        return self.key_set().open(sealed, environment=environment, secret=secret, key=key)

    def fingerprint(
        self, value: bytes, *, environment: str, secret: str, key: str, context: str = ""
    ) -> str:
        return self.key_set().fingerprint(
            value, environment=environment, secret=secret, key=key, context=context
        )

    def _wrapped(self, record: dict[str, Any], field: str, path: Path) -> bytes:
        # Mid-rotation a record also holds a wrap by the new KEK (controller.crypto.rewrap).
        return staged_wrap(record, self._kek.key_id) or _b64(record, field, path)

    def wrapped_files(self) -> list[tuple[Path, str, bytes]]:
        """(file, field, binding) of every key this directory holds wrapped by the KEK,
        for a KEK rotation."""
        found = [
            (path, "wrappedPrivateKey", _private_binding(info.environment, info.key_id))
            for path in self._key_files(None)
            for info in [self._info(self._read_json(path), path)]
        ]
        for env_dir in self._environment_dirs():
            path = env_dir / _FINGERPRINT_FILE
            if path.exists():
                found.append((path, "wrappedKey", _fingerprint_binding(env_dir.name)))
        return found

    # ------------------------------------------------------------------ files

    def _create_key(self, environment: str, now: datetime) -> KeyInfo:
        private_key = X25519PrivateKey.generate()
        key_id = new_key_id(environment, now.date())
        while self._key_path(environment, key_id).exists():
            key_id = new_key_id(environment, now.date())
        raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        record = {
            "environment": environment,
            "id": key_id,
            "created": now.astimezone(UTC).isoformat(),
            "status": KeyStatus.ACTIVE.value,
            "publicKey": public_key_text(private_key),
            "kek": self._kek.key_id,
            "wrappedPrivateKey": base64.b64encode(
                self._kek.wrap(raw, _private_binding(environment, key_id))
            ).decode(),
        }
        path = self._key_path(environment, key_id)
        write_private(path, _dump(record))
        self._loaded = None
        return self._info(record, path)

    def _write_fingerprint_key(self, environment: str) -> None:
        path = self.key_dir / environment / _FINGERPRINT_FILE
        if path.exists():
            return
        record = {
            "environment": environment,
            "kek": self._kek.key_id,
            "wrappedKey": base64.b64encode(
                self._kek.wrap(os.urandom(FINGERPRINT_KEY_BYTES), _fingerprint_binding(environment))
            ).decode(),
        }
        write_private(path, _dump(record))

    def _environment_dirs(self) -> Iterator[Path]:
        if not self.key_dir.is_dir():
            return
        for child in sorted(self.key_dir.iterdir()):
            if child.is_dir() and ENVIRONMENT_PATTERN.fullmatch(child.name):
                yield child

    def _key_files(self, environment: str | None) -> list[Path]:
        if environment is not None:
            self._check_environment(environment)
            dirs = [self.key_dir / environment]
        else:
            dirs = list(self._environment_dirs())
        return [p for d in dirs if d.is_dir() for p in sorted(d.glob("sealing-*.json"))]

    def _key_path(self, environment: str, key_id: str) -> Path:
        return self.key_dir / environment / f"sealing-{key_id}.json"

    def _check_environment(self, environment: str) -> None:
        if not ENVIRONMENT_PATTERN.fullmatch(environment):
            raise InputError(
                [Problem("--env", "", "environment name must match [a-z0-9][a-z0-9-]{0,62}")]
            )
        ensure_private_dir(self.key_dir)

    @staticmethod
    def _read_json(path: Path) -> dict[str, Any]:
        try:
            record = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise IntegrityError(f"{path}: key file is unreadable; restore it from backup") from exc
        if not isinstance(record, dict):
            raise IntegrityError(f"{path}: key file is not a JSON object; restore it from backup")
        return record

    @staticmethod
    def _info(record: dict[str, Any], path: Path) -> KeyInfo:
        try:
            return KeyInfo(
                environment=str(record["environment"]),
                key_id=str(record["id"]),
                created=datetime.fromisoformat(str(record["created"])),
                status=KeyStatus(record["status"]),
                public_key=str(record["publicKey"]),
            )
        except (KeyError, ValueError) as exc:
            raise IntegrityError(
                f"{path}: key file lacks environment, id, created, status or publicKey; "
                "restore it from backup"
            ) from exc


def _active(info: KeyInfo) -> bool:
    return info.status is KeyStatus.ACTIVE


def _private_binding(environment: str, key_id: str) -> bytes:
    return canonical_json({"purpose": "sealing-key", "environment": environment, "id": key_id})


def _fingerprint_binding(environment: str) -> bytes:
    return canonical_json({"purpose": "fingerprint-key", "environment": environment})


def _b64(record: dict[str, Any], field: str, path: Path) -> bytes:
    try:
        return base64.b64decode(str(record[field]), validate=True)
    except (KeyError, binascii.Error, ValueError) as exc:
        raise IntegrityError(
            f"{path}: field {field} is missing or not base64; restore the file from backup"
        ) from exc


def _dump(record: dict[str, Any]) -> bytes:
    return json.dumps(record, indent=2, sort_keys=True).encode() + b"\n"
