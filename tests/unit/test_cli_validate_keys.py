"""`sealgate validate --key-dir` opens every sealed value where it claims to belong."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from controller.keyring import KEY_DIR_VARIABLE
from controller.paths import data_dir

CANARY = "canary-validate-8d1f2a"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "environments"


def _requests_repo(
    tmp_path: Path, extra_spec: dict[str, object] | None = None
) -> tuple[Path, Path]:
    """A requests repository whose production key lives in a fresh key directory."""
    keys = tmp_path / "keys"
    runner = CliRunner()
    init = runner.invoke(
        main,
        ["keys", "init", "--env", "production", "--new-kek"],
        env={KEY_DIR_VARIABLE: str(keys)},
    )
    assert init.exit_code == 0, init.output
    entry = yaml.safe_load(init.stdout)
    repo = tmp_path / "repo"
    shutil.copytree(data_dir("policies"), repo / "policies")
    (repo / "environments").mkdir()
    # The shipped policies name staging too; its example file carries its own public key.
    shutil.copy(EXAMPLES / "staging.yaml", repo / "environments" / "staging.yaml")
    environment = {
        "apiVersion": "sealgate.dev/v1",
        "kind": "Environment",
        "metadata": {"name": "production"},
        "spec": {
            "sealingKeys": entry["sealingKeys"],
            "clusters": ["prod-eu-1"],
            "namespaces": ["payments"],
            **(extra_spec or {}),
        },
    }
    (repo / "environments" / "production.yaml").write_text(yaml.safe_dump(environment))
    proposed = runner.invoke(
        main,
        [
            "propose",
            "--env-file",
            str(repo / "environments" / "production.yaml"),
            "--secret",
            "payments/stripe",
            "--set",
            "STRIPE_KEY",
            "--reason",
            "rotate after the vendor's notice",
            "--out-dir",
            str(repo / "changes"),
        ],
        input=f"STRIPE_KEY={CANARY}\n",
    )
    assert proposed.exit_code == 0, proposed.output
    return repo, keys


def _validate(repo: Path, keys: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", str(repo), "--key-dir", str(keys)])
    return result.exit_code, result.output


def test_values_sealed_for_their_place_open(tmp_path: Path) -> None:
    repo, keys = _requests_repo(tmp_path)
    code, output = _validate(repo, keys)
    assert code == 0, output
    assert CANARY not in output


def test_a_value_moved_to_another_key_is_reported_without_the_value(tmp_path: Path) -> None:
    repo, keys = _requests_repo(tmp_path)
    (change,) = (repo / "changes" / "production").glob("*.yaml")
    change.write_text(change.read_text().replace("STRIPE_KEY:", "OTHER_KEY:"))
    code, output = _validate(repo, keys)
    assert code == ExitCode.INVALID
    assert "spec.set.OTHER_KEY" in output
    assert "does not open" in output
    assert CANARY not in output
    sealed = yaml.safe_load(change.read_text())["spec"]["set"]["OTHER_KEY"]
    assert sealed not in output


def test_a_binding_error_has_its_line_and_a_runnable_seal_command(tmp_path: Path) -> None:
    repo, keys = _requests_repo(tmp_path)
    (change,) = (repo / "changes" / "production").glob("*.yaml")
    change.write_text(change.read_text().replace("STRIPE_KEY:", "OTHER_KEY:"))
    line = 1 + change.read_text().splitlines().index(
        next(text for text in change.read_text().splitlines() if "OTHER_KEY:" in text)
    )
    code, output = _validate(repo, keys)
    assert code == ExitCode.INVALID
    name = f"changes/production/{change.name}"
    (reported,) = [text for text in output.splitlines() if "spec.set.OTHER_KEY" in text]
    assert reported.startswith(f"{name}:{line}: spec.set.OTHER_KEY: sealed value does not open")
    assert (
        "`sealgate seal --env-file environments/production.yaml --secret payments/stripe "
        "--key OTHER_KEY`"
    ) in reported


def test_a_value_sealed_to_an_unknown_key_is_reported(tmp_path: Path) -> None:
    repo, _ = _requests_repo(tmp_path)
    other_keys = tmp_path / "other-keys"
    init = CliRunner().invoke(
        main,
        ["keys", "init", "--env", "production", "--new-kek"],
        env={KEY_DIR_VARIABLE: str(other_keys)},
    )
    assert init.exit_code == 0, init.output
    code, output = _validate(repo, other_keys)
    assert code == ExitCode.INVALID
    assert "spec.set.STRIPE_KEY" in output


def test_a_missing_key_directory_is_a_usage_error(tmp_path: Path) -> None:
    repo, _ = _requests_repo(tmp_path)
    code, output = _validate(repo, tmp_path / "nowhere")
    assert code == 2
    assert "no such directory" in output


def test_a_value_too_weak_for_its_tier_is_reported_without_the_value(tmp_path: Path) -> None:
    strict: dict[str, object] = {
        "defaultTier": "critical",
        "valuePolicy": {"critical": {"minLength": 40}},
    }
    repo, keys = _requests_repo(tmp_path, strict)
    code, output = _validate(repo, keys)
    assert code == ExitCode.INVALID
    assert "spec.set.STRIPE_KEY" in output
    assert "too short for tier 'critical'" in output
    assert "minLength" in output
    assert CANARY not in output


def test_a_reason_quoting_its_value_is_reported_without_the_value(tmp_path: Path) -> None:
    repo, keys = _requests_repo(tmp_path)
    (change,) = (repo / "changes").rglob("*.yaml")
    doc = yaml.safe_load(change.read_text())
    doc["spec"]["reason"] = f"the new key is {CANARY}"
    change.write_text(yaml.safe_dump(doc))
    code, output = _validate(repo, keys)
    assert code == ExitCode.INVALID, output
    assert "spec.reason: quotes the value of spec.set.STRIPE_KEY" in output
    assert CANARY not in output
