"""Key files on disk: creation, modes, rotation, retirement, the local KEK provider."""

from __future__ import annotations

import base64
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from controller.crypto import load_public_key, seal
from controller.errors import InputError, IntegrityError, SealedValueError
from controller.keyring import (
    KEK_FILE_NAME,
    KEY_DIR_VARIABLE,
    Keyring,
    KeyStatus,
    LocalKekFile,
    default_key_dir,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _keyring(key_dir: Path) -> Keyring:
    return Keyring(key_dir, LocalKekFile(key_dir / KEK_FILE_NAME, create=True))


def _seal_for(keyring: Keyring, env: str, key_id: str, value: bytes = b"v") -> str:
    info = next(i for i in keyring.list_keys(env) if i.key_id == key_id)
    return seal(
        value,
        key_id=key_id,
        public_key=load_public_key(info.public_key, where="test"),
        environment=env,
        secret="ns/app",
        key="K",
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_private_files_and_returns_public_facts(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    keyring = _keyring(key_dir)
    info = keyring.init("production", now=NOW)
    assert info.environment == "production"
    assert info.key_id.startswith("production-2026-11-")
    assert info.status is KeyStatus.ACTIVE
    assert info.created == NOW
    assert len(base64.b64decode(info.public_key)) == 32
    files = sorted(p for p in key_dir.rglob("*") if p.is_file())
    assert [p.name for p in files] == [
        KEK_FILE_NAME,
        "fingerprint.json",
        f"sealing-{info.key_id}.json",
    ]
    assert all(_mode(p) == 0o600 for p in files)
    assert _mode(key_dir) == 0o700
    assert _mode(key_dir / "production") == 0o700


def test_private_key_is_never_stored_in_clear(tmp_path: Path) -> None:
    keyring = _keyring(tmp_path)
    info = keyring.init("production", now=NOW)
    opening = keyring.key_set()._keys[info.key_id]
    raw = opening.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    for path in tmp_path.rglob("*.json"):
        data = path.read_bytes()
        assert raw not in data
        assert base64.b64encode(raw) not in data
        assert raw.hex().encode() not in data


def test_init_twice_is_refused(tmp_path: Path) -> None:
    keyring = _keyring(tmp_path)
    keyring.init("production")
    with pytest.raises(InputError, match="already has sealing keys; use `sealgate keys rotate`"):
        keyring.init("production")


def test_rotation_keeps_old_keys_opening_until_retired(tmp_path: Path) -> None:
    keyring = _keyring(tmp_path)
    first = keyring.init("production", now=NOW)
    old_value = _seal_for(keyring, "production", first.key_id, b"old")
    second = keyring.rotate("production", now=NOW + timedelta(days=30))
    assert [i.key_id for i in keyring.list_keys("production")] == [second.key_id, first.key_id]
    new_value = _seal_for(keyring, "production", second.key_id, b"new")
    assert keyring.open(old_value, environment="production", secret="ns/app", key="K") == b"old"
    assert keyring.open(new_value, environment="production", secret="ns/app", key="K") == b"new"

    retired = keyring.retire("production", first.key_id)
    assert retired.status is KeyStatus.RETIRED
    statuses = {i.key_id: i.status for i in keyring.list_keys("production")}
    assert statuses == {first.key_id: KeyStatus.RETIRED, second.key_id: KeyStatus.ACTIVE}
    with pytest.raises(SealedValueError, match="is retired"):
        keyring.open(old_value, environment="production", secret="ns/app", key="K")
    assert keyring.open(new_value, environment="production", secret="ns/app", key="K") == b"new"


def test_the_only_active_key_cannot_be_retired(tmp_path: Path) -> None:
    keyring = _keyring(tmp_path)
    info = keyring.init("production")
    with pytest.raises(InputError, match="only active key"):
        keyring.retire("production", info.key_id)
    with pytest.raises(InputError, match="no key 'nope'"):
        keyring.retire("production", "nope")
    with pytest.raises(InputError, match="has no keys; run `sealgate keys init` first"):
        keyring.rotate("staging")


def test_environments_are_separate(tmp_path: Path) -> None:
    keyring = _keyring(tmp_path)
    production = keyring.init("production")
    keyring.init("staging")
    sealed = _seal_for(keyring, "production", production.key_id)
    with pytest.raises(SealedValueError, match="not a sealing key of environment 'staging'"):
        keyring.open(sealed, environment="staging", secret="ns/app", key="K")
    assert keyring.fingerprint(
        b"same", environment="production", secret="ns/app", key="K"
    ) != keyring.fingerprint(b"same", environment="staging", secret="ns/app", key="K")
    assert [i.environment for i in keyring.list_keys()] == ["production", "staging"]


def test_fingerprints_survive_reloading_the_keyring(tmp_path: Path) -> None:
    _keyring(tmp_path).init("production")
    first = _keyring(tmp_path).fingerprint(
        b"value", environment="production", secret="ns/app", key="K"
    )
    assert (
        _keyring(tmp_path).fingerprint(b"value", environment="production", secret="ns/app", key="K")
        == first
    )


def test_bad_environment_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="environment name must match"):
        _keyring(tmp_path).init("../escape")


def test_missing_kek_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    with pytest.raises(IntegrityError, match="key-encryption key file is missing"):
        LocalKekFile(tmp_path / KEK_FILE_NAME)
    assert not (tmp_path / KEK_FILE_NAME).exists()


def test_wrong_kek_cannot_unwrap_keys(tmp_path: Path) -> None:
    _keyring(tmp_path / "a").init("production")
    other_kek = LocalKekFile(tmp_path / "b" / KEK_FILE_NAME, create=True)
    with pytest.raises(IntegrityError, match="does not unwrap with key-encryption key"):
        Keyring(tmp_path / "a", other_kek).key_set()


def test_kek_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / KEK_FILE_NAME
    LocalKekFile(path, create=True)
    path.chmod(0o644)
    with pytest.raises(IntegrityError, match="readable by others"):
        LocalKekFile(path)


def test_moved_key_file_does_not_unwrap(tmp_path: Path) -> None:
    keyring = _keyring(tmp_path)
    info = keyring.init("production")
    keyring.init("staging")
    source = tmp_path / "production" / f"sealing-{info.key_id}.json"
    target = tmp_path / "staging" / f"sealing-{info.key_id}.json"
    target.write_bytes(source.read_bytes().replace(b'"production"', b'"staging"'))
    with pytest.raises(IntegrityError, match="does not unwrap"):
        Keyring(tmp_path, LocalKekFile(tmp_path / KEK_FILE_NAME)).key_set()


def test_default_key_dir_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_DIR_VARIABLE, str(tmp_path / "configured"))
    assert default_key_dir() == tmp_path / "configured"
    monkeypatch.delenv(KEY_DIR_VARIABLE)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_key_dir() == tmp_path / "xdg" / "sealgate" / "keys"
