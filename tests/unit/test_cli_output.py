"""``-o/--output`` on every command that prints data: the same document as JSON and YAML,
valid against its schema in schemas/cli/, camelCase keys; tables that print whole values
when piped and wrap (never cut) on a terminal; the old spellings still work, with a note."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from controller.cli.output import format_table
from controller.keyring import KEY_DIR_VARIABLE
from controller.reconciler import Status
from tests.unit import test_cli_plan, test_cli_status
from tests.unit.cli_support import (
    BOX_CHARACTERS,
    ELLIPSIS,
    LONG_SECRET,
    Installed,
    check_schema,
    install,
    sealgate_process,
)
from tests.unit.test_cli_plan import approve, change_document, write_change, write_facts
from tests.unit.test_cli_status import REPO, Script, status_of

# Fixtures of the plan and status tests: a requests repository, a controller serving status.
plan_repo = test_cli_plan.repo
served = test_cli_status.served
readiness = test_cli_status.readiness

CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return install(tmp_path_factory.mktemp("installed"))


@dataclass(frozen=True)
class Case:
    """One data command: how to run it, its schema, and its exit status."""

    args: Callable[[Installed, Path, str], list[str]]
    schema: str
    code: int = ExitCode.OK
    lines: bool = False
    """JSON Lines (one document per line) rather than one document."""


def _invalid_change(tmp_path: Path) -> str:
    path = tmp_path / "changes" / "production" / "broken.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("apiVersion: sealgate.dev/v1\nkind: SecretChange\nspec: {}\n")
    return str(path)


def _plan_args(repo: Path) -> list[str]:
    return ["plan", "--config", str(repo / "base"), "--facts", str(repo / "facts.json")]


CASES = {
    "validate": Case(lambda i, t, u: ["validate", _invalid_change(t)], "validate.schema.json", 5),
    "plan": Case(
        lambda i, t, u: [*_plan_args(t), str(t / "head" / "changes")],
        "plan.schema.json",
        ExitCode.PENDING,
    ),
    "status": Case(lambda i, t, u: ["status", "--url", u, f"{REPO}#4"], "status.schema.json"),
    "store ls": Case(
        lambda i, t, u: ["store", "ls", "--store", str(i.store_dir)], "store-ls.schema.json"
    ),
    "store history": Case(
        lambda i, t, u: [
            *("store", "history", "--store", str(i.store_dir), "--env", "production"),
            *("--secret", LONG_SECRET),
        ],
        "store-history.schema.json",
    ),
    "keys list": Case(lambda i, t, u: ["keys", "list"], "keys-list.schema.json"),
    "audit verify": Case(
        lambda i, t, u: ["audit", "verify", "--store", str(i.store_dir)],
        "audit-verify.schema.json",
    ),
    "audit show": Case(
        lambda i, t, u: ["audit", "show", "--store", str(i.store_dir)],
        "audit-show.schema.json",
        lines=True,
    ),
}


def _documents(case: Case, text: str, parse: Callable[[str], Any]) -> list[Any]:
    if not case.lines:
        return [parse(text)]
    if parse is json.loads:
        return [json.loads(line) for line in text.splitlines()]
    return [d for d in yaml.safe_load_all(text) if d is not None]


def _keys(document: Any, free: bool = False) -> list[str]:
    """Every key of every fixed-shape object (maps keyed by paths or key names excluded)."""
    if isinstance(document, list):
        return [k for item in document for k in _keys(item)]
    if not isinstance(document, dict):
        return []
    keys: list[str] = []
    for key, value in document.items():
        keyed_by_data = key in ("tiers", "versions", "keys", "fingerprints", "secrets")
        if not free:
            keys.append(key)
        if keyed_by_data and isinstance(value, dict):
            keys += [k for sub in value.values() for k in _keys(sub)]
        else:
            keys += _keys(value)
    return keys


def _run(installed: Installed, args: list[str]) -> Result:
    return installed.run(*args)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_data_command_prints_json_and_yaml_matching_its_schema(
    name: str,
    installed: Installed,
    tmp_path: Path,
    served: tuple[str, Script],
    plan_repo: Path,
) -> None:
    url, script = served
    script.steps[4] = [status_of(4, Status.PENDING, ("carol",))]
    write_change(plan_repo, change_document())
    write_facts(plan_repo, reviews=approve("alice"))
    case = CASES[name]
    args = case.args(installed, plan_repo if name == "plan" else tmp_path, url)
    as_json = _run(installed, [*args, "-o", "json"])
    assert as_json.exit_code == case.code, as_json.output
    documents = _documents(case, as_json.stdout, json.loads)
    assert documents, as_json.output
    for document in documents:
        check_schema(case.schema, document)
    assert all(CAMEL.match(key) for key in _keys(documents)), _keys(documents)
    as_yaml = _run(installed, [*args, "--output", "yaml"])
    assert as_yaml.exit_code == case.code, as_yaml.output
    assert _documents(case, as_yaml.stdout, yaml.safe_load) == documents
    table = _run(installed, [*args, "-o", "table"])
    assert table.exit_code == case.code, table.output
    assert table.stdout == _run(installed, args).stdout, "table is the default"
    assert not BOX_CHARACTERS & set(table.stdout)
    assert ELLIPSIS not in table.stdout
    assert "\x1b[" not in table.stdout


def test_piped_tables_print_whole_values_in_plain_columns(
    installed: Installed,
    plan_repo: Path,
) -> None:
    listed = installed.run("store", "ls", "--store", str(installed.store_dir))
    lines = listed.stdout.splitlines()
    header = re.split(r"\s{2,}", lines[0])
    assert header == ["SECRET", "VERSION", "TIER", "KEY", "FINGERPRINT", "CHANGE", "SET AT"]
    [row] = [line for line in lines if LONG_SECRET in line]
    assert re.split(r"\s{2,}", row)[0] == f"production/{LONG_SECRET}"
    assert len(row) > 120, "no terminal width applies to a pipe"
    # The names a piped plan cut to `production-two-pe…` and `security-sign-…`.
    write_change(plan_repo, change_document())
    write_facts(plan_repo, current_tiers={"production/payments/stripe": "critical"})
    args = _plan_args(plan_repo)
    result = CliRunner().invoke(main, [*args, str(plan_repo / "head" / "changes")])
    assert result.exit_code == ExitCode.PENDING, result.output
    steps = [line.split() for line in result.stdout.splitlines()]
    assert ["production-critical-security", "security-sign-off"] in [s[:2] for s in steps]
    assert ["production-two-person", "approvals"] in [s[:2] for s in steps]
    assert not BOX_CHARACTERS & set(result.stdout)


def test_a_terminal_gets_rows_wrapped_to_its_width_never_cut(installed: Installed) -> None:
    """A real pseudo-terminal 60 columns wide: every line fits, and no character is lost."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 60, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env[KEY_DIR_VARIABLE] = str(installed.key_dir)
    process = sealgate_process(
        "keys", "list", "-o", "wide", env=env, stdout=slave, stderr=subprocess.PIPE
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    _, stderr = process.communicate()
    assert process.returncode == 0, stderr
    lines = b"".join(chunks).decode().replace("\r\n", "\n").splitlines()
    assert lines, stderr
    assert all(len(line) <= 60 for line in lines), lines
    assert lines[0].split() == ["ENVIRONMENT", "ID", "CREATED", "STATUS", "PUBLIC", "KEY"]
    [key] = json.loads(installed.run("keys", "list", "-o", "json").stdout)
    assert len(key["publicKey"]) > 30
    # The public key is wrapped over several lines of its column: joined, it is whole.
    start = lines[0].index("PUBLIC KEY")
    assert "".join(line[start:].strip() for line in lines[1:]) == key["publicKey"]
    assert ELLIPSIS not in "".join(lines)


def test_format_table_wraps_long_cells_inside_their_column() -> None:
    rows = [["production-two-person", "approvals", "2"], ["production-critical-security", "x", "1"]]
    lines = format_table(["policy", "step", "required"], rows, width=30).splitlines()
    assert all(len(line) <= 30 for line in lines), lines
    step_at = lines[0].index("STEP")
    assert lines[0].split() == ["POLICY", "STEP", "REQUIRED"]
    first_column = "".join(line[:step_at].strip() for line in lines[1:])
    assert first_column == "production-two-personproduction-critical-security"
    assert format_table(["policy"], [["production-two-person"]]).splitlines() == [
        "POLICY",
        "production-two-person",
    ]


def test_people_text_cannot_drive_the_terminal() -> None:
    text = format_table(["reason"], [["rotate\x1b]0;owned\x07 now\nplease"]])
    assert "\x1b" not in text
    assert "\x07" not in text
    assert text.splitlines()[1] == "rotate\\x1b]0;owned\\x07 now please"


def test_wide_adds_columns_the_default_table_leaves_out(installed: Installed) -> None:
    default = installed.run("keys", "list")
    wide = installed.run("keys", "list", "-o", "wide")
    [key] = json.loads(installed.run("keys", "list", "-o", "json").stdout)
    assert "PUBLIC KEY" not in default.stdout
    assert key["publicKey"] not in default.stdout
    assert "PUBLIC KEY" in wide.stdout
    assert key["publicKey"] in wide.stdout
    show = installed.run("audit", "show", "--store", str(installed.store_dir), "-o", "wide")
    assert "HASH" in show.stdout.splitlines()[0]
    not_offered = installed.run("store", "ls", "--store", str(installed.store_dir), "-o", "wide")
    assert not_offered.exit_code == ExitCode.USAGE


def test_old_spellings_still_work_with_a_note_on_stderr(
    installed: Installed,
    plan_repo: Path,
) -> None:
    shown = installed.run("audit", "show", "--store", str(installed.store_dir), "--json")
    assert shown.exit_code == 0, shown.output
    assert [json.loads(line)["event"] for line in shown.stdout.splitlines()][:1] == ["key"]
    assert "--json is deprecated" in shown.stderr
    assert "use -o json" in shown.stderr
    write_change(plan_repo, change_document())
    write_facts(plan_repo, reviews=approve("alice", "bob"))
    args = _plan_args(plan_repo)
    old = CliRunner().invoke(main, [*args, "--output", "text", str(plan_repo / "head")])
    new = CliRunner().invoke(main, [*args, str(plan_repo / "head")])
    assert old.exit_code == new.exit_code == ExitCode.OK, old.output
    assert old.stdout == new.stdout
    assert "--output text is deprecated" in old.stderr
    assert new.stderr == ""
    for command in (["audit", "show"], ["plan"], ["validate"]):
        helped = CliRunner().invoke(main, [*command, "--help"])
        assert "--json" not in helped.stdout
        assert "text" not in helped.stdout.split("--output")[1].split("\n")[0]
        assert "-o, --output" in helped.stdout


def test_an_unknown_format_is_a_usage_error(installed: Installed) -> None:
    result = installed.run("keys", "list", "-o", "xml")
    assert result.exit_code == ExitCode.USAGE
    assert "'xml' is not one of 'table', 'wide', 'json', 'yaml'" in result.output


def test_status_wide_shows_the_whole_head(served: tuple[str, Script]) -> None:
    url, script = served
    script.steps[4] = [status_of(4, Status.PENDING, ("carol",))]
    default = CliRunner().invoke(main, ["status", "--url", url, f"{REPO}#4"])
    wide = CliRunner().invoke(main, ["status", "--url", url, f"{REPO}#4", "-o", "wide"])
    assert default.exit_code == wide.exit_code == ExitCode.OK, default.output
    head = [line.split() for line in default.stdout.splitlines() if line.startswith("head ")]
    assert head == [["head", "c" * 12]]
    assert f"head          {'c' * 40}" in wide.stdout
    assert "c" * 40 not in default.stdout
