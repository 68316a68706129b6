"""The key directory's half of a key-encryption-key rotation (``sealgate keys rewrap``).

Files of the key directory that hold a key wrapped by the KEK (sealing key pairs,
fingerprint keys, the checksum key) go through the same two steps as the store's data keys
(``controller.store.kek_rewrap``), one file at a time, each rewritten atomically:

1. **stage**: add the key wrapped by the new KEK beside the old wrap
   (``controller.crypto.rewrap``); the new KEK waits in ``<kek file>.next``;
2. **switch**: keep a copy of the old KEK as ``<kek file>.retired-<id>``, then rename
   ``.next`` over the KEK file (one atomic rename);
3. **finish**: drop the old wraps.

Before the rename the KEK file is the old one and every record still holds its old wrap;
after it the KEK file is the new one and every record holds (staged or final) a new wrap:
a crash anywhere leaves a state the KEK file in place opens, and running the command again
completes the rotation.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.crashpoint import crashpoint
from controller.crypto import KeyEncryptionKeyProvider
from controller.crypto.rewrap import REWRAP_FIELD, staged_entry, staged_wrap
from controller.errors import IntegrityError
from controller.keyring.files import fsync_directory, write_private
from controller.keyring.keyring import Keyring
from controller.keyring.layout import CHECKSUM_KEY_BINDING, CHECKSUM_KEY_FILE

NEXT_SUFFIX = ".next"


def next_kek_path(kek_file: Path) -> Path:
    return kek_file.with_name(kek_file.name + NEXT_SUFFIX)


def retired_kek_path(kek_file: Path, key_id: str) -> Path:
    return kek_file.with_name(f"{kek_file.name}.retired-{key_id}")


@dataclass(frozen=True, slots=True)
class WrappedFile:
    path: Path
    field: str
    binding: bytes


def wrapped_files(key_dir: Path, keyring: Keyring) -> list[WrappedFile]:
    found = [WrappedFile(p, f, b) for p, f, b in keyring.wrapped_files()]
    checksum = key_dir / CHECKSUM_KEY_FILE
    if checksum.exists():
        found.append(WrappedFile(checksum, "wrappedKey", CHECKSUM_KEY_BINDING))
    return found


def stage_files(
    files: list[WrappedFile], old: KeyEncryptionKeyProvider, new: KeyEncryptionKeyProvider
) -> int:
    """Add the new KEK's wrap to every file that lacks it; how many were rewritten."""
    changed = 0
    for item in files:
        record = _read(item.path)
        staged = staged_wrap(record, new.key_id)
        if staged is not None:
            new.unwrap(staged, item.binding)
            continue
        # An earlier rotation left unfinished may hold the old KEK's wrap as the staged one.
        own = staged_wrap(record, old.key_id) or _own_wrap(record, item)
        raw = old.unwrap(own, item.binding)
        wrapped = new.wrap(raw, item.binding)
        new.unwrap(wrapped, item.binding)
        record[REWRAP_FIELD] = staged_entry(new.key_id, wrapped)
        write_private(item.path, _dump(record))
        changed += 1
        crashpoint("rewrap:key-file-staged")
    return changed


def finish_files(files: list[WrappedFile], new: KeyEncryptionKeyProvider) -> int:
    """Make every staged wrap by ``new`` the file's own; how many were rewritten."""
    changed = 0
    for item in files:
        record = _read(item.path)
        staged = staged_wrap(record, new.key_id)
        if staged is None:
            continue
        new.unwrap(staged, item.binding)
        record[item.field] = base64.b64encode(staged).decode()
        record["kek"] = new.key_id
        del record[REWRAP_FIELD]
        write_private(item.path, _dump(record))
        changed += 1
        crashpoint("rewrap:key-file-finished")
    return changed


def switch_kek(kek_file: Path, next_file: Path, old_id: str) -> Path:
    """Keep the old KEK beside, then put the new one in place atomically; the old copy."""
    retired = retired_kek_path(kek_file, old_id)
    if not retired.exists():
        write_private(retired, kek_file.read_bytes())
    crashpoint("rewrap:old-kek-kept")
    os.replace(next_file, kek_file)
    fsync_directory(kek_file.parent)
    crashpoint("rewrap:switched")
    return retired


def _read(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"{path}: key file is unreadable; restore it from backup") from exc
    if not isinstance(record, dict):
        raise IntegrityError(f"{path}: key file is not a JSON object; restore it from backup")
    return record


def _own_wrap(record: dict[str, Any], item: WrappedFile) -> bytes:
    try:
        return base64.b64decode(str(record[item.field]), validate=True)
    except (KeyError, binascii.Error, ValueError) as exc:
        raise IntegrityError(
            f"{item.path}: field {item.field} is missing or not base64; restore the file "
            "from backup"
        ) from exc


def _dump(record: dict[str, Any]) -> bytes:
    return json.dumps(record, indent=2, sort_keys=True).encode() + b"\n"
