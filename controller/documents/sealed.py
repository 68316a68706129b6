"""The textual form of a sealed value: ``sg1:<key id>:<base64url payload>``.

``sg1`` names the format version; the key id says which of the environment's sealing keys
the value was sealed to, so an environment can keep old keys during a rotation. The
payload's inner structure belongs to the crypto module; here only its outline is checked.
"""

from __future__ import annotations

import re

SEALED_PREFIX = "sg1"
KEY_ID_PATTERN = r"[a-z0-9][a-z0-9-]{0,62}"
SEALED_VALUE_RE = re.compile(rf"^{SEALED_PREFIX}:(?P<kid>{KEY_ID_PATTERN}):[A-Za-z0-9_-]+={{0,2}}$")


def is_sealed(value: str) -> bool:
    return SEALED_VALUE_RE.fullmatch(value) is not None


def sealed_key_id(value: str) -> str | None:
    """The key id of a sealed value, or None when ``value`` is not a sealed value."""
    match = SEALED_VALUE_RE.fullmatch(value)
    return match.group("kid") if match else None
