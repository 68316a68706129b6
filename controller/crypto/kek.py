"""The key-encryption-key seam: whatever wraps data keys and private keys at rest.

A local key file is the embedded default (``controller.keyring``); KMS providers implement
the same two calls. Associated data binds every wrapped key to what it is for, so a wrapped
key copied to another place fails to unwrap.
"""

from __future__ import annotations

import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from controller.errors import IntegrityError

KEK_BYTES = 32
_NONCE_BYTES = 12


class KeyEncryptionKeyProvider(Protocol):
    """Wraps and unwraps small keys. ``unwrap`` raises ``IntegrityError`` on any mismatch."""

    @property
    def key_id(self) -> str:
        """A non-secret name of the key-encryption key, recorded next to what it wraps."""
        ...

    def wrap(self, plaintext: bytes, associated_data: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, associated_data: bytes) -> bytes: ...


class AesGcmKek:
    """A key-encryption key held in memory: AES-256-GCM with a random nonce per wrap."""

    def __init__(self, key: bytes, *, key_id: str, source: str) -> None:
        if len(key) != KEK_BYTES:
            raise IntegrityError(
                f"{source}: key-encryption key must be {KEK_BYTES} bytes; restore the file "
                "from backup"
            )
        self._aead = AESGCM(key)
        self._key_id = key_id
        self._source = source

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated_data)

    def unwrap(self, wrapped: bytes, associated_data: bytes) -> bytes:
        nonce, ciphertext = wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, ciphertext, associated_data)
        except (InvalidTag, ValueError) as exc:
            raise IntegrityError(
                f"a wrapped key does not unwrap with key-encryption key {self._key_id} "
                f"({self._source}): the key-encryption key is wrong, or the wrapped key was "
                "altered or moved; use the key-encryption key this data was written with"
            ) from exc
