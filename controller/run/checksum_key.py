"""The key of the checksums sealgate writes on pod templates (``sealgate.dev/checksum-*``).

It must be the same on every replica and across restarts: a different key changes every
checksum, and the next sync would restart every workload at once (the mass restart after a
failover that Reloader is known for). So it lives in the key directory every replica
already shares, as ``<keys.dir>/checksum-key.json``: 32 random bytes wrapped by the
key-encryption key, bound to their purpose, created on the first start.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path

from controller.crypto import KeyEncryptionKeyProvider
from controller.crypto.rewrap import staged_wrap
from controller.errors import IntegrityError
from controller.keyring.files import write_private
from controller.keyring.layout import CHECKSUM_KEY_BINDING, CHECKSUM_KEY_FILE

FILE_NAME = CHECKSUM_KEY_FILE
_BINDING = CHECKSUM_KEY_BINDING

KEY_BYTES = 32


def checksum_key(key_dir: Path, kek: KeyEncryptionKeyProvider) -> bytes:
    path = key_dir / FILE_NAME
    if not path.exists():
        key = os.urandom(KEY_BYTES)
        record = {
            "purpose": "sealgate pod-template checksums",
            "kek": kek.key_id,
            "wrappedKey": base64.b64encode(kek.wrap(key, _BINDING)).decode(),
        }
        try:
            write_private(path, (json.dumps(record, indent=2) + "\n").encode())
        except OSError as exc:
            raise IntegrityError(
                f"{path}: cannot create the checksum key ({exc.strerror}); make the key "
                "directory writable for the first start, or copy the file from another replica"
            ) from exc
        return key
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        wrapped = base64.b64decode(record["wrappedKey"], validate=True)
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise IntegrityError(
            f"{path}: the checksum key file is unreadable or malformed; restore it from "
            "backup or another replica (deleting it restarts every managed workload once)"
        ) from exc
    # Mid-rotation the file also holds a wrap by the new KEK (controller.crypto.rewrap).
    return kek.unwrap(staged_wrap(record, kek.key_id) or wrapped, _BINDING)
