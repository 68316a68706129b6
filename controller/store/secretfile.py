"""The per-secret file ``<env>/<namespace>/<name>.yaml``: keys in clear, values sealed.

Each value is AES-256-GCM under the environment's data key with associated data binding
environment, secret, key and version; the file's MAC covers everything else, so dropping,
adding, swapping or re-dating a key, or editing the version, tier or any fingerprint, fails.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from controller.crypto.envelope import file_mac, mac_key, verify_file_mac
from controller.errors import IntegrityError
from controller.model import API_VERSION, DEFAULT_SHAPE, OPAQUE, SecretShape, Tier, frozen_map

KIND = "StoredSecret"
_MAX_FILE_BYTES = 4 * 1024 * 1024

try:
    _Loader: Any = yaml.CSafeLoader
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # PyYAML without libyaml: same results, slower
    _Loader = yaml.SafeLoader
    _Dumper = yaml.SafeDumper


@dataclass(frozen=True, slots=True)
class StoredKey:
    ciphertext: bytes
    fingerprint: str
    change_id: str
    set_at: datetime


@dataclass(frozen=True, slots=True)
class StoredSecret:
    environment: str
    secret: str
    version: int
    tier: Tier
    data_key_id: str
    change_id: str
    updated_at: datetime
    keys: Mapping[str, StoredKey]
    mac: str = ""
    shape: SecretShape = DEFAULT_SHAPE
    """Type, labels and annotations: public, but under the MAC like everything else."""

    @property
    def path(self) -> str:
        return f"{self.environment}/{self.secret}"

    def content(self) -> dict[str, Any]:
        """The MAC's input: the whole file except the MAC itself."""
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "environment": self.environment,
            "secret": self.secret,
            "version": self.version,
            "tier": self.tier.value,
            "dataKeyId": self.data_key_id,
            "changeId": self.change_id,
            "updatedAt": self.updated_at.isoformat(),
            "keys": {
                name: {
                    "ciphertext": base64.b64encode(key.ciphertext).decode(),
                    "fingerprint": key.fingerprint,
                    "changeId": key.change_id,
                    "setAt": key.set_at.isoformat(),
                }
                for name, key in sorted(self.keys.items())
            },
            # Only when set: files written before the fields existed keep their MAC.
            **_shape_fields(self.shape),
        }

    def sealed_with(self, data_key: bytes) -> StoredSecret:
        return dataclasses.replace(self, mac=file_mac(mac_key(data_key), self.content()))

    def verify(self, data_key: bytes, *, where: str) -> None:
        verify_file_mac(mac_key(data_key), self.content(), self.mac, where=where)

    def encode(self) -> bytes:
        document = {**self.content(), "mac": self.mac}
        text: str = yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=4096)
        return text.encode()


def _shape_fields(shape: SecretShape) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if shape.type != OPAQUE:
        out["type"] = shape.type
    if shape.labels:
        out["labels"] = dict(sorted(shape.labels.items()))
    if shape.annotations:
        out["annotations"] = dict(sorted(shape.annotations.items()))
    return out


def _shape_of(document: Mapping[str, Any]) -> SecretShape:
    def strings(field: str) -> Mapping[str, str]:
        return frozen_map({str(k): str(v) for k, v in dict(document.get(field) or {}).items()})

    return SecretShape(
        type=str(document.get("type", OPAQUE)),
        labels=strings("labels"),
        annotations=strings("annotations"),
    )


def file_path(environment: str, secret: str) -> str:
    return f"{environment}/{secret}.yaml"


def decode(data: bytes, *, where: str) -> StoredSecret:
    """Parse a stored file; anything malformed is an ``IntegrityError`` naming the field."""
    if len(data) > _MAX_FILE_BYTES:
        raise IntegrityError(f"{where}: stored file is larger than {_MAX_FILE_BYTES} bytes")
    try:
        document = yaml.load(data, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise IntegrityError(f"{where}: stored file is not valid YAML") from exc
    field = "document"
    try:
        if not isinstance(document, dict) or document.get("kind") != KIND:
            raise IntegrityError(f"{where}: stored file is not a {KIND}")
        keys: dict[str, StoredKey] = {}
        field = "keys"
        for name, key in dict(document["keys"]).items():
            field = f"keys.{name}"
            keys[str(name)] = StoredKey(
                ciphertext=base64.b64decode(str(key["ciphertext"]), validate=True),
                fingerprint=str(key["fingerprint"]),
                change_id=str(key["changeId"]),
                set_at=datetime.fromisoformat(str(key["setAt"])),
            )
        field = "header"
        return StoredSecret(
            environment=str(document["environment"]),
            secret=str(document["secret"]),
            version=int(document["version"]),
            tier=Tier(document["tier"]),
            data_key_id=str(document["dataKeyId"]),
            change_id=str(document["changeId"]),
            updated_at=datetime.fromisoformat(str(document["updatedAt"])),
            keys=keys,
            mac=str(document["mac"]),
            shape=_shape_of(document),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise IntegrityError(
            f"{where}: stored file field {field} is missing or malformed; restore the file "
            "from the store's history"
        ) from exc
