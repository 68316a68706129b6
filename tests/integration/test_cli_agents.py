"""``sealgate access request`` and ``sealgate open|exec --request`` against a loopback
server speaking the agents API contract: every exit status, and values only where asked."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from tests.integration.agents_fake_server import CANARY, AgentsFakeServer
from tests.unit.cli_support import check_schema, sealgate_process


@dataclass
class Cli:
    fake: AgentsFakeServer
    url: str
    token: str
    token_file: Path

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    def request(self, *args: str, env: str = "production") -> Result:
        return self.run(
            "access", "request", "--api", self.url, "--token-file", str(self.token_file),
            "--env", env, "--secret", "payments/stripe", "--reason", "incident 4711",
            "--duration", "5m", *args,
        )  # fmt: skip

    def only_id(self) -> str:
        (request_id,) = self.fake.requests
        return request_id


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    fake = AgentsFakeServer()
    token, _ = fake.add_agent("payments", "release-agent")
    token_file = tmp_path / "token"
    token_file.write_text(token)
    with fake.running() as url:
        yield Cli(fake, url, token, token_file)


def test_pending_exits_3_and_prints_the_request(cli: Cli) -> None:
    result = cli.request()
    assert result.exit_code == ExitCode.PENDING, result.output
    assert cli.only_id() in result.stdout
    assert "0/2" in result.stdout
    assert "https://github.example/acme/r/pull/1" in result.stdout


def test_auto_approved_exits_0_and_json_is_the_status_document(cli: Cli) -> None:
    result = cli.request("-o", "json", env="staging")
    assert result.exit_code == ExitCode.OK, result.output
    document = json.loads(result.stdout)
    check_schema("access-request.schema.json", document)
    assert document["autoApproved"] is True
    assert document["status"] == "approved"


def test_yaml_too(cli: Cli) -> None:
    result = cli.request("-o", "yaml")
    assert result.exit_code == ExitCode.PENDING
    assert f"id: {cli.only_id()}" in result.stdout


def test_wait_until_approved_exits_0(cli: Cli) -> None:
    def approve_when_asked() -> None:
        for _ in range(200):
            if cli.fake.requests:
                cli.fake.approve(cli.only_id())
                return
            threading.Event().wait(0.05)

    helper = threading.Thread(target=approve_when_asked)
    helper.start()
    result = cli.request("--wait", "--timeout", "60s", "-o", "json")
    helper.join()
    assert result.exit_code == ExitCode.OK, result.output
    assert json.loads(result.stdout)["status"] == "approved"


def test_wait_that_runs_out_exits_4(cli: Cli) -> None:
    result = cli.request("--wait", "--timeout", "1s")
    assert result.exit_code == ExitCode.TIMED_OUT, result.output
    assert "still waits for approval" in result.stderr


@pytest.mark.parametrize("final", ["denied", "expired", "revoked"])
def test_denied_or_expired_exits_5(cli: Cli, final: str) -> None:
    cli.request("--idempotency-key", "job-1")
    cli.fake.set_status(cli.only_id(), final)
    result = cli.request("--idempotency-key", "job-1")
    assert result.exit_code == ExitCode.INVALID, result.output
    assert final in result.stdout


def test_invalid_exits_5_with_the_problems(cli: Cli) -> None:
    cli.fake.fail_next(
        422, body={"problems": ["access/production/x.yaml: spec.duration: too long"]}
    )
    result = cli.request()
    assert result.exit_code == ExitCode.INVALID
    assert "spec.duration: too long" in result.stderr


def test_not_allowed_exits_6(cli: Cli) -> None:
    result = cli.request(env="qa")
    assert result.exit_code == ExitCode.FORBIDDEN
    assert "not-allowed" in result.stderr


def test_refused_token_exits_7_without_the_token(cli: Cli) -> None:
    cli.fake.refused[cli.token] = "audience"
    result = cli.request()
    assert result.exit_code == ExitCode.UNAUTHENTICATED
    assert "audience" in result.stderr
    assert cli.token not in result.output


def test_missing_token_file_exits_7(cli: Cli, tmp_path: Path) -> None:
    cli.token_file = tmp_path / "absent"
    result = cli.request()
    assert result.exit_code == ExitCode.UNAUTHENTICATED
    assert "absent" in result.stderr


def test_a_bad_duration_is_a_usage_error_before_asking(cli: Cli) -> None:
    result = cli.run(
        "access", "request", "--api", cli.url, "--token-file", str(cli.token_file),
        "--env", "production", "--secret", "payments/stripe", "--reason", "r",
        "--duration", "5 minutes",
    )  # fmt: skip
    assert result.exit_code == ExitCode.USAGE
    assert not cli.fake.seen


def test_open_request_prints_the_values_in_each_format(cli: Cli) -> None:
    cli.request()
    cli.fake.approve(cli.only_id())
    base = (
        "open",
        "--api",
        cli.url,
        "--token-file",
        str(cli.token_file),
        "--request",
        cli.only_id(),
    )
    env = cli.run(*base, "--key", "API_KEY")
    assert env.exit_code == 0, env.output
    assert env.stdout == f"export API_KEY='{CANARY.decode()}'\n"
    dotenv = cli.run(*base, "-o", "dotenv")
    assert f'API_KEY="{CANARY.decode()}"' in dotenv.stdout
    document = json.loads(cli.run(*base, "-o", "json").stdout)
    check_schema("open.schema.json", document)
    assert document["values"]["API_KEY"] == CANARY.decode()
    assert document["secret"] == "payments/stripe"
    assert CANARY.decode() not in env.stderr + dotenv.stderr


def test_open_request_before_approval_exits_6(cli: Cli) -> None:
    cli.request()
    result = cli.run(
        "open", "--api", cli.url, "--token-file", str(cli.token_file), "--request", cli.only_id()
    )
    assert result.exit_code == ExitCode.FORBIDDEN
    assert "not-approved" in result.stderr


def test_open_needs_a_path_or_a_request_not_both(cli: Cli) -> None:
    neither = cli.run("open", "--api", cli.url)
    assert neither.exit_code == ExitCode.USAGE
    both = cli.run("open", "production/payments/stripe", "--request", "agent-abcdefghijkl")
    assert both.exit_code == ExitCode.USAGE


def test_exec_request_gives_the_values_to_the_command_only(cli: Cli) -> None:
    cli.request()
    cli.fake.approve(cli.only_id())
    child = sealgate_process(
        "exec", "--api", cli.url, "--token-file", str(cli.token_file),
        "--request", cli.only_id(), "--",
        sys.executable, "-c", "import os; print(len(os.environ['API_KEY']))",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert out.decode().strip() == str(len(CANARY))
    assert CANARY not in out + err
