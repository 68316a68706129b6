"""Values sealed by the controller to one caller's fresh key: the answer of ``POST /v1/open``.

``sgc1:<base64url payload>``, payload = ephemeral X25519 public key (32) || nonce (12) ||
AES-256-GCM ciphertext, the AES key derived with HKDF-SHA256 as in
:mod:`controller.crypto.sealing` (salted with both public keys, its own ``info`` so a key
derived for one scheme never serves the other). The plaintext is canonical JSON of the
granted keys and their base64 values.

Associated data binds the box to the grant, environment, secret and the caller's request
nonce: an answer replayed to another request, or relabelled as another grant's or secret's,
fails to open. The caller makes a key pair per request and keeps it in memory only, so a
recorded answer is useless once that process is gone.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from controller.crypto.canonical import canonical_json
from controller.errors import Problem, SealedValueError

SCHEME = "sgc1"
_HKDF_INFO = b"sealgate sgc1 caller box"
_PUBLIC_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_BOX = re.compile(r"sgc1:([A-Za-z0-9_-]+)={0,2}")
REQUEST_NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}")
"""A request nonce as the body carries it: url-safe, long enough to be unique per request."""


def new_request_nonce() -> str:
    return base64.urlsafe_b64encode(os.urandom(18)).decode()


def new_caller_key() -> X25519PrivateKey:
    """A fresh key pair for one request; never written anywhere."""
    return X25519PrivateKey.generate()


def caller_public_text(private_key: X25519PrivateKey) -> str:
    """Standard base64 of the raw public key, as ``publicKey`` in the request body."""
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_caller_key(text: str) -> X25519PublicKey:
    """The caller's public key from ``publicKey``; ``SealedValueError`` naming the field."""
    try:
        raw = base64.b64decode(text, validate=True)
        key = X25519PublicKey.from_public_bytes(raw)
        # A low-order point (all zeros, and a few others) gives an all-zero shared secret,
        # which cannot be sealed to: refuse it here, before any grant is used for it.
        X25519PrivateKey.generate().exchange(key)
        return key
    except (binascii.Error, ValueError) as exc:
        raise SealedValueError(
            [
                Problem(
                    "request body", "publicKey", "must be standard base64 of a 32-byte X25519 key"
                )
            ]
        ) from exc


def caller_binding(*, grant_id: str, environment: str, secret: str, nonce: str) -> bytes:
    """The associated data of a caller box: which answer to which request it is."""
    return canonical_json(
        {
            "scheme": SCHEME,
            "grant": grant_id,
            "environment": environment,
            "secret": secret,
            "nonce": nonce,
        }
    )


def seal_for_caller(
    values: Mapping[str, bytes],
    public_key: X25519PublicKey,
    *,
    grant_id: str,
    environment: str,
    secret: str,
    nonce: str,
) -> str:
    """``values`` sealed to ``public_key``; the plaintext exists only inside this call."""
    document = {key: base64.b64encode(value).decode() for key, value in values.items()}
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    recipient = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    aes_key = _derive(ephemeral.exchange(public_key), ephemeral_public, recipient)
    aes_nonce = os.urandom(_NONCE_BYTES)
    associated = caller_binding(
        grant_id=grant_id, environment=environment, secret=secret, nonce=nonce
    )
    ciphertext = AESGCM(aes_key).encrypt(aes_nonce, canonical_json(document), associated)
    payload = base64.urlsafe_b64encode(ephemeral_public + aes_nonce + ciphertext).rstrip(b"=")
    return f"{SCHEME}:{payload.decode()}"


def open_for_caller(
    box: str,
    private_key: X25519PrivateKey,
    *,
    grant_id: str,
    environment: str,
    secret: str,
    nonce: str,
) -> dict[str, bytes]:
    """The values in ``box``; ``SealedValueError`` when it is malformed, altered, sealed to
    another key or bound to another grant, secret or request (never showing any of it)."""
    raw = _payload(box)
    ephemeral_public = raw[:_PUBLIC_BYTES]
    aes_nonce = raw[_PUBLIC_BYTES : _PUBLIC_BYTES + _NONCE_BYTES]
    ciphertext = raw[_PUBLIC_BYTES + _NONCE_BYTES :]
    recipient = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    associated = caller_binding(
        grant_id=grant_id, environment=environment, secret=secret, nonce=nonce
    )
    try:
        peer = X25519PublicKey.from_public_bytes(ephemeral_public)
        aes_key = _derive(private_key.exchange(peer), ephemeral_public, recipient)
        plaintext = AESGCM(aes_key).decrypt(aes_nonce, ciphertext, associated)
    except (InvalidTag, ValueError) as exc:
        raise SealedValueError(
            [
                Problem(
                    "controller answer",
                    "sealed",
                    f"does not open for grant {grant_id!r}, {environment}/{secret} and this "
                    "request: it was sealed to another key or request, or altered on the way; "
                    "ask again",
                )
            ]
        ) from exc
    try:
        document = json.loads(plaintext)
        if not isinstance(document, dict):
            raise TypeError("not an object")
        return {
            str(key): base64.b64decode(str(value), validate=True) for key, value in document.items()
        }
    except (ValueError, TypeError, binascii.Error) as exc:
        raise SealedValueError(
            [Problem("controller answer", "sealed", "opened but is not a set of values; ask again")]
        ) from exc


def _payload(box: str) -> bytes:
    match = _BOX.fullmatch(box)
    if match is None:
        raise SealedValueError(
            [Problem("controller answer", "sealed", f"not a {SCHEME} box; is this a sealgate?")]
        )
    encoded = match.group(1)
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SealedValueError(
            [Problem("controller answer", "sealed", "payload is not base64url; ask again")]
        ) from exc
    if len(raw) < _PUBLIC_BYTES + _NONCE_BYTES + _TAG_BYTES:
        raise SealedValueError([Problem("controller answer", "sealed", "truncated; ask again")])
    return raw


def _derive(shared_secret: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral_public + recipient_public,
        info=_HKDF_INFO,
    ).derive(shared_secret)
