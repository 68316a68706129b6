"""Sealing, opening, fingerprints and envelope encryption (pure core, `cryptography` only).

No file or network I/O here: the keyring adapter reads key files, the store adapter writes
git objects; both hand bytes to these functions.
"""

from __future__ import annotations

from controller.crypto.check import check_sealed_values
from controller.crypto.fingerprint import fingerprint
from controller.crypto.kek import AesGcmKek, KeyEncryptionKeyProvider
from controller.crypto.keyset import KeySet, OpeningKey
from controller.crypto.replay import replay_problems, sealed_digest, sealed_digests
from controller.crypto.sealing import (
    KEY_ID_PATTERN,
    SealedValueOpener,
    load_public_key,
    new_key_id,
    public_key_text,
    seal,
)

__all__ = [
    "KEY_ID_PATTERN",
    "AesGcmKek",
    "KeyEncryptionKeyProvider",
    "KeySet",
    "OpeningKey",
    "SealedValueOpener",
    "check_sealed_values",
    "fingerprint",
    "load_public_key",
    "new_key_id",
    "public_key_text",
    "replay_problems",
    "seal",
    "sealed_digest",
    "sealed_digests",
]
