"""Unambiguous byte encodings of structured values, for associated data and MACs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """Sorted keys, no whitespace, ASCII only: one value has exactly one encoding.

    JSON quoting keeps field boundaries unambiguous (``a/b`` + ``c`` never collides with
    ``a`` + ``b/c``), which plain concatenation would not.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
