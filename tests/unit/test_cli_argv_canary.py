"""A value typed on the command line is never echoed back (issue: ``--set STRIPE_KEY=sk_...``).

Every argument slot of ``seal``, ``propose``, ``keys``, ``store``, ``status``, ``wait`` and
``plan`` (from FACTS.json and with ``--pull``) is
found from the commands themselves (a slot added later is planted too) and given a planted
value, as ``--flag VALUE`` and as ``--flag=VALUE``; a stray extra argument and, where a key
name belongs, a name with spaces are planted as well. Nothing the command prints, on stdout
or stderr, may contain the canary.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from controller.keyring import KEK_FILE_NAME, KEY_DIR_VARIABLE, Keyring, LocalKekFile
from controller.store import Store

CANARY = "LEAK123"
PLANTED = f"STRIPE_KEY=sk_live_{CANARY}"
BARE = f"sk_live_{CANARY}"
SPACED = f"sk live {CANARY}"
KEY_SLOTS = {"--set", "--generate", "--delete", "--key", "--set-file"}
WRITES_TO = {"--out-dir"}
"""Where the command writes: it prints the path it wrote, which is its output, not an echo."""
ROOT = Path(__file__).resolve().parents[2]
PLAN_EXAMPLE = ROOT / "examples" / "plan"


@dataclass
class Setup:
    key_dir: Path
    env_file: Path
    store: Path
    value_file: Path
    out_dir: Path
    key_id: str
    url: str
    github: str
    """A GitHub stand-in that knows no pull request: every read is a quick 404."""


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"message": "Not Found"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def github() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, github: str) -> Setup:
    # Planted paths are relative: whatever they create stays in the test's directory.
    monkeypatch.chdir(tmp_path)
    key_dir = tmp_path / "keys"
    kek = LocalKekFile(key_dir / KEK_FILE_NAME, create=True)
    keyring = Keyring(key_dir, kek)
    info = keyring.init("production")
    keyring.rotate("production")
    env_file = tmp_path / "environments" / "production.yaml"
    env_file.parent.mkdir()
    env_file.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "sealgate.dev/v1",
                "kind": "Environment",
                "metadata": {"name": "production"},
                "spec": {"sealingKeys": [{"id": info.key_id, "publicKey": info.public_key}]},
            }
        )
    )
    store = tmp_path / "store"
    Store(store, kek, keyring).close()
    value_file = tmp_path / "value.pem"
    value_file.write_bytes(b"-----BEGIN KEY-----\nabc\n-----END KEY-----\n")
    return Setup(
        key_dir=key_dir,
        env_file=env_file,
        store=store,
        value_file=value_file,
        out_dir=tmp_path / "out",
        key_id=info.key_id,
        url=f"http://127.0.0.1:{_free_port()}",
        github=github,
    )


def good_arguments(command: str, s: Setup) -> tuple[list[str], str]:
    """Arguments that work (or fail for a reason unrelated to the slot), and stdin."""
    env = ["--env-file", str(s.env_file)]
    where = ["--key-dir", str(s.key_dir)]
    table: dict[str, tuple[list[str], str]] = {
        "seal": ([*env, "--secret", "ns/app", "--key", "K", "--key-id", s.key_id], "v"),
        "propose": (
            [
                *env,
                "--secret",
                "ns/app",
                "--set",
                "A",
                "--set-file",
                f"PEM={s.value_file}",
                "--generate",
                "G:32",
                "--delete",
                "D",
                "--reason",
                "rotate",
                "--tier",
                "critical",
                "--base-version",
                "3",
                "--out-dir",
                str(s.out_dir),
            ],
            "A=value-a\n",
        ),
        "keys init": (["--env", "staging", *where, "--store", str(s.store)], ""),
        "keys rotate": (["--env", "production", *where, "--store", str(s.store)], ""),
        "keys retire": (["--env", "production", "--key-id", s.key_id, *where], ""),
        "keys list": (["--env", "production", *where], ""),
        "keys fingerprint": (
            ["--env", "production", "--secret", "ns/app", "--key", "K", *where],
            "v",
        ),
        "store ls": (["--store", str(s.store), "--env", "production", *where], ""),
        "store history": (
            ["--store", str(s.store), "--env", "production", "--secret", "ns/app", *where],
            "",
        ),
        "status": (["--url", s.url, "acme/requests#5", "--output", "json"], ""),
        "wait": (
            ["--url", s.url, "acme/requests#5", "--until", "applied", "--timeout", "0"],
            "",
        ),
        "plan": (
            [
                "--config",
                str(PLAN_EXAMPLE),
                "--facts",
                str(PLAN_EXAMPLE / "facts.json"),
                "--output",
                "json",
                str(PLAN_EXAMPLE / "changes"),
            ],
            "",
        ),
        "plan --pull": (
            [
                "--pull",
                "acme/requests#5",
                "--config",
                str(PLAN_EXAMPLE),
                "--github-url",
                s.github,
                "--token-command",
                f"{sys.executable} -c print(1234)",
                "--current-tier",
                "production/payments/stripe=critical",
                "--key-dir",
                str(s.key_dir),
                "--save-facts",
                "saved.json",
            ],
            "",
        ),
    }
    return table[command]


COMMANDS = [
    "seal",
    "propose",
    "keys init",
    "keys rotate",
    "keys retire",
    "keys list",
    "keys fingerprint",
    "store ls",
    "store history",
    "status",
    "wait",
    "plan",
    "plan --pull",
]
PULL_SLOTS = {"--pull", "--github-url", "--token-command", "--current-tier", "--key-dir"}
PULL_SLOTS |= {"--save-facts"}
"""The slots of ``plan`` that only ``--pull`` reads: planted in ``plan --pull``."""


def command_of(path: str) -> click.Command:
    command: click.Command = main
    context = click.Context(main)
    for name in path.split():
        if name.startswith("--"):
            break
        assert isinstance(command, click.Group)
        found = command.get_command(context, name)
        assert found is not None, path
        command = found
    return command


def slots(command: click.Command) -> Iterator[tuple[str, bool]]:
    """Every slot taking text: ``(option name or "" for a positional, is a key slot)``."""
    for param in command.params:
        if isinstance(param, click.Option):
            if param.is_flag or param.name == "help":
                continue
            name = max(param.opts, key=len)
            if name not in WRITES_TO:
                yield name, name in KEY_SLOTS
        elif isinstance(param, click.Argument):
            yield "", False


def planted(arguments: list[str], slot: str, value: str, *, joined: bool) -> list[str]:
    """``arguments`` with ``slot`` (its first occurrence, else appended) set to ``value``."""
    if not slot:  # the positional: the pull request of status/wait, plan's change files
        positional = ("acme/requests#5", str(PLAN_EXAMPLE / "changes"))
        return [value if a in positional else a for a in arguments]
    out = list(arguments)
    if slot in out:
        position = out.index(slot)
        del out[position : position + 2]
    else:
        position = len(out)
    out[position:position] = [f"{slot}={value}"] if joined else [slot, value]
    return out


def run(command: str, arguments: list[str], stdin: str, key_dir: Path) -> Result:
    words = [word for word in command.split() if not word.startswith("--")]
    env = {KEY_DIR_VARIABLE: str(key_dir), "GITHUB_TOKEN": "canary-run-token"}
    return CliRunner(env=env).invoke(main, [*words, *arguments], input=stdin)


def assert_quiet(result: Result, what: str) -> None:
    for stream in (result.output, result.stdout, result.stderr):
        assert CANARY not in stream, f"{what} echoed the planted value:\n{stream}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert CANARY not in repr(result.exception), what


@pytest.mark.parametrize("command", COMMANDS)
def test_the_unplanted_command_gets_past_its_arguments(command: str, setup: Setup) -> None:
    """The canary means something only if the good arguments are good."""
    arguments, stdin = good_arguments(command, setup)
    result = run(command, arguments, stdin, setup.key_dir)
    expected = {
        "status": 1,
        "wait": ExitCode.TIMED_OUT,
        "plan": ExitCode.PENDING,
        "plan --pull": 1,
    }.get(command, 0)
    assert result.exit_code == expected, result.output
    if command == "plan --pull":
        assert "read pull request acme/requests#5" in result.output, "it asked GitHub"


@pytest.mark.parametrize("command", COMMANDS)
def test_no_argument_slot_echoes_a_planted_value(command: str, setup: Setup) -> None:
    arguments, stdin = good_arguments(command, setup)
    found = list(slots(command_of(command)))
    if command == "plan":
        found = [(slot, key) for slot, key in found if slot not in PULL_SLOTS]
    elif command == "plan --pull":
        found = [(slot, key) for slot, key in found if slot in PULL_SLOTS]
    assert found, command
    for slot, is_key in found:
        values = [PLANTED, SPACED] if is_key else [PLANTED]
        for value in values:
            for joined in (False, True):
                changed = planted(arguments, slot, value, joined=joined)
                result = run(command, changed, stdin, setup.key_dir)
                assert_quiet(result, f"{command} {slot or 'TARGET'}={value!r}")
                if is_key:
                    assert result.exit_code != 0, (command, slot, value)
    if command.startswith("plan"):
        return  # CHANGE_FILE... takes any number of paths: there is no extra argument
    stray = run(command, [*arguments, BARE], stdin, setup.key_dir)
    assert stray.exit_code == 2
    assert "not shown" in stray.output
    assert_quiet(stray, f"{command} with an extra argument")


def test_a_key_value_pair_given_to_set_says_to_rotate(setup: Setup) -> None:
    arguments, _ = good_arguments("propose", setup)
    result = run("propose", [*arguments, "--set", PLANTED], "A=value-a\n", setup.key_dir)
    assert result.exit_code == 1
    assert "--set: takes a key name only; this one holds '=', so it is not shown" in result.output
    assert "rotate that secret" in result.output
    assert_quiet(result, "propose --set KEY=VALUE")
    assert not setup.out_dir.exists()


def test_seal_refuses_a_value_where_the_key_name_belongs(setup: Setup) -> None:
    result = run(
        "seal",
        ["--env-file", str(setup.env_file), "--secret", "ns/app", "--key", PLANTED],
        "v",
        setup.key_dir,
    )
    assert result.exit_code == 1
    assert "--key: takes a key name only" in result.output
    assert_quiet(result, "seal --key KEY=VALUE")


def test_credentials_in_the_controller_url_are_never_printed(setup: Setup) -> None:
    url = setup.url.replace("http://", f"http://user:{BARE}@") + f"/?token={BARE}"
    result = run("status", ["--url", url, "acme/requests#5"], "", setup.key_dir)
    assert result.exit_code == 1
    assert f"cannot reach {setup.url}/" in result.output
    assert_quiet(result, "status with a URL holding credentials")
