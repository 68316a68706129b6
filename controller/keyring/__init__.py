"""Environment key pairs on disk, wrapped by a key-encryption key from a provider (adapter)."""

from __future__ import annotations

from controller.keyring.keyring import KeyInfo, Keyring, KeyStatus
from controller.keyring.local_kek import KEK_FILE_NAME, KekExistsError, LocalKekFile
from controller.keyring.paths import KEY_DIR_VARIABLE, default_key_dir

__all__ = [
    "KEK_FILE_NAME",
    "KEY_DIR_VARIABLE",
    "KekExistsError",
    "KeyInfo",
    "KeyStatus",
    "Keyring",
    "LocalKekFile",
    "default_key_dir",
]
