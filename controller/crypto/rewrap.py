"""A wrapped key mid-way through a key-encryption-key rotation (``sealgate keys rewrap``).

While a rotation runs, every record that holds a wrapped key also carries the same key
wrapped by the *new* KEK under ``rewrap: {kek: <new id>, wrapped: <base64>}``, beside its
own wrap by the old one. A reader asks for the wrap of the KEK it holds: the old KEK keeps
using the record's own field, the new one the staged wrap. So a crash at any point of the
rotation leaves a state one of the two KEKs opens completely.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

REWRAP_FIELD = "rewrap"


def staged_wrap(record: Mapping[str, Any], kek_id: str) -> bytes | None:
    """The wrap a rotation staged for ``kek_id``, or None (then use the record's own)."""
    staged = record.get(REWRAP_FIELD)
    if not isinstance(staged, Mapping) or staged.get("kek") != kek_id:
        return None
    try:
        return base64.b64decode(str(staged["wrapped"]), validate=True)
    except (KeyError, binascii.Error, ValueError):
        return None


def staged_entry(kek_id: str, wrapped: bytes) -> dict[str, str]:
    return {"kek": kek_id, "wrapped": base64.b64encode(wrapped).decode()}
