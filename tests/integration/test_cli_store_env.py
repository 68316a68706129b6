"""``sealgate store ls --env``: an environment nobody knows is an error, not an empty table."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from controller.cli import main
from controller.keyring import Keyring
from tests.integration.installation import ENV, SECRET, make_installation


def test_unknown_environment_is_an_error(tmp_path: Path) -> None:
    installed = make_installation(tmp_path)
    args = ["store", "ls", "--store", str(installed.store), "--key-dir", str(installed.key_dir)]
    unknown = CliRunner().invoke(main, [*args, "--env", "prodution"])
    assert unknown.exit_code == 1
    assert "environment 'prodution' is not in the store nor the key directory" in unknown.stderr
    assert "(known: production)" in unknown.stderr
    assert unknown.stdout == ""
    known = CliRunner().invoke(main, [*args, "--env", ENV])
    assert known.exit_code == 0, known.output
    assert SECRET in known.stdout
    # An environment with keys but nothing stored yet is known: an empty table, exit 0.
    Keyring(installed.key_dir, installed.kek()).init("staging")
    empty = CliRunner().invoke(main, [*args, "--env", "staging"])
    assert empty.exit_code == 0, empty.output
    assert SECRET not in empty.stdout
