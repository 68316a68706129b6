"""Names in the key directory that more than the keyring reads."""

from __future__ import annotations

CHECKSUM_KEY_FILE = "checksum-key.json"
"""The pod-template checksum key (``controller.run.checksum_key``), wrapped by the KEK."""
CHECKSUM_KEY_BINDING = b"sealgate/kube-checksum-key/v1"
