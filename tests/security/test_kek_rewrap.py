"""The key-encryption key: never created as a side effect, and rotated by ``sealgate keys
rewrap`` so that a crash at any step leaves a KEK that opens everything, and running the
command again finishes the rotation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from controller.cli import main
from controller.crashpoint import CRASHPOINT_VARIABLE, REWRAP_STEPS
from controller.errors import IntegrityError
from controller.keyring import KEY_DIR_VARIABLE, Keyring, LocalKekFile
from controller.run.checksum_key import checksum_key
from tests.integration.installation import ENV, SECRET, Installation, make_installation

ROOT = Path(__file__).resolve().parents[2]
CLI = "from controller.cli import main; main()"


def _state(installed: Installation, kek: LocalKekFile) -> tuple[bytes, bytes, list[int]]:
    """What must survive a rotation: the secret's value, the checksum key, the history."""
    Keyring(installed.key_dir, kek).key_set()
    with installed.open_store(kek) as store:
        data = store.read_secret(ENV, SECRET)
        assert data is not None
        report = store.audit_verify()
        assert report.ok, report.problems
        versions = [v.version for v in store.history(ENV, SECRET)]
    return data.data["password"], checksum_key(installed.key_dir, kek), versions


def _rewrap(installed: Installation, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != CRASHPOINT_VARIABLE}
    if crash is not None:
        env[CRASHPOINT_VARIABLE] = crash
    return subprocess.run(
        [sys.executable, "-c", CLI, "keys", "rewrap", "--key-dir", str(installed.key_dir),
         "--store", str(installed.store), "-o", "json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _audit_bodies(installed: Installation, kek: LocalKekFile) -> list[dict[str, object]]:
    with installed.open_store(kek) as store:
        return [{"event": r.event, **r.fields} for r in store.audit_records()]


@pytest.fixture
def installed(tmp_path: Path) -> Installation:
    return make_installation(tmp_path)


def test_rewrap_replaces_the_kek_everywhere(installed: Installation) -> None:
    old = installed.kek()
    old_text = installed.kek_file.read_bytes()
    before = _state(installed, old)
    result = _rewrap(installed)
    assert result.returncode == 0, result.stderr
    new = installed.kek()
    assert new.key_id != old.key_id
    report = json.loads(result.stdout)
    assert (report["oldKek"], report["newKek"]) == (old.key_id, new.key_id)
    assert report["dataKeys"] == [ENV]
    assert report["keyFiles"] == 3
    assert report["audited"]
    # Nothing changed but the wrapping: same value, same checksum key, same history.
    assert _state(installed, new) == before
    with installed.open_store(new) as store:
        store.rollback(ENV, SECRET, 1, actor="op", reason="rollback after a rotation")
    # The old KEK is kept, not deleted, and opens nothing any more.
    retired = Path(report["retiredKekFile"])
    assert retired.read_bytes() == old_text
    assert retired.stat().st_mode & 0o077 == 0
    with pytest.raises(IntegrityError):
        Keyring(installed.key_dir, LocalKekFile(retired)).key_set()
    with pytest.raises(IntegrityError), installed.open_store(LocalKekFile(retired)) as store:
        store.read_secret(ENV, SECRET)
    assert "back it up now" in result.stderr
    assert str(retired) in result.stderr
    # Audited, without a key in the record.
    rotations = [b for b in _audit_bodies(installed, new) if b["event"] == "kek-rewrap"]
    assert [r["stage"] for r in rotations] == ["staged", "finished"]
    for rotation in rotations:
        assert rotation["fromKek"] == old.key_id
        assert rotation["toKek"] == new.key_id
        assert rotation["actor"]
    for text in (json.dumps(rotations), result.stdout, result.stderr):
        assert old_text.strip().decode() not in text
        assert installed.kek_file.read_text().strip() not in text


@pytest.mark.parametrize("step", REWRAP_STEPS)
def test_a_crash_at_any_step_leaves_a_working_kek_and_a_rerun_finishes(
    installed: Installation, step: str
) -> None:
    old = installed.kek()
    before = _state(installed, old)
    crashed = _rewrap(installed, crash=step)
    assert crashed.returncode == 137, (step, crashed.stderr)
    # Whatever the KEK file now holds opens every key and the whole store.
    assert _state(installed, installed.kek()) == before
    finished = _rewrap(installed)
    assert finished.returncode == 0, finished.stderr
    new = installed.kek()
    assert new.key_id != old.key_id
    assert _state(installed, new) == before
    with pytest.raises(IntegrityError):
        Keyring(installed.key_dir, old).key_set()
    assert not any(p.name.endswith(".next") for p in installed.key_dir.iterdir())
    for path in installed.key_dir.rglob("*.json"):
        assert "rewrap" not in json.loads(path.read_text())
    stages = [b["stage"] for b in _audit_bodies(installed, new) if b["event"] == "kek-rewrap"]
    assert stages[-1] == "finished"
    assert "staged" in stages


def _cli(args: list[str], key_dir: Path | None = None) -> tuple[int, str, str]:
    env = {KEY_DIR_VARIABLE: str(key_dir)} if key_dir is not None else {}
    result = CliRunner().invoke(main, args, env=env)
    return result.exit_code, result.stdout, result.stderr


def test_no_command_creates_a_kek_as_a_side_effect(installed: Installation) -> None:
    installed.kek_file.unlink()
    for args in (
        ["keys", "init", "--env", "staging"],
        ["keys", "rotate", "--env", ENV],
        ["keys", "list"],
        ["audit", "verify", "--store", str(installed.store)],
        ["store", "ls", "--store", str(installed.store)],
    ):
        code, _, err = _cli(args, installed.key_dir)
        assert code == 1, args
        assert "key-encryption key file is missing; restore it from your backup" in err
        assert "`sealgate keys init`" not in err
        assert not installed.kek_file.exists(), args


def test_audit_verify_without_key_dir_names_the_default(
    installed: Installation, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(
        main,
        ["audit", "verify", "--store", str(installed.store)],
        env={KEY_DIR_VARIABLE: "", "XDG_CONFIG_HOME": str(home)},
    )
    assert result.exit_code == 1
    assert "no --key-dir was given: key directory from the default; pass --key-dir" in (
        result.stderr
    )
    assert not home.exists()


def test_kek_init_only_for_a_new_installation(installed: Installation, tmp_path: Path) -> None:
    installed.kek_file.unlink()
    code, _, err = _cli(["keys", "kek", "init", "--key-dir", str(installed.key_dir)])
    assert code == 1
    assert "already holds keys wrapped by a key-encryption key" in err
    assert not installed.kek_file.exists()

    fresh = tmp_path / "fresh-keys"
    code, _out, err = _cli(["keys", "kek", "init", "--key-dir", str(fresh)])
    assert code == 0, err
    assert f"A NEW KEY-ENCRYPTION KEY was created: {fresh / 'kek.key'}" in err
    assert "Back it up now" in err
    text = (fresh / "kek.key").read_bytes()
    code, _, err = _cli(["keys", "kek", "init", "--key-dir", str(fresh)])
    assert code == 1
    assert "already exists; it is never overwritten" in err
    code, _, err = _cli(["keys", "init", "--env", ENV, "--new-kek", "--key-dir", str(fresh)])
    assert code == 1
    assert "already exists" in err
    assert (fresh / "kek.key").read_bytes() == text


def test_rewrap_needs_the_store_or_no_store(installed: Installation) -> None:
    code, _, err = _cli(["keys", "rewrap", "--key-dir", str(installed.key_dir)])
    assert code == 2
    assert "name the store with --store" in err


def test_a_key_directory_without_store_and_a_rotation_left_half_finished(
    installed: Installation,
) -> None:
    # A crash after the switch, then a run that forgot the store: the store keeps both
    # wraps (the new KEK opens it), and the next rotation still starts from it.
    crashed = _rewrap(installed, crash="rewrap:switched")
    assert crashed.returncode == 137
    code, out, err = _cli(["keys", "rewrap", "--key-dir", str(installed.key_dir), "--no-store"])
    assert code == 0, err
    assert "finished an interrupted rotation" in out
    assert "No store was named: nothing was audited" in err
    second = installed.kek()
    with installed.open_store(second) as store:
        assert store.read_secret(ENV, SECRET) is not None
    # Named again, the store's half is finished (and audited) before anything new starts.
    again = _rewrap(installed)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["resumed"] is True
    assert json.loads(again.stdout)["dataKeys"] == [ENV]
    assert installed.kek().key_id == second.key_id
    fresh = _rewrap(installed)
    assert fresh.returncode == 0, fresh.stderr
    assert installed.kek().key_id != second.key_id
    _state(installed, installed.kek())


def test_a_linked_kek_is_staged_then_finished_once_the_operator_swapped_it(
    installed: Installation, tmp_path: Path
) -> None:
    # docs/production.md: the KEK comes from a Secret, copied to a memory volume and
    # linked as <key dir>/kek.key. Replacing the link would leave the only copy of the new
    # KEK where the next start removes it.
    source = tmp_path / "memory" / "kek"
    source.parent.mkdir()
    installed.kek_file.rename(source)
    installed.kek_file.symlink_to(source)
    old = LocalKekFile(source)
    before = _state(installed, old)
    staged = _rewrap(installed)
    assert staged.returncode == 0, staged.stderr
    report = json.loads(staged.stdout)
    assert report["stagedOnly"] is True
    assert installed.kek_file.is_symlink()
    assert LocalKekFile(source).key_id == old.key_id
    new_file = Path(report["nextKekFile"])
    assert "is a link" in staged.stderr
    assert "run this command again" in staged.stderr
    # Both KEKs open everything while the operator swaps the Secret.
    assert _state(installed, old) == before
    assert _state(installed, LocalKekFile(new_file)) == before
    # The operator's swap: the Secret now holds the new KEK, the start copies it again.
    source.write_bytes(new_file.read_bytes())
    finished = _rewrap(installed)
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["resumed"] is True
    assert not new_file.exists()
    new = installed.kek()
    assert new.key_id == LocalKekFile(source).key_id != old.key_id
    assert _state(installed, new) == before
    with pytest.raises(IntegrityError):
        Keyring(installed.key_dir, old).key_set()
    stages = [b["stage"] for b in _audit_bodies(installed, new) if b["event"] == "kek-rewrap"]
    assert stages == ["staged", "finished"]
