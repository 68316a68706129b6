"""A sealed value is applied once: its digest, and the check against digests already applied.

The digest is SHA-256 over the decoded payload (ephemeral public key, nonce, ciphertext),
not over the text: base64 has several spellings of one payload (padding, unused low bits),
and the key id is only a label, so hashing the text would let a copied value pass as new.
Every part of the payload is bound by HKDF or AES-GCM, so no other payload opens to the
same value unnoticed. A digest of a ciphertext says nothing about the value inside it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence

from controller.crypto.sealing import parse_sealed
from controller.errors import Problem, SealedValueError
from controller.model import SecretChange

_DOMAIN = b"sealgate applied sealed value v1\x00"


def sealed_digest(sealed: str) -> str | None:
    """Hex SHA-256 of the sealed payload; None when ``sealed`` is not a sealed value."""
    try:
        parts = parse_sealed(sealed, where="", field="")
    except SealedValueError:
        return None
    payload = parts.ephemeral_public + parts.nonce + parts.ciphertext
    return hashlib.sha256(_DOMAIN + payload).hexdigest()


def sealed_digests(change: SecretChange) -> Iterator[tuple[str, str]]:
    """``(key, digest)`` for every parseable sealed value ``change`` sets."""
    for key, sealed in sorted(change.set.items()):
        digest = sealed_digest(sealed)
        if digest is not None:
            yield key, digest


def replay_problems(
    changes: Sequence[SecretChange], applied: Mapping[tuple[str, str], str]
) -> list[Problem]:
    """One problem per sealed value whose digest ``applied`` knows.

    ``applied`` maps ``(environment, digest)`` to the change id that applied it, leaving out
    the change ids of the pull request being judged (its own apply is not a replay).
    """
    problems: list[Problem] = []
    for change in changes:
        prefix = f"document {change.document_index + 1}: " if change.document_index else ""
        for key, digest in sealed_digests(change):
            earlier = applied.get((change.environment, digest))
            if earlier is None:
                continue
            problems.append(
                Problem(
                    change.source or change.path,
                    f"spec.set.{key}",
                    f"{prefix}this sealed value was already applied (by {earlier}): a sealed "
                    "value is applied once, so one copied from history cannot bring an old "
                    "value back; seal the value again with `sealgate seal --env-file "
                    f"environments/{change.environment}.yaml --secret {change.secret} --key "
                    f"{key}`",
                )
            )
    return problems
