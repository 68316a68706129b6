"""``sealgate propose``: errors name the flag, stdin mistakes say how to fix them, and
``--set-file`` seals a file's bytes as they are."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result

from controller.documents import parse_changes
from tests.unit.test_cli_keys_seal_propose import _environment_file, _keyring, _run

PEM = (
    b"-----BEGIN PRIVATE KEY-----\n"
    + b"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n" * 12
    + b"MjEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTA=\n"
    + b"-----END PRIVATE KEY-----\n"
)


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def env_file(tmp_path: Path, key_dir: Path) -> Path:
    result = _run(key_dir, ["keys", "init", "--new-kek", "--env", "production"])
    assert result.exit_code == 0, result.output
    return _environment_file(tmp_path, result.stdout)


def propose(
    key_dir: Path, env_file: Path, out_dir: Path, *args: str, stdin: bytes | str = ""
) -> Result:
    return _run(
        key_dir,
        [
            "propose",
            "--env-file",
            str(env_file),
            "--secret",
            "payments/stripe",
            "--reason",
            "rotate",
            "--out-dir",
            str(out_dir),
            *args,
        ],
        stdin=stdin,
    )


def written(out_dir: Path) -> Path:
    [path] = (out_dir / "production").iterdir()
    return path


def opened(key_dir: Path, path: Path) -> dict[str, bytes]:
    [change] = parse_changes(f"changes/production/{path.name}", path.read_bytes())
    keyring = _keyring(key_dir)
    return {
        key: keyring.open(sealed, environment="production", secret="payments/stripe", key=key)
        for key, sealed in change.set.items()
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reason", "", "--delete", "OLD"], "Error: --reason: must not be blank"),
        (["--secret", "Payments", "--delete", "OLD"], "Error: --secret: must be <namespace>/"),
        (["--name", "Bad Name", "--delete", "OLD"], "Error: --name: must be lowercase"),
        (["--generate", "A:4"], "Error: --generate A: must be at least 8"),
        (["--delete", "A", "--delete", "A"], "Error: --delete: lists the same item twice"),
    ],
)
def test_errors_name_the_flag_not_a_file_that_was_never_written(
    *, tmp_path: Path, key_dir: Path, env_file: Path, args: list[str], message: str
) -> None:
    out_dir = tmp_path / "out"
    result = propose(key_dir, env_file, out_dir, *args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "changes/production" not in result.output
    assert ".yaml:" not in result.output
    assert not out_dir.exists()


def test_a_pem_pasted_on_stdin_is_one_problem_pointing_at_set_file(
    tmp_path: Path, key_dir: Path, env_file: Path
) -> None:
    out_dir = tmp_path / "out"
    result = propose(key_dir, env_file, out_dir, "--set", "TLS_KEY", stdin=b"TLS_KEY=" + PEM)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "stdin" in line]
    assert len(lines) == 1, result.output
    assert "stdin: lines 2-15: 14 line(s) without '=' follow the line for TLS_KEY" in lines[0]
    assert "--set-file TLS_KEY=PATH" in lines[0]
    assert b"MIIEvQIBADAN" not in result.stdout_bytes + result.stderr_bytes
    assert not out_dir.exists()


def test_a_line_without_a_key_is_not_shown(tmp_path: Path, key_dir: Path, env_file: Path) -> None:
    result = propose(
        key_dir, env_file, tmp_path / "out", "--set", "A", stdin="hunter2-plain\nA=1\n"
    )
    assert result.exit_code == 1
    assert "stdin: line 1: expected KEY=VALUE" in result.output
    assert "hunter2" not in result.output
    unknown = propose(
        key_dir, env_file, tmp_path / "out", "--set", "A", stdin="A=1\nxq7Zk2PwLm=val\n"
    )
    assert "stdin: line 2: the name before '=' is none of the keys given with --set (A)" in (
        unknown.output
    )
    assert "xq7Zk2PwLm" not in unknown.output


def test_set_file_seals_the_bytes_as_they_are(
    tmp_path: Path, key_dir: Path, env_file: Path
) -> None:
    pem = tmp_path / "tls.key"
    pem.write_bytes(PEM)
    out_dir = tmp_path / "out"
    result = propose(
        key_dir,
        env_file,
        out_dir,
        "--set",
        "API_KEY",
        "--set-file",
        f"TLS_KEY={pem}",
        stdin="API_KEY=sk_one\n",
    )
    assert result.exit_code == 0, result.output
    path = written(out_dir)
    assert b"MIIEvQ" not in path.read_bytes()
    assert opened(key_dir, path) == {"API_KEY": b"sk_one", "TLS_KEY": PEM}


def test_set_file_dash_reads_stdin(tmp_path: Path, key_dir: Path, env_file: Path) -> None:
    out_dir = tmp_path / "out"
    result = propose(key_dir, env_file, out_dir, "--set-file", "TLS_KEY=-", stdin=PEM)
    assert result.exit_code == 0, result.output
    assert opened(key_dir, written(out_dir)) == {"TLS_KEY": PEM}


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--set-file", "K=missing/secret.pem"], "", "--set-file K: cannot read"),
        (["--set-file", "K=EMPTY"], "", "--set-file K: the file is empty"),
        (["--set-file", "K"], "", "--set-file: expected KEY=PATH"),
        (["--set", "A", "--set-file", "B=-"], "A=1\n", "stdin can carry one thing"),
        (["--set", "A", "--set-file", "A=-"], "", "--set-file A: the key is given twice"),
        (["--set-file", "BAD KEY=x"], "", "--set-file: is not a key name"),
    ],
)
def test_set_file_refusals(
    *, tmp_path: Path, key_dir: Path, env_file: Path, args: list[str], stdin: str, message: str
) -> None:
    (tmp_path / "EMPTY").write_bytes(b"")
    args = [a.replace("EMPTY", str(tmp_path / "EMPTY")) for a in args]
    out_dir = tmp_path / "out"
    result = propose(key_dir, env_file, out_dir, *args, stdin=stdin)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "missing/secret.pem" not in result.output
    assert not out_dir.exists()


def test_help_says_what_happens_to_a_final_newline(key_dir: Path) -> None:
    result = _run(key_dir, ["propose", "--help"])
    assert "--set-file KEY=PATH" in result.output
    assert "a final newline included" in " ".join(result.output.split())
