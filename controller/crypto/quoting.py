"""Whether a person's text (a reason) quotes a value, as it is or in a common encoding.

Used where a value is open anyway: judging a pull request (the change is refused before it
can merge) and applying it (the store withholds the reason from its records). Nothing here
keeps, returns or formats a value.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

MIN_QUOTED_BYTES = 6
"""Values shorter than this are not looked for: a reason mentioning ``true``, ``prod`` or a
port would be refused for nothing, and no credential is that short."""

QUOTED_MESSAGE = (
    "quotes the value of spec.set.{key} (not shown here); a reason is shown to reviewers "
    "and kept in the audit log, so it must not hold a value: reword it, and if the value is "
    "a credential seal a new one, since this one is in git history now"
)


def _forms(value: bytes) -> tuple[list[bytes], list[bytes]]:
    """(forms found as they are, lower-case hex found case-insensitively)."""
    encoded = base64.b64encode(value)
    exact = [value, encoded.rstrip(b"="), base64.urlsafe_b64encode(value).rstrip(b"=")]
    return exact, [value.hex().encode()]


def quotes_any(text: str, values: Iterable[bytes]) -> bool:
    raw = text.encode()
    lowered = raw.lower()
    for value in values:
        if len(value) < MIN_QUOTED_BYTES:
            continue
        exact, hexes = _forms(value)
        if any(f in raw for f in exact) or any(f in lowered for f in hexes):
            return True
    return False
