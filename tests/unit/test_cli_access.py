"""``sealgate validate`` and ``sealgate plan`` on access request files, as on change files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from controller.cli import main
from tests.unit.test_cli_plan import approve, environment, write_facts
from tests.unit.test_cli_validate import ROOT

ACCESS = """\
apiVersion: sealgate.dev/v1
kind: AccessRequest
metadata: {name: incident-4711-stripe}
spec:
  environment: production
  secrets:
    - {secret: payments/stripe, keys: [STRIPE_API_KEY]}
  requester: dev1
  reason: Investigating failed payouts, incident 4711
  duration: 2h
  activateWithin: 24h
"""
ACCESS_POLICY = """\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata: {name: production-access}
spec:
  environments: [production]
  actions: [access]
  maxDuration: 4h
  approvals: {required: 1, teams: [acme/sre]}
"""
GOVERNANCE = """\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata: {name: governance}
spec:
  environments: [governance]
  approvals: {required: 1, teams: [acme/sre]}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "requests"
    (root / "environments").mkdir(parents=True)
    for name in ("production", "staging"):
        shutil.copy(ROOT / "examples" / "environments" / f"{name}.yaml", root / "environments")
    (root / "policies").mkdir()
    (root / "policies" / "access.yaml").write_text(ACCESS_POLICY)
    (root / "policies" / "governance.yaml").write_text(GOVERNANCE)
    (root / "access" / "production").mkdir(parents=True)
    (root / "access" / "production" / "incident-4711.yaml").write_text(ACCESS)
    return root


def validate(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["validate", *map(str, args)], catch_exceptions=False)


def test_validate_reads_access_files_as_requests(repo: Path) -> None:
    result = validate(repo)
    assert result.exit_code == 0, result.output
    assert result.stdout == "valid: 5 files, 5 documents\n"


def test_validate_names_file_line_field_and_fix(repo: Path) -> None:
    bad = ACCESS.replace("duration: 2h", "duration: 2hours")
    (repo / "access" / "production" / "incident-4711.yaml").write_text(bad)
    result = validate(repo)
    assert result.exit_code == 5
    assert (
        "access/production/incident-4711.yaml:10: spec.duration: must be a whole number and a"
        " unit m, h, d or w"
    ) in result.stdout


def test_validate_refuses_a_request_in_the_wrong_directory(repo: Path) -> None:
    (repo / "access" / "staging").mkdir()
    (repo / "access" / "staging" / "x.yaml").write_text(ACCESS)
    result = validate(repo)
    assert result.exit_code == 5
    assert (
        "access/staging/x.yaml:5: spec.environment: an access request for environment"
        " 'production' must live under access/production/"
    ) in result.stdout


def test_validate_a_single_access_file(repo: Path) -> None:
    result = validate(repo / "access" / "production" / "incident-4711.yaml")
    assert result.exit_code == 0, result.output


def test_validate_refuses_a_change_document_under_access(repo: Path) -> None:
    text = ACCESS.replace("kind: AccessRequest", "kind: SecretChange")
    (repo / "access" / "production" / "incident-4711.yaml").write_text(text)
    result = validate(repo)
    assert result.exit_code == 5
    assert "kind: must be AccessRequest here" in result.stdout


@pytest.fixture
def plan_repo(tmp_path: Path) -> Path:
    config = tmp_path / "base"
    (config / "policies").mkdir(parents=True)
    (config / "policies" / "access.yaml").write_text(ACCESS_POLICY)
    (config / "environments").mkdir()
    for name in ("production", "staging"):
        (config / "environments" / f"{name}.yaml").write_text(environment(name))
    path = tmp_path / "head" / "access" / "production" / "incident-4711.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(ACCESS)
    return tmp_path


def plan_json(repo: Path, *files: Path) -> tuple[int, dict[str, Any]]:
    arguments = ["plan", "--config", str(repo / "base"), "--facts", str(repo / "facts.json")]
    result = CliRunner().invoke(main, [*arguments, "--output", "json", *map(str, files)])
    return result.exit_code, json.loads(result.output)


def test_plan_judges_an_access_request(plan_repo: Path) -> None:
    write_facts(
        plan_repo,
        reviews=approve("alice"),
        changed_files=["access/production/incident-4711.yaml"],
        comments=[
            {
                "user": "alice",
                "body": "/sealgate approve-for 30m",
                "created_at": "2026-11-20T10:05:00Z",
            }
        ],
    )
    code, body = plan_json(plan_repo, plan_repo / "head" / "access")
    assert (code, body["decision"]) == (0, "approved"), body["reasons"]
    assert body["access"] is True
    assert body["grantedDuration"] == "30m"
    assert body["tiers"] == {"production/payments/stripe": "sensitive"}
    assert [p["name"] for p in body["policies"]] == ["production-access"]


def test_plan_of_access_by_someone_else_is_invalid(plan_repo: Path) -> None:
    write_facts(
        plan_repo,
        author="mallory",
        reviews=approve("alice"),
        changed_files=["access/production/incident-4711.yaml"],
    )
    code, body = plan_json(plan_repo, plan_repo / "head" / "access")
    assert (code, body["decision"]) == (5, "invalid")
    assert any("spec.requester: 'dev1' is not the author" in r for r in body["reasons"])


def test_plan_of_a_change_keeps_its_json_shape(plan_repo: Path) -> None:
    write_facts(plan_repo)
    _, body = plan_json(plan_repo)
    assert "access" not in body
    assert "grantedDuration" not in body


def test_validate_an_access_file_without_rules_checks_the_file(tmp_path: Path) -> None:
    path = tmp_path / "access" / "production" / "incident-4711.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(ACCESS.replace("requester: dev1", "requester: 'not a login'"))
    result = validate(path)
    assert result.exit_code == 5
    assert (
        "access/production/incident-4711.yaml:8: spec.requester: must be a GitHub login"
        in result.stdout
    )
