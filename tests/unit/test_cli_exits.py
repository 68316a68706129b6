"""One exit-status table for the whole CLI, listed in every command's --help; Ctrl-C and a
closed pipe end quietly; ``sealgate completion`` prints a script that completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from controller.cli import COMMANDS, main
from controller.cli.exit_codes import ExitCode
from controller.keyring import KEY_DIR_VARIABLE
from tests.unit import test_cli_plan
from tests.unit.cli_support import Installed, install, sealgate_process
from tests.unit.test_cli_plan import approve, change_document, write_change, write_facts

plan_repo = test_cli_plan.repo  # a fixture: a requests repository with the example policies


def _commands() -> Iterator[tuple[list[str], click.Command]]:
    context = click.Context(main)
    for name in sorted(COMMANDS):
        command = main.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            for sub in sorted(command.commands):
                yield [name, sub], command.commands[sub]
        else:
            yield [name], command


COMMAND_PATHS = [path for path, _ in _commands()]


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=" ".join)
def test_every_command_lists_its_exit_statuses_in_help(path: list[str]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == ExitCode.OK, result.output
    epilog = result.stdout.split("Exit status:")[1]
    statuses = [int(line.split()[0]) for line in epilog.strip().splitlines()]
    assert statuses == sorted(statuses)
    assert {ExitCode.OK, ExitCode.USAGE, ExitCode.INTERRUPTED} <= set(statuses)
    assert set(statuses) <= {int(code) for code in ExitCode}
    assert all(len(line) <= 80 for line in epilog.splitlines()), "fits a terminal"


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=" ".join)
def test_a_usage_error_is_2_everywhere(path: list[str]) -> None:
    result = CliRunner().invoke(main, [*path, "--no-such-option"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "No such option '--no-such-option'" in result.output


def test_the_top_level_help_shows_the_whole_table() -> None:
    result = CliRunner().invoke(main, ["--help"])
    for code in ExitCode:
        assert f"\n    {int(code):<3}  " in result.stdout


@pytest.mark.parametrize(
    ("facts", "decision", "code"),
    [
        ({"reviews": approve("alice", "bob")}, "approved", ExitCode.OK),
        ({"reviews": approve("alice")}, "pending", ExitCode.PENDING),
        (
            {
                "reviews": [
                    {
                        "user": "alice",
                        "state": "CHANGES_REQUESTED",
                        "commit_id": "c2",
                        "submitted_at": "2026-11-20T11:00:00Z",
                    }
                ]
            },
            "rejected",
            ExitCode.INVALID,
        ),
        (
            {"reviews": approve("alice", "bob"), "now": "2026-12-01T00:00:00Z"},
            "expired",
            ExitCode.INVALID,
        ),
        ({"created_at": "yesterday"}, "invalid", ExitCode.INVALID),
    ],
)
def test_plan_exit_statuses(
    plan_repo: Path, facts: dict[str, object], decision: str, code: int
) -> None:
    change = write_change(plan_repo, change_document())
    write_facts(plan_repo, **facts)
    args = ["plan", "--config", str(plan_repo / "base"), "--facts", str(plan_repo / "facts.json")]
    result = CliRunner().invoke(main, [*args, str(change)])
    assert result.stdout.startswith(f"Decision: {decision.upper()}"), result.output
    assert result.exit_code == code


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return install(tmp_path_factory.mktemp("installed"))


def test_ctrl_c_exits_130_without_a_traceback() -> None:
    # Port 1 refuses at once: wait says so, then keeps polling until interrupted.
    process = sealgate_process(
        *("wait", "--url", "http://127.0.0.1:1", "acme/requests#1", "--timeout", "1h"),
        *("--interval", "0.05"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # the process is polling: now interrupt it
    assert b"cannot reach http://127.0.0.1:1" in first
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate()
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    assert stderr == b"", "not a terminal: not even a newline"


def test_a_closed_pipe_ends_quietly_with_141(installed: Installed) -> None:
    """``sealgate audit show | head -1`` where head has already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write: EPIPE, every time
    env = {**os.environ, KEY_DIR_VARIABLE: str(installed.key_dir)}
    process = sealgate_process(
        *("audit", "show", "--store", str(installed.store_dir)),
        env=env,
        stdout=write_end,
        stderr=subprocess.PIPE,
    )
    os.close(write_end)
    _, stderr = process.communicate()
    assert process.returncode == ExitCode.OUTPUT_CLOSED, stderr
    assert stderr == b""


def test_completion_prints_each_shells_script() -> None:
    bash = CliRunner().invoke(main, ["completion", "bash"])
    assert bash.exit_code == ExitCode.OK, bash.output
    assert "_SEALGATE_COMPLETE=bash_complete" in bash.stdout
    assert "complete -o nosort -F _sealgate_completion sealgate" in bash.stdout
    for shell in ("zsh", "fish"):
        script = CliRunner().invoke(main, ["completion", shell])
        assert script.exit_code == ExitCode.OK, script.output
        assert f"_SEALGATE_COMPLETE={shell}_complete" in script.stdout.replace('"', "")
    assert CliRunner().invoke(main, ["completion", "tcsh"]).exit_code == ExitCode.USAGE


def _complete(words: str, cword: int) -> list[str]:
    env = {"_SEALGATE_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    result = CliRunner().invoke(main, [], env=env, prog_name="sealgate")
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_completion_of_command_names_and_formats() -> None:
    assert _complete("sealgate st", 1) == ["plain,status", "plain,store"]
    assert _complete("sealgate store h", 2) == ["plain,history"]
    assert _complete("sealgate comp", 1) == ["plain,completion"]
    formats = _complete("sealgate keys list -o ", 4)
    assert formats == ["plain,table", "plain,wide", "plain,json", "plain,yaml"]


def test_the_bash_script_completes_in_bash(tmp_path: Path) -> None:
    """The script as a person loads it: eval in bash, then press TAB after `sealgate st`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "sealgate"
    launcher.write_text(
        f"#!/bin/sh\nexec {sys.executable} -c "
        '"from controller.cli import main; main(prog_name=\'sealgate\')" "$@"\n'
    )
    launcher.chmod(0o755)
    script = (
        'eval "$(sealgate completion bash)"; COMP_WORDS=(sealgate st); COMP_CWORD=1; '
        '_sealgate_completion sealgate; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().split() == ["status", "store"]
