"""The keyed checksum of a Secret's data and the pod-template annotation that carries it.

An HMAC, not a plain hash: anyone who can read annotations (far more people than can read
Secrets) must not be able to confirm a guessed value. The encoding is length-prefixed so no
two different key sets can encode to the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

_DOMAIN = b"sealgate/kube-secret-checksum/v1\x00"
PREFIX = "hmac-sha256:"
# Annotation names (after the prefix) are limited to 63 characters; Secret names to 253.
_MAX_NAME_PART = 63


def _frame(part: bytes) -> bytes:
    return len(part).to_bytes(8, "big") + part


def canonical_encoding(data: Mapping[str, bytes]) -> bytes:
    """Sorted, length-prefixed key/value pairs."""
    out = [_DOMAIN, _frame(len(data).to_bytes(8, "big"))]
    for key in sorted(data):
        out.append(_frame(key.encode("utf-8")))
        out.append(_frame(bytes(data[key])))
    return b"".join(out)


def secret_checksum(key: bytes, data: Mapping[str, bytes]) -> str:
    if not key:
        raise ValueError("the checksum key must not be empty")
    digest = hmac.new(key, canonical_encoding(data), hashlib.sha256).hexdigest()
    return PREFIX + digest


def checksums_equal(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


def template_annotation(secret_name: str) -> str:
    """``sealgate.dev/checksum-<secret name>``, shortened with a digest when too long."""
    part = f"checksum-{secret_name}"
    if len(part) > _MAX_NAME_PART:
        suffix = hashlib.sha256(secret_name.encode()).hexdigest()[:10]
        head = part[: _MAX_NAME_PART - len(suffix) - 1].rstrip("-.")
        part = f"{head}-{suffix}"
    return f"sealgate.dev/{part}"
