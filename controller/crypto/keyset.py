"""Opening keys held in memory: the pure half of a keyring.

The keyring adapter reads key files and hands their contents here; tests build one directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from controller.crypto.fingerprint import fingerprint
from controller.crypto.sealing import open_parts, parse_sealed
from controller.errors import Problem, SealedValueError


@dataclass(frozen=True, slots=True)
class OpeningKey:
    environment: str
    key_id: str
    private_key: X25519PrivateKey
    retired: bool = False


class KeySet:
    """Implements ``SealedValueOpener`` over keys already unwrapped."""

    def __init__(
        self, keys: Mapping[str, OpeningKey], fingerprint_keys: Mapping[str, bytes]
    ) -> None:
        self._keys = dict(keys)
        self._fingerprint_keys = dict(fingerprint_keys)

    def open(self, sealed: str, *, environment: str, secret: str, key: str) -> bytes:
        where = f"{environment}/{secret}"
        field = f"spec.set.{key}"
        parts = parse_sealed(sealed, where=where, field=field)
        opening = self._keys.get(parts.key_id)
        if opening is None or opening.environment != environment:
            raise SealedValueError(
                [
                    Problem(
                        where,
                        field,
                        f"key id {parts.key_id} is not a sealing key of environment "
                        f"{environment!r}; seal the value with a key listed in "
                        f"environments/{environment}.yaml",
                    )
                ]
            )
        if opening.retired:
            raise SealedValueError(
                [
                    Problem(
                        where,
                        field,
                        f"key id {parts.key_id} of environment {environment!r} is retired; "
                        "seal the value again with the environment's current key",
                    )
                ]
            )
        return open_parts(
            parts,
            opening.private_key,
            environment=environment,
            secret=secret,
            key=key,
            where=where,
            field=field,
        )

    def fingerprint(
        self, value: bytes, *, environment: str, secret: str, key: str, context: str = ""
    ) -> str:
        fingerprint_key = self._fingerprint_keys.get(environment)
        if fingerprint_key is None:
            raise SealedValueError(
                [
                    Problem(
                        environment,
                        "",
                        f"no fingerprint key for environment {environment!r}; run "
                        f"`sealgate keys init --env {environment}` on the controller",
                    )
                ]
            )
        return fingerprint(
            fingerprint_key,
            value,
            environment=environment,
            secret=secret,
            key=key,
            context=context,
        )
