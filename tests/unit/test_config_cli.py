"""``sealgate run --config FILE --check``: validate and exit, starting nothing."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from tests.integration.installation import make_installation
from tests.unit.test_config import ENV, MINIMAL


def check(path: Path, env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["run", "--config", str(path), "--check"], env=env)
    return result.exit_code, result.output


def test_check_accepts_a_valid_file(tmp_path: Path) -> None:
    make_installation(tmp_path)  # the files it names: --check also checks those
    path = tmp_path / "sealgate.yaml"
    path.write_text(MINIMAL)
    code, output = check(path, ENV)
    assert code == 0, output
    assert "OK (repository acme/requests, token authentication, 1 cluster(s)" in output
    assert "tok-123" not in output


def test_check_lists_every_problem_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "sealgate.yaml"
    path.write_text(MINIMAL.replace("acme/requests", "nope") + "leaderElection:\n  enabled: 1\n")
    code, output = check(path, ENV)
    assert code == ExitCode.INVALID
    assert f"{path}:4: github.repository: must be a repository as owner/name" in output
    assert f"{path}:15: leaderElection.enabled: must be true or false, not a whole number" in output
    assert "2 problems in the configuration" in output


def test_check_reports_an_unset_secret_variable(tmp_path: Path) -> None:
    path = tmp_path / "sealgate.yaml"
    path.write_text(MINIMAL)
    code, output = check(path, {"GH_TOKEN": "", "HOOK_SECRET": "x"})
    assert code == ExitCode.INVALID
    assert "github.token.fromEnv: environment variable GH_TOKEN is not set or empty" in output
