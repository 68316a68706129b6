"""Sealed values: ``sg1:<key id>:<base64url payload>``, opened only where they were sealed for.

Payload = ephemeral X25519 public key (32) || nonce (12) || AES-256-GCM ciphertext. The AES
key is HKDF-SHA256 over the X25519 shared secret, salted with both public keys. Associated
data binds the value to environment, secret and key, so a value pasted into another place
fails to open (Sealed Secrets does not bind the item key; sealgate does).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from controller.crypto.canonical import canonical_json
from controller.errors import Problem, SealedValueError

SCHEME = "sg1"
KEY_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_HKDF_INFO = b"sealgate sg1"
_PUBLIC_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_SEALED_PATTERN = re.compile(r"sg1:([a-z0-9][a-z0-9-]{0,62}):([A-Za-z0-9_-]+)={0,2}")


class SealedValueOpener(Protocol):
    """What opens sealed values and fingerprints plaintext for one or more environments.

    The keyring implements it from key files; tests and the store only need this shape.
    """

    def open(self, sealed: str, *, environment: str, secret: str, key: str) -> bytes:
        """The plaintext, or ``SealedValueError`` naming the place (never the value)."""
        ...

    def fingerprint(self, value: bytes, *, environment: str, secret: str, key: str) -> str:
        """The environment's keyed fingerprint of ``value`` at this secret and key (12 hex)."""
        ...


@dataclass(frozen=True, slots=True)
class SealedParts:
    key_id: str
    ephemeral_public: bytes
    nonce: bytes
    ciphertext: bytes


def binding(environment: str, secret: str, key: str) -> bytes:
    """The associated data of a sealed value: where it may be opened."""
    return canonical_json(
        {"scheme": SCHEME, "environment": environment, "secret": secret, "key": key}
    )


def new_key_id(environment: str, today: date) -> str:
    """``<env>-<yyyy>-<mm>-<4 hex>``: readable, dated, unique enough per environment."""
    stem = re.sub(r"[^a-z0-9-]+", "-", environment.lower()).strip("-")[:44] or "env"
    return f"{stem}-{today:%Y-%m}-{secrets.token_hex(2)}"


def public_key_text(private_key: X25519PrivateKey) -> str:
    """Standard base64 of the raw public key, as ``Environment.sealing_keys`` carries it."""
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_public_key(text: str, *, where: str) -> X25519PublicKey:
    try:
        raw = base64.b64decode(text, validate=True)
        return X25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise SealedValueError(
            [Problem(where, "publicKey", "must be standard base64 of a 32-byte X25519 key")]
        ) from exc


def seal(
    plaintext: bytes,
    *,
    key_id: str,
    public_key: X25519PublicKey,
    environment: str,
    secret: str,
    key: str,
) -> str:
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise SealedValueError(
            [Problem(environment, "sealingKeys.id", "key id must match [a-z0-9][a-z0-9-]{0,62}")]
        )
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    recipient = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    aes_key = _derive(ephemeral.exchange(public_key), ephemeral_public, recipient)
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = AESGCM(aes_key).encrypt(nonce, plaintext, binding(environment, secret, key))
    payload = base64.urlsafe_b64encode(ephemeral_public + nonce + ciphertext).rstrip(b"=")
    return f"{SCHEME}:{key_id}:{payload.decode()}"


def parse_sealed(sealed: str, *, where: str, field: str) -> SealedParts:
    """Split a sealed string; a malformed one is a ``SealedValueError`` naming the field."""
    match = _SEALED_PATTERN.fullmatch(sealed)
    if match is None:
        raise SealedValueError(
            [
                Problem(
                    where,
                    field,
                    "not a sealed value (expected sg1:<key id>:<payload>); seal it with "
                    "`sealgate seal` instead of pasting a plain value",
                )
            ]
        )
    key_id, encoded = match.groups()
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SealedValueError(
            [Problem(where, field, "sealed payload is not base64url; seal the value again")]
        ) from exc
    if len(raw) < _PUBLIC_BYTES + _NONCE_BYTES + _TAG_BYTES:
        raise SealedValueError(
            [Problem(where, field, "sealed payload is truncated; seal the value again")]
        )
    return SealedParts(
        key_id=key_id,
        ephemeral_public=raw[:_PUBLIC_BYTES],
        nonce=raw[_PUBLIC_BYTES : _PUBLIC_BYTES + _NONCE_BYTES],
        ciphertext=raw[_PUBLIC_BYTES + _NONCE_BYTES :],
    )


def open_parts(
    parts: SealedParts,
    private_key: X25519PrivateKey,
    *,
    environment: str,
    secret: str,
    key: str,
    where: str,
    field: str,
) -> bytes:
    """Open with the private key of ``parts.key_id``; a wrong binding says so, never the value."""
    recipient = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    try:
        peer = X25519PublicKey.from_public_bytes(parts.ephemeral_public)
        aes_key = _derive(private_key.exchange(peer), parts.ephemeral_public, recipient)
        return AESGCM(aes_key).decrypt(
            parts.nonce, parts.ciphertext, binding(environment, secret, key)
        )
    except (InvalidTag, ValueError) as exc:
        raise SealedValueError(
            [
                Problem(
                    where,
                    field,
                    f"sealed value does not open for environment {environment!r}, secret "
                    f"{secret!r}, key {key!r} with key id {parts.key_id}: it was sealed for "
                    "another environment, secret or key, or it was altered; seal it again "
                    f"with `sealgate seal --env-file environments/{environment}.yaml --secret "
                    f"{secret} --key {key}`",
                )
            ]
        ) from exc


def _derive(shared_secret: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral_public + recipient_public,
        info=_HKDF_INFO,
    ).derive(shared_secret)
