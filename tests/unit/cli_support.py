"""A key directory and a store with secrets in it, made through the real commands, for the
output and exit-status tests; and a way to run ``sealgate`` as a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result
from jsonschema import Draft202012Validator

from controller.cli import main
from controller.documents import parse_changes
from controller.keyring import KEK_FILE_NAME, KEY_DIR_VARIABLE, Keyring, LocalKekFile
from controller.store import ApprovalRecord, Store

ROOT = Path(__file__).resolve().parents[2]
CLI_SCHEMAS = ROOT / "schemas" / "cli"
LONG_SECRET = "payments/production-two-person-approved-stripe-api-credentials"
"""Longer than any column of an 80-column terminal could hold whole."""
BOX_CHARACTERS = set("│┃┆┊║─━┄┈═┌┐└┘├┤┬┴┼╭╮╯╰╔╗╚╝╠╣╦╩╬╇╈┡┩")
ELLIPSIS = "…"


@dataclass(frozen=True)
class Installed:
    key_dir: Path
    store_dir: Path
    env_file: Path

    def run(self, *args: str, stdin: str | None = None) -> Result:
        runner = CliRunner(env={KEY_DIR_VARIABLE: str(self.key_dir)})
        return runner.invoke(main, list(args), input=stdin)


def install(tmp_path: Path) -> Installed:
    """Keys for production, and two secrets applied to the store (one with a long name)."""
    key_dir, store_dir = tmp_path / "keys", tmp_path / "store"
    store_dir.mkdir()
    installed = Installed(key_dir, store_dir, tmp_path / "environments" / "production.yaml")
    init = installed.run(
        "keys", "init", "--new-kek", "--env", "production", "--store", str(store_dir)
    )
    assert init.exit_code == 0, init.output
    installed.env_file.parent.mkdir()
    installed.env_file.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "sealgate.dev/v1",
                "kind": "Environment",
                "metadata": {"name": "production"},
                "spec": yaml.safe_load(init.stdout),
            }
        )
    )
    kek = LocalKekFile(key_dir / KEK_FILE_NAME)
    with Store(store_dir, kek, Keyring(key_dir, kek)) as store:
        for number, secret in enumerate((LONG_SECRET, "payments/db"), start=1):
            proposed = installed.run(
                "propose",
                "--env-file",
                str(installed.env_file),
                "--secret",
                secret,
                "--set",
                "API_KEY",
                "--reason",
                "first version",
                "--out-dir",
                str(tmp_path / "changes"),
                stdin="API_KEY=correct-horse-battery-staple-0123456789\n",
            )
            assert proposed.exit_code == 0, proposed.output
            path = Path(proposed.stdout.strip())
            changes = parse_changes(f"changes/production/{path.name}", path.read_bytes())
            record = ApprovalRecord(
                change_id=f"pr-{number}",
                pull_request=number,
                head_sha="c" * 40,
                approved_by=("alice", "bob"),
                merged_by="sealgate",
            )
            store.apply(f"pr-{number}", changes, record)
    return installed


def check_schema(name: str, document: Any) -> None:
    schema = json.loads((CLI_SCHEMAS / name).read_text())
    Draft202012Validator.check_schema(schema)
    errors = sorted(Draft202012Validator(schema).iter_errors(document), key=str)
    assert not errors, f"{name}: {[e.message for e in errors]}"


def sealgate_process(
    *args: str, env: dict[str, str] | None = None, **options: Any
) -> subprocess.Popen[bytes]:
    """``sealgate ARGS`` as its own process, as a shell starts it (``env``: all of it)."""
    code = "from controller.cli import main; main(prog_name='sealgate')"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], env=os.environ if env is None else env, **options
    )
