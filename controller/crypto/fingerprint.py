"""Keyed fingerprints: reviewers compare values without seeing them.

HMAC rather than a plain hash: a fingerprint of a low-entropy value shown in a public pull
request comment could otherwise be brute-forced by anyone. The place (environment, secret,
key) is part of the input as well: were it not, anyone who may open pull requests could seal
many guesses under a throw-away secret, read their fingerprints from the bot's comment and
match them against the one shown for the real secret. Bound to the place, the same value has
an unrelated fingerprint anywhere else, so guesses elsewhere reveal nothing.

What a pull request shows is bound to that pull request as well (``context``): a guess
sealed for the real place in a pull request of the attacker's own would otherwise show the
same fingerprint as the real value did in the pull request that set it, one guess per pull
request. The store keeps the context-free fingerprint, which only operators see.
"""

from __future__ import annotations

import hashlib
import hmac

from controller.crypto.canonical import canonical_json

FINGERPRINT_KEY_BYTES = 32
FINGERPRINT_HEX = 12
_SCHEME = "sealgate-fingerprint-v2"


def fingerprint_input(
    *, environment: str, secret: str, key: str, value: bytes, context: str = ""
) -> bytes:
    """A length-prefixed canonical header naming the place (and the context), then the value.

    The prefix fixes where the header ends, so no (place, value) pair can encode like another.
    An empty context is left out, so the store's fingerprints keep their meaning.
    """
    fields = {"scheme": _SCHEME, "environment": environment, "secret": secret, "key": key}
    if context:
        fields["context"] = context
    header = canonical_json(fields)
    return len(header).to_bytes(4, "big") + header + value


def fingerprint(
    fingerprint_key: bytes,
    value: bytes,
    *,
    environment: str,
    secret: str,
    key: str,
    context: str = "",
) -> str:
    message = fingerprint_input(
        environment=environment, secret=secret, key=key, value=value, context=context
    )
    return hmac.new(fingerprint_key, message, hashlib.sha256).hexdigest()[:FINGERPRINT_HEX]
