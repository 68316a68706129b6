"""The embedded key-encryption-key provider: one 32-byte key in a 0600 file.

Generated on first use by ``sealgate keys init``. Everything else refuses to invent a new
one: a fresh key cannot unwrap what the old one wrapped, so a missing file is an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from pathlib import Path

from controller.crypto import AesGcmKek
from controller.crypto.kek import KEK_BYTES
from controller.errors import IntegrityError
from controller.keyring.files import write_private

KEK_FILE_NAME = "kek.key"


class LocalKekFile:
    """``KeyEncryptionKeyProvider`` backed by ``<key dir>/kek.key``."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        if not path.exists():
            if not create:
                raise IntegrityError(
                    f"{path}: key-encryption key file is missing; restore it from backup "
                    "(a new one cannot open what the old one wrapped), or run "
                    "`sealgate keys init` for a new installation"
                )
            write_private(path, base64.b64encode(os.urandom(KEK_BYTES)) + b"\n")
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise IntegrityError(
                f"{path}: key-encryption key file is readable by others (mode {mode:o}); "
                f"run `chmod 600 {path}`"
            )
        try:
            key = base64.b64decode(path.read_bytes().strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise IntegrityError(
                f"{path}: key-encryption key file is not base64; restore it from backup"
            ) from exc
        key_id = "local-" + hashlib.sha256(key).hexdigest()[:12]
        self._kek = AesGcmKek(key, key_id=key_id, source=str(path))

    @property
    def key_id(self) -> str:
        return self._kek.key_id

    def wrap(self, plaintext: bytes, associated_data: bytes) -> bytes:
        return self._kek.wrap(plaintext, associated_data)

    def unwrap(self, wrapped: bytes, associated_data: bytes) -> bytes:
        return self._kek.unwrap(wrapped, associated_data)
