"""Canary values go seal -> propose -> apply -> history -> rollback -> audit; no byte of any
of them may appear in the store repository (files and decompressed git objects), the key
directory, the change files, the logs or any command output."""

from __future__ import annotations

import base64
import logging
import secrets
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from controller.cli import main
from controller.documents import parse_changes
from controller.keyring import KEK_FILE_NAME, KEY_DIR_VARIABLE, Keyring, LocalKekFile
from controller.store import ApprovalRecord, Store


def _forms(value: bytes) -> list[bytes]:
    """The value and the encodings a careless writer might have used."""
    return [
        value,
        base64.b64encode(value),
        base64.b64encode(value).rstrip(b"="),
        base64.urlsafe_b64encode(value).rstrip(b"="),
        value.hex().encode(),
        value.hex().upper().encode(),
    ]


def _git_objects(store_dir: Path) -> bytes:
    return subprocess.run(
        ["git", "-C", str(store_dir), "cat-file", "--batch-all-objects", "--batch"],
        check=True,
        capture_output=True,
    ).stdout


def test_no_canary_byte_escapes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key_dir, store_dir, changes_dir = tmp_path / "keys", tmp_path / "store", tmp_path / "changes"
    runner = CliRunner(env={KEY_DIR_VARIABLE: str(key_dir)})
    outputs: list[str] = []

    def run(args: list[str], stdin: str | None = None) -> Result:
        result = runner.invoke(main, args, input=stdin)
        outputs.append(result.output)
        assert result.exit_code == 0, result.output
        return result

    canaries = [f"CANARY{secrets.token_hex(10)}".encode() for _ in range(3)]
    store_dir.mkdir()
    init = run(["keys", "init", "--env", "production", "--new-kek", "--store", str(store_dir)])
    env_file = tmp_path / "environments" / "production.yaml"
    env_file.parent.mkdir()
    env_file.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "sealgate.dev/v1",
                "kind": "Environment",
                "metadata": {"name": "production"},
                "spec": yaml.safe_load(init.stdout),
            }
        )
    )
    run(
        ["seal", "--env-file", str(env_file), "--secret", "payments/stripe", "--key", "A"],
        canaries[0].decode() + "\n",
    )
    first = run(
        [
            "propose",
            "--env-file",
            str(env_file),
            "--secret",
            "payments/stripe",
            "--set",
            "A",
            "--set",
            "B",
            "--generate",
            "G:40",
            "--reason",
            "initial",
            "--name",
            "first",
            "--out-dir",
            str(changes_dir),
        ],
        f"A={canaries[0].decode()}\nB={canaries[1].decode()}\n",
    )
    second = run(
        [
            "propose",
            "--env-file",
            str(env_file),
            "--secret",
            "payments/stripe",
            "--set",
            "A",
            "--reason",
            "rotate",
            "--base-version",
            "1",
            "--name",
            "second",
            "--out-dir",
            str(changes_dir),
        ],
        f"A={canaries[2].decode()}\n",
    )

    kek = LocalKekFile(key_dir / KEK_FILE_NAME)
    with Store(store_dir, kek, Keyring(key_dir, kek)) as store:
        for number, output in enumerate((first, second), start=1):
            path = Path(output.stdout.strip())
            changes = parse_changes(f"changes/production/{path.name}", path.read_bytes())
            record = ApprovalRecord(f"pr-{number}", number, "c" * 40, ("alice",), "bob")
            store.apply(f"pr-{number}", changes, record)
        store.rollback("production", "payments/stripe", 1, actor="oncall", reason="revert")
        data = store.read_secret("production", "payments/stripe")
        assert data is not None
        # The canaries really went in: a scan of an empty store would prove nothing.
        assert (data.version, data.data["A"], data.data["B"]) == (3, canaries[0], canaries[1])
        canaries.append(bytes(data.data["G"]))
        history = store.history("production", "payments/stripe")
        assert [v.version for v in history] == [3, 2, 1]
        outputs.append(repr(history))
        outputs.append(repr(data))
        assert store.audit_verify().ok

    run(["store", "ls", "--store", str(store_dir)])
    run(
        [
            "store",
            "history",
            "--store",
            str(store_dir),
            "--env",
            "production",
            "--secret",
            "payments/stripe",
        ]
    )
    shown = run(["audit", "show", "--store", str(store_dir)])
    assert "rollback" in shown.stdout
    assert "production: init production-" in shown.stdout
    run(["audit", "show", "--json", "--store", str(store_dir)])
    run(["audit", "verify", "--store", str(store_dir)])
    run(["keys", "list"])
    run(
        ["keys", "fingerprint", "--env", "production", "--secret", "a/b", "--key", "k"],
        canaries[0].decode(),
    )

    places: dict[str, bytes] = {"git objects": _git_objects(store_dir)}
    for root in (store_dir, key_dir, changes_dir):
        for path in root.rglob("*"):
            if path.is_file():
                places[str(path)] = path.read_bytes()
    assert "applied pr-2 to production" in caplog.text
    assert "rolled back production/payments/stripe" in caplog.text
    places["logs"] = caplog.text.encode()
    places["command output"] = "\n".join(outputs).encode()
    assert len(places["git objects"]) > 1000
    assert any("/objects/" in name for name in places)
    for name, content in places.items():
        for canary in canaries:
            for form in _forms(canary):
                assert form not in content, f"a canary value leaked into {name}"
