"""``sealgate propose --restore/--restore-key/--store`` and ``sealgate rollback``, through the
real command line, over a real store that the CLI reads without its keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from controller.crypto import load_public_key, seal
from controller.documents import parse_changes
from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from controller.model import SecretChange
from controller.store import ApprovalRecord, Store
from tests.unit.test_cli_keys_seal_propose import _run
from tests.unit.test_cli_keys_seal_propose import env_file as env_file  # noqa: PLC0414
from tests.unit.test_cli_keys_seal_propose import key_dir as key_dir  # noqa: PLC0414

SECRET = "payments/stripe"


def _seal(keyring: Keyring, key: str, value: bytes) -> str:
    info = keyring.list_keys("production")[0]
    return seal(
        value,
        key_id=info.key_id,
        public_key=load_public_key(info.public_key, where="test"),
        environment="production",
        secret=SECRET,
        key=key,
    )


@pytest.fixture
def store_dir(tmp_path: Path, key_dir: Path, env_file: Path) -> Path:
    """v1 {A, B} by pull request #1; v2 {A, C} (B deleted) by pull request #2."""
    kek = LocalKekFile(key_dir / KEK_FILE_NAME)
    keyring = Keyring(key_dir, kek)
    path = tmp_path / "store"
    with Store(path, kek, keyring) as store:
        for number, change in (
            (
                1,
                SecretChange(
                    "c1",
                    "production",
                    SECRET,
                    "seed",
                    set={"A": _seal(keyring, "A", b"a1"), "B": _seal(keyring, "B", b"b1")},
                ),
            ),
            (
                2,
                SecretChange(
                    "c2",
                    "production",
                    SECRET,
                    "seed",
                    set={"A": _seal(keyring, "A", b"a2"), "C": _seal(keyring, "C", b"c2")},
                    delete=("B",),
                ),
            ),
        ):
            change_id = f"production/pr-{number}"
            store.apply(
                change_id, [change], ApprovalRecord(change_id, number, "a" * 40, ("bob",), "bob")
            )
    return path


def _propose(key_dir: Path, env_file: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    result = _run(
        key_dir,
        [
            "propose",
            "--env-file",
            str(env_file),
            "--secret",
            SECRET,
            "--reason",
            "back to the working key",
            "--out-dir",
            str(out),
            "--name",
            "back",
            *extra,
        ],
    )
    return result.exit_code, result.stdout, result.stderr


def _written(out: Path) -> SecretChange:
    path = out / "production" / "back.yaml"
    (change,) = parse_changes("changes/production/back.yaml", path.read_bytes())
    return change


def test_propose_fills_the_base_version_in_from_the_store(
    tmp_path: Path, key_dir: Path, env_file: Path, store_dir: Path
) -> None:
    code, stdout, stderr = _propose(
        key_dir, env_file, tmp_path / "out", "--delete", "C", "--store", str(store_dir)
    )
    assert code == 0, stderr
    assert _written(tmp_path / "out").base_version == 2
    assert "baseVersion 2 (from --store; written by production/pr-2)" in stderr
    assert stdout.strip() == str(tmp_path / "out" / "production" / "back.yaml")


def test_a_new_secret_gets_base_version_zero_and_no_store_means_no_base(
    tmp_path: Path, key_dir: Path, env_file: Path, store_dir: Path
) -> None:
    result = _run(
        key_dir,
        [
            "propose",
            "--env-file",
            str(env_file),
            "--secret",
            "payments/new",
            "--generate",
            "K",
            "--reason",
            "new",
            "--store",
            str(store_dir),
            "--out-dir",
            str(tmp_path / "o"),
            "--name",
            "new",
        ],
    )
    assert result.exit_code == 0, result.output
    (change,) = parse_changes(
        "changes/production/new.yaml", (tmp_path / "o" / "production" / "new.yaml").read_bytes()
    )
    assert change.base_version == 0
    code, _, stderr = _propose(key_dir, env_file, tmp_path / "out", "--delete", "C")
    assert code == 0, stderr
    assert _written(tmp_path / "out").base_version is None
    assert "no baseVersion written" in stderr
    assert "will not be checked for staleness" in stderr


def test_propose_restore_writes_a_reviewed_rollback(
    tmp_path: Path, key_dir: Path, env_file: Path, store_dir: Path
) -> None:
    code, _, stderr = _propose(
        key_dir, env_file, tmp_path / "out", "--restore", "1", "--store", str(store_dir)
    )
    assert code == 0, stderr
    change = _written(tmp_path / "out")
    assert (change.restore_version, change.base_version, change.keys) == (1, 2, frozenset())
    code, _, stderr = _propose(
        key_dir, env_file, tmp_path / "keys-out", "--restore-key", "A:1", "--delete", "C"
    )
    assert code == 0, stderr
    keyed = _written(tmp_path / "keys-out")
    assert (dict(keyed.restore_keys), keyed.delete) == ({"A": 1}, ("C",))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--restore", "9"), "has no version 9 (its versions: 1, 2)"),
        (("--restore-key", "B:2"), "had no key B at version 2 (deleted by then"),
        (("--restore-key", "B:2"), "versions holding it: 1"),
        (("--restore-key", "B"), "expected KEY:VERSION"),
        (("--restore", "1", "--delete", "C"), "cannot be combined with --set"),
        (("--restore", "1", "--base-version", "1"), "holds version 2"),
    ],
)
def test_propose_restore_refuses_what_the_store_never_held(
    *,
    tmp_path: Path,
    key_dir: Path,
    env_file: Path,
    store_dir: Path,
    extra: tuple[str, ...],
    message: str,
) -> None:
    code, _, stderr = _propose(
        key_dir, env_file, tmp_path / "out", *extra, "--store", str(store_dir)
    )
    assert code != 0
    assert message in stderr
    assert not (tmp_path / "out" / "production" / "back.yaml").exists()


def test_rollback_is_propose_restore_under_its_documented_name(
    tmp_path: Path, key_dir: Path, env_file: Path, store_dir: Path
) -> None:
    result = _run(
        key_dir,
        [
            "rollback",
            "--env-file",
            str(env_file),
            "--secret",
            SECRET,
            "--to",
            "1",
            "--reason",
            "the new key is revoked",
            "--store",
            str(store_dir),
            "--out-dir",
            str(tmp_path / "out"),
            "--name",
            "back",
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["restore"] == {"version": 1}
    assert shown["baseVersion"] == 2
    assert set(shown) == {"file", "secret", "restore", "baseVersion", "note"}
    change = _written(tmp_path / "out")
    assert (change.restore_version, change.base_version) == (1, 2)
    keyed = _run(
        key_dir,
        [
            "rollback",
            "--env-file",
            str(env_file),
            "--secret",
            SECRET,
            "--to",
            "2",
            "--key",
            "B",
            "--reason",
            "x",
            "--store",
            str(store_dir),
            "--out-dir",
            str(tmp_path / "k"),
        ],
    )
    assert keyed.exit_code != 0
    assert "had no key B at version 2" in keyed.stderr
    document = yaml.safe_load((tmp_path / "out" / "production" / "back.yaml").read_text())
    assert "set" not in document["spec"]
