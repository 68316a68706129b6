"""The embedded key-encryption-key provider: one 32-byte key in a 0600 file.

Only an explicit command creates one (``sealgate keys kek init``, ``keys init --new-kek``,
``keys rewrap``), through :meth:`LocalKekFile.create_new`, which never overwrites. Everything
else refuses to invent a new one: a fresh key cannot unwrap what the old one wrapped, so a
missing file is an error that says to restore it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import stat
from pathlib import Path

from controller.crypto import AesGcmKek
from controller.crypto.kek import KEK_BYTES
from controller.errors import IntegrityError
from controller.keyring.files import ensure_private_dir, fsync_directory

KEK_FILE_NAME = "kek.key"


class KekExistsError(IntegrityError):
    """Creating a KEK where one already is: never overwritten."""


class LocalKekFile:
    """``KeyEncryptionKeyProvider`` backed by ``<key dir>/kek.key``.

    ``create=True`` creates a missing file (tests and the sandbox); commands use
    :meth:`create_new`, which says so.
    """

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        if not path.exists():
            if not create:
                raise IntegrityError(
                    f"{path}: key-encryption key file is missing; restore it from your backup "
                    "(a new key cannot open anything the old one wrapped) or name the right "
                    "file. Only a brand-new installation, with no keys and no store yet, "
                    "creates one: `sealgate keys kek init`"
                )
            _create(path)
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

    @classmethod
    def create_new(cls, path: Path) -> LocalKekFile:
        """A new random KEK at ``path``, durably; KekExistsError if anything is there."""
        if path.exists() or path.is_symlink():
            raise KekExistsError(
                f"{path}: a key-encryption key file already exists; it is never overwritten "
                "(use it, or move it away yourself if you are sure nothing uses it)"
            )
        _create(path)
        return cls(path)

    @property
    def key_id(self) -> str:
        return self._kek.key_id

    def wrap(self, plaintext: bytes, associated_data: bytes) -> bytes:
        return self._kek.wrap(plaintext, associated_data)

    def unwrap(self, wrapped: bytes, associated_data: bytes) -> bytes:
        return self._kek.unwrap(wrapped, associated_data)


def _create(path: Path) -> None:
    """Write the key to a temporary file, then link it into place: a crash leaves no file
    or a whole one, and linking never overwrites (two commands racing cannot both win)."""
    ensure_private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(base64.b64encode(os.urandom(KEK_BYTES)) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError as exc:
            raise KekExistsError(f"{path}: a key-encryption key file already exists") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    fsync_directory(path.parent)
