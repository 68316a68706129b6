"""``sealgate keys``, ``seal`` and ``propose`` through the real command line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from controller.cli import main
from controller.documents import parse_changes, parse_environment
from controller.errors import SealedValueError
from controller.keyring import KEK_FILE_NAME, KEY_DIR_VARIABLE, Keyring, LocalKekFile


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


def _run(key_dir: Path, args: list[str], stdin: str | bytes | None = None) -> Result:
    return CliRunner(env={KEY_DIR_VARIABLE: str(key_dir)}).invoke(main, args, input=stdin)


def _keyring(key_dir: Path) -> Keyring:
    return Keyring(key_dir, LocalKekFile(key_dir / KEK_FILE_NAME))


def _environment_file(tmp_path: Path, key_output: str, name: str = "production") -> Path:
    entry = yaml.safe_load(key_output)
    document = {
        "apiVersion": "sealgate.dev/v1",
        "kind": "Environment",
        "metadata": {"name": name},
        "spec": entry,
    }
    path = tmp_path / "environments" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
def env_file(tmp_path: Path, key_dir: Path) -> Path:
    result = _run(key_dir, ["keys", "init", "--env", "production", "--new-kek"])
    assert result.exit_code == 0, result.output
    return _environment_file(tmp_path, result.stdout)


def test_keys_init_prints_an_entry_that_makes_a_valid_environment(
    tmp_path: Path, key_dir: Path, env_file: Path
) -> None:
    environment = parse_environment("environments/production.yaml", env_file.read_bytes())
    [key] = environment.sealing_keys
    assert key.id.startswith("production-")
    assert [i.key_id for i in _keyring(key_dir).list_keys("production")] == [key.id]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in key_dir.rglob("*") if p.is_file())
    again = _run(key_dir, ["keys", "init", "--env", "production"])
    assert again.exit_code == 1
    assert "already has sealing keys" in again.output
    explicit = _run(
        tmp_path / "unused", ["keys", "init", "--env", "staging", "--key-dir", str(key_dir)]
    )
    assert explicit.exit_code == 0, explicit.output
    assert not (tmp_path / "unused").exists()


def test_keys_list_rotate_retire(key_dir: Path, env_file: Path) -> None:
    [first] = parse_environment("e.yaml", env_file.read_bytes()).sealing_keys
    rotated = _run(key_dir, ["keys", "rotate", "--env", "production"])
    assert rotated.exit_code == 0, rotated.output
    listed_ids = [e["id"] for e in yaml.safe_load(rotated.stdout)["sealingKeys"]]
    assert listed_ids[1] == first.id
    assert len(listed_ids) == 2
    retired = _run(key_dir, ["keys", "retire", "--env", "production", "--key-id", first.id])
    assert retired.exit_code == 0, retired.output
    assert [e["id"] for e in yaml.safe_load(retired.stdout)["sealingKeys"]] == listed_ids[:1]
    table = _run(key_dir, ["keys", "list"])
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ENVIRONMENT", "ID", "CREATED", "STATUS"]
    assert any(first.id in line and line.endswith("retired") for line in lines)
    assert any(listed_ids[0] in line and line.endswith("active") for line in lines)
    for path in key_dir.rglob("sealing-*.json"):
        wrapped = yaml.safe_load(path.read_text())["wrappedPrivateKey"]
        assert wrapped not in table.stdout
    only = _run(key_dir, ["keys", "retire", "--env", "production", "--key-id", listed_ids[0]])
    assert only.exit_code == 1
    assert "only active key" in only.output


def test_seal_reads_stdin_and_binds_the_value(key_dir: Path, env_file: Path) -> None:
    result = _run(
        key_dir,
        ["seal", "--env-file", str(env_file), "--secret", "payments/stripe", "--key", "API_KEY"],
        stdin="sk_live_value\n",
    )
    assert result.exit_code == 0, result.output
    sealed = result.stdout.strip()
    assert sealed.startswith("sg1:production-")
    assert "sk_live_value" not in result.output
    keyring = _keyring(key_dir)
    opened = keyring.open(sealed, environment="production", secret="payments/stripe", key="API_KEY")
    assert opened == b"sk_live_value"
    with pytest.raises(SealedValueError):
        keyring.open(sealed, environment="production", secret="payments/stripe", key="OTHER")


def test_seal_raw_keeps_the_newline(key_dir: Path, env_file: Path) -> None:
    args = ["seal", "--env-file", str(env_file), "--secret", "ns/app", "--key", "K", "--raw"]
    result = _run(key_dir, args, stdin="line\n")
    opened = _keyring(key_dir).open(
        result.stdout.strip(), environment="production", secret="ns/app", key="K"
    )
    assert opened == b"line\n"


def test_seal_never_takes_a_value_from_argv_and_refuses_empty(
    key_dir: Path, env_file: Path
) -> None:
    base = ["seal", "--env-file", str(env_file), "--secret", "ns/app", "--key", "K"]
    assert _run(key_dir, [*base, "--value", "x"], stdin="").exit_code == 2
    assert _run(key_dir, [*base, "plaintext"], stdin="").exit_code == 2
    empty = _run(key_dir, base, stdin="")
    assert empty.exit_code == 1
    assert "value is empty" in empty.output
    unknown = _run(key_dir, [*base, "--key-id", "nope"], stdin="v")
    assert unknown.exit_code == 1
    assert "no key with id 'nope'" in unknown.output


def test_seal_with_a_broken_environment_file_names_it(tmp_path: Path, key_dir: Path) -> None:
    broken = tmp_path / "environments" / "production.yaml"
    broken.parent.mkdir()
    broken.write_text("kind: Environment\nspec: {}\n")
    result = _run(
        key_dir, ["seal", "--env-file", str(broken), "--secret", "ns/app", "--key", "K"], "v"
    )
    assert result.exit_code == 1
    assert str(broken) in result.output


_AT = ["--secret", "pay/db", "--key", "password"]
_PLACE = {"environment": "production", "secret": "pay/db", "key": "password"}


def test_keys_fingerprint_matches_the_controller(key_dir: Path, env_file: Path) -> None:
    result = _run(key_dir, ["keys", "fingerprint", "--env", "production", *_AT], stdin="hunter2\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == _keyring(key_dir).fingerprint(b"hunter2", **_PLACE)
    raw = _run(
        key_dir, ["keys", "fingerprint", "--env", "production", *_AT, "--raw"], stdin="hunter2\n"
    )
    assert raw.stdout.strip() == _keyring(key_dir).fingerprint(b"hunter2\n", **_PLACE)
    unknown = _run(key_dir, ["keys", "fingerprint", "--env", "staging", *_AT], stdin="x")
    assert unknown.exit_code == 1
    assert "no fingerprint key for environment 'staging'" in unknown.output


def test_propose_writes_a_valid_change_with_sealed_values(
    tmp_path: Path, key_dir: Path, env_file: Path
) -> None:
    out_dir = tmp_path / "changes"
    result = _run(
        key_dir,
        [
            "propose",
            "--env-file",
            str(env_file),
            "--secret",
            "payments/stripe",
            "--set",
            "API_KEY",
            "--set",
            "WEBHOOK",
            "--generate",
            "SESSION:48",
            "--generate",
            "SALT",
            "--delete",
            "OLD",
            "--reason",
            "rotate after INC-7",
            "--tier",
            "critical",
            "--base-version",
            "3",
            "--name",
            "rotate-stripe",
            "--out-dir",
            str(out_dir),
        ],
        stdin="API_KEY=sk=with=equals\nWEBHOOK=whsec_1\n",
    )
    assert result.exit_code == 0, result.output
    path = out_dir / "production" / "rotate-stripe.yaml"
    assert result.stdout.strip() == str(path)
    data = path.read_bytes()
    assert b"sk=with=equals" not in data
    assert b"whsec_1" not in data
    [change] = parse_changes("changes/production/rotate-stripe.yaml", data)
    assert (change.environment, change.secret, change.reason) == (
        "production",
        "payments/stripe",
        "rotate after INC-7",
    )
    assert (change.tier, change.base_version, change.delete) == ("critical", 3, ("OLD",))
    assert {k: v.length for k, v in change.generate.items()} == {"SESSION": 48, "SALT": 32}
    keyring = _keyring(key_dir)
    opened = {
        key: keyring.open(sealed, environment="production", secret="payments/stripe", key=key)
        for key, sealed in change.set.items()
    }
    assert opened == {"API_KEY": b"sk=with=equals", "WEBHOOK": b"whsec_1"}
    again = _run(
        key_dir,
        [
            "propose",
            "--env-file",
            str(env_file),
            "--secret",
            "payments/stripe",
            "--delete",
            "X",
            "--reason",
            "r",
            "--name",
            "rotate-stripe",
            "--out-dir",
            str(out_dir),
        ],
    )
    assert again.exit_code == 1
    assert "already exists" in again.output


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--set", "A", "--set", "B"], "A=1\n", "no line for B: write B=VALUE on stdin"),
        (["--set", "A"], "A=1\nB=2\n", "stdin: line 2: the name before '=' is none of the keys"),
        (
            ["--set", "API_KEY"],
            "API_KYE=1\n",
            "API_KYE was not given with --set; did you mean API_KEY?",
        ),
        (["--set", "A"], "A=1\nA=2\n", "A is given twice"),
        (["--generate", "A:x"], "", "expected KEY or KEY:LENGTH"),
        (["--generate", "A:4"], "", "--generate A: must be at least 8"),
        (["--set", "A", "--delete", "A"], "A=1\n", "--delete A: key is also in --set"),
    ],
)
def test_propose_refuses_bad_input_and_writes_nothing(
    *, tmp_path: Path, key_dir: Path, env_file: Path, args: list[str], stdin: str, message: str
) -> None:
    out_dir = tmp_path / "out"
    result = _run(
        key_dir,
        [
            "propose",
            "--env-file",
            str(env_file),
            "--secret",
            "ns/app",
            "--reason",
            "r",
            "--out-dir",
            str(out_dir),
            *args,
        ],
        stdin=stdin,
    )
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "=1" not in result.output
    assert not out_dir.exists()
