"""Keyed fingerprints: reviewers compare values without seeing them.

HMAC rather than a plain hash: a fingerprint of a low-entropy value shown in a public pull
request comment could otherwise be brute-forced by anyone.
"""

from __future__ import annotations

import hashlib
import hmac

FINGERPRINT_KEY_BYTES = 32
FINGERPRINT_HEX = 12


def fingerprint(fingerprint_key: bytes, value: bytes) -> str:
    return hmac.new(fingerprint_key, value, hashlib.sha256).hexdigest()[:FINGERPRINT_HEX]
