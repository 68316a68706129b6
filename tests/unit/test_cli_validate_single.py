"""One file is judged by every rule ``validate .`` would judge it by.

Editors and pre-commit hooks check single files. For each rule a requests repository's
validation applies to a file, the table plants a file breaking it and checks that
``sealgate validate FILE`` reports exactly what ``sealgate validate ROOT`` reports.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from controller.cli.validate import validate_paths
from controller.paths import data_dir
from tests.unit.test_documents import CHANGE, ENVIRONMENT, POLICY, SEALED, dump
from tests.unit.test_documents_fields import mutated

ROOT = Path(__file__).resolve().parents[2]
ZZ = mutated(POLICY, (("metadata", "name"), "zz"))
STAGING = "sg1:staging-2026-11:c2VhbGVkLWJ5dGVzLW5vdC1hLXNlY3JldA"


def _tiered(secret: str, key: str, tier: str) -> dict[str, Any]:
    return mutated(
        CHANGE,
        (("spec", "secret"), secret),
        (("spec", "set"), {key: SEALED}),
        (("spec", "tier"), tier),
    )


# (rule, file, content, field of the problem that file must get)
RULES: list[tuple[str, str, bytes, str]] = [
    (
        "directory names the environment",
        "changes/staging/c.yaml",
        dump(CHANGE),
        "spec.environment",
    ),
    (
        "environment exists",
        "changes/prod/c.yaml",
        dump(mutated(CHANGE, (("spec", "environment"), "prod"))),
        "spec.environment",
    ),
    (
        "kind matches the directory (changes/)",
        "changes/production/c.yaml",
        dump(ENVIRONMENT),
        "kind",
    ),
    (
        "namespace listed by the environment",
        "changes/production/c.yaml",
        dump(mutated(CHANGE, (("spec", "secret"), "billing/stripe"))),
        "spec.secret",
    ),
    (
        "reserved namespace",
        "changes/production/c.yaml",
        dump(mutated(CHANGE, (("spec", "secret"), "kube-system/stripe"))),
        "spec.secret",
    ),
    (
        "sealed to a key of the environment",
        "changes/production/c.yaml",
        dump(mutated(CHANGE, (("spec", "set", "STRIPE_KEY"), STAGING))),
        "spec.set.STRIPE_KEY",
    ),
    (
        "each key changed by one document",
        "changes/production/c.yaml",
        dump(CHANGE, CHANGE),
        "spec.set.STRIPE_KEY",
    ),
    (
        "tier not below the floor",
        "changes/production/c.yaml",
        dump(_tiered("payments/stripe", "STRIPE_KEY", "standard")),
        "spec.tier",
    ),
    (
        "one tier per secret",
        "changes/production/c.yaml",
        dump(_tiered("web/session", "A", "standard"), _tiered("web/session", "B", "sensitive")),
        "spec.tier",
    ),
    (
        "schema",
        "changes/production/c.yaml",
        dump(mutated(CHANGE, (("spec", "set"), {"DB PASS": SEALED}))),
        "spec.set.DB PASS",
    ),
    (
        "values are sealed",
        "changes/production/c.yaml",
        dump(mutated(CHANGE, (("spec", "set", "STRIPE_KEY"), "plain-text"))),
        "spec.set.STRIPE_KEY",
    ),
    (
        "environment named as its file",
        "environments/qa.yaml",
        dump(ENVIRONMENT),
        "metadata.name",
    ),
    (
        "one environment per file",
        "environments/qa.yaml",
        dump(*[mutated(ENVIRONMENT, (("metadata", "name"), "qa"))] * 2),
        "",
    ),
    (
        "environments are not nested",
        "environments/eu/qa.yaml",
        dump(mutated(ENVIRONMENT, (("metadata", "name"), "qa"))),
        "",
    ),
    (
        "kind matches the directory (environments/)",
        "environments/qa.yaml",
        dump(POLICY),
        "kind",
    ),
    (
        "policy names existing environments",
        "policies/zz.yaml",
        dump(mutated(ZZ, (("spec", "environments"), ["prodution"]))),
        "spec.environments[0]",
    ),
    (
        "policy names are unique",
        "policies/zz.yaml",
        dump(mutated(POLICY, (("metadata", "name"), "governance"))),
        "metadata.name",
    ),
    (
        "one policy per file",
        "policies/zz.yaml",
        dump(ZZ, mutated(ZZ, (("metadata", "name"), "other"))),
        "",
    ),
    (
        "kind matches the directory (policies/)",
        "policies/zz.yaml",
        dump(CHANGE),
        "kind",
    ),
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A requests repository without changes: shipped policies, example environments, and a
    tier floor for payments."""
    repo = tmp_path / "requests"
    shutil.copytree(ROOT / "examples" / "environments", repo / "environments")
    shutil.copytree(data_dir("policies"), repo / "policies")
    production = repo / "environments" / "production.yaml"
    document = yaml.safe_load(production.read_text())
    document["spec"]["tierFloors"] = [{"secrets": ["payments/**"], "tier": "critical"}]
    production.write_text(yaml.safe_dump(document))
    return repo


@pytest.mark.parametrize(
    ("rule", "name", "content", "field"), RULES, ids=[rule for rule, *_ in RULES]
)
def test_a_single_file_gets_every_problem_the_repository_gives_it(
    root: Path, rule: str, name: str, content: bytes, field: str
) -> None:
    assert validate_paths([root]).valid, rule
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)

    whole = [str(p) for p in validate_paths([root]).problems]
    alone = [str(p) for p in validate_paths([path]).problems]
    assert alone == whole
    assert [p for p in validate_paths([path]).problems if p.file == name and p.field == field]


def test_the_command_line_prints_file_line_field_fix(root: Path) -> None:
    path = root / "changes" / "production" / "c.yaml"
    path.parent.mkdir(parents=True)
    path.write_bytes(dump(mutated(CHANGE, (("spec", "environment"), "prod"))))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == ExitCode.INVALID
    assert result.stdout.splitlines() == [
        "changes/production/c.yaml:6: spec.environment: a change to environment 'prod' must "
        "live under changes/prod/: move the file or fix spec.environment",
        "changes/production/c.yaml:6: spec.environment: no environment named 'prod' (there "
        "are: production, staging)",
        "invalid: 2 problems in 1 file (1 file read)",
    ]
    # A single file says nothing about what was compared: it is judged, whatever git says.
    assert result.stderr == ""


def test_a_directory_inside_the_repository_is_judged_with_its_rules(root: Path) -> None:
    folder = root / "changes" / "staging"
    folder.mkdir(parents=True)
    (folder / "c.yaml").write_bytes(dump(CHANGE))
    problems = [(p.file, p.field) for p in validate_paths([folder]).problems]
    assert problems == [("changes/staging/c.yaml", "spec.environment")]


def test_without_rules_the_path_is_still_judged(tmp_path: Path) -> None:
    # No environments/ anywhere up the tree: what needs the rules cannot be checked, what
    # needs only the path and the file can.
    path = tmp_path / "changes" / "staging" / "c.yaml"
    path.parent.mkdir(parents=True)
    path.write_bytes(dump(CHANGE, CHANGE))
    report = validate_paths([path])
    assert [(p.file, p.line, p.field) for p in report.problems] == [
        ("changes/staging/c.yaml", 6, "spec.environment"),
        ("changes/staging/c.yaml", 17, "spec.environment"),
        ("changes/staging/c.yaml", 21, "spec.set.STRIPE_KEY"),
    ]
    assert "also changed by" in report.problems[2].message
