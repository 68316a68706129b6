"""Envelope encryption for the store: values under a data key, a MAC over each file.

The data key is wrapped by the key-encryption key elsewhere; here it is plain bytes in
memory. The MAC key is derived from the data key so one wrapped secret protects both.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from controller.crypto.canonical import canonical_json
from controller.errors import IntegrityError

DATA_KEY_BYTES = 32
_NONCE_BYTES = 12


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def data_key_binding(environment: str, data_key_id: str) -> bytes:
    """Associated data of a wrapped data key: which environment and which key it is."""
    return canonical_json({"purpose": "data-key", "environment": environment, "id": data_key_id})


def value_binding(environment: str, secret: str, key: str, version: int) -> bytes:
    """Associated data of a stored value: a value moved or replayed elsewhere fails."""
    return canonical_json(
        {"environment": environment, "secret": secret, "key": key, "version": version}
    )


def encrypt_value(data_key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, associated_data)


def decrypt_value(
    data_key: bytes, ciphertext: bytes, associated_data: bytes, *, where: str
) -> bytes:
    try:
        return AESGCM(data_key).decrypt(
            ciphertext[:_NONCE_BYTES], ciphertext[_NONCE_BYTES:], associated_data
        )
    except (InvalidTag, ValueError) as exc:
        raise IntegrityError(
            f"{where}: stored value fails authentication: it was altered, or moved from "
            "another key, secret, environment or version; restore the file from the store's "
            "history (`sealgate store history`)"
        ) from exc


def mac_key(data_key: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"sealgate store file mac"
    ).derive(data_key)


def file_mac(key: bytes, content: Mapping[str, Any]) -> str:
    return hmac.new(key, canonical_json(content), hashlib.sha256).hexdigest()


def verify_file_mac(key: bytes, content: Mapping[str, Any], expected: str, *, where: str) -> None:
    if not hmac.compare_digest(file_mac(key, content), expected):
        raise IntegrityError(
            f"{where}: file MAC does not match its content: a key was dropped, added, "
            "swapped or edited, or the version was changed; restore the file from the "
            "store's history"
        )
