"""One digest for a whole rule set: what the store records as trusted.

The rules are every YAML file under ``environments/`` and ``policies/``; the digest covers
their paths and bytes, sorted by path, each length-prefixed so no two different sets (a file
split in two, a byte moved from a path into its content) can hash alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

DIGEST_PREFIX = "sha256:"


def rules_digest(files: Mapping[str, bytes]) -> str:
    """``sha256:<hex>`` over the sorted (path, bytes) pairs of ``files``."""
    h = hashlib.sha256(b"sealgate-rules-v1\0")
    for path in sorted(files):
        name = path.encode()
        data = files[path]
        h.update(len(name).to_bytes(8, "big"))
        h.update(name)
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return DIGEST_PREFIX + h.hexdigest()
