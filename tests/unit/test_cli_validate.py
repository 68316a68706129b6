"""``sealgate validate`` end to end through click: output lines, summary, exit status."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path, PurePosixPath

import pytest
import yaml
from click.testing import CliRunner, Result

from controller.cli import main
from controller.cli._files import read_tree
from controller.cli.exit_codes import ExitCode
from controller.cli.validate import validate_paths
from controller.documents import Rules
from controller.errors import Problem
from controller.model import SecretChange
from controller.paths import data_dir
from tests.unit.test_documents import CHANGE, POLICY, dump
from tests.unit.test_documents_fields import mutated

ROOT = Path(__file__).resolve().parents[2]
CANARY = "plaintext-canary-4b1d"
PROD_SEALED = "sg1:prod-2026-11:c2VhbGVk"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["validate", *map(str, args)], catch_exceptions=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "requests"
    (root / "environments").mkdir(parents=True)
    for name in ("production", "staging"):
        shutil.copy(ROOT / "examples" / "environments" / f"{name}.yaml", root / "environments")
    (root / "policies").mkdir()
    (root / "policies" / "production.yaml").write_bytes(dump(POLICY))
    (root / "changes" / "production").mkdir(parents=True)
    change = mutated(CHANGE, (("spec", "set", "STRIPE_KEY"), PROD_SEALED))
    (root / "changes" / "production" / "rotate.yaml").write_bytes(dump(change))
    (root / "README.md").write_text("# requests\n")
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yaml").write_text("on: push\n")
    return root


def test_valid_repository(repo: Path) -> None:
    result = run(repo)
    assert result.exit_code == 0, result.output
    assert result.stdout == "valid: 4 files, 4 documents\n"
    # Outside git there is no pull request to compare with: say that everything was judged.
    assert result.stderr == (
        f"{repo.as_posix()}: not in a git checkout: judging every file under changes/ and access/, "
        "applied ones included\n"
    )


def test_command_is_listed() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "validate" in result.output


def test_problems_are_printed_one_per_line_then_a_summary(repo: Path) -> None:
    bad = mutated(CHANGE, (("spec", "set"), {"DB PASS": PROD_SEALED}), (("spec", "tier"), "x"))
    (repo / "changes" / "production" / "bad.yaml").write_bytes(dump(bad))
    result = run(repo)
    assert result.exit_code == ExitCode.INVALID
    assert result.stdout.splitlines() == [
        "changes/production/bad.yaml:10: spec.set.DB PASS: key must match [-._a-zA-Z0-9]+",
        "changes/production/bad.yaml:11: spec.tier: must be one of standard, sensitive, critical",
        "invalid: 2 problems in 1 file (5 files read)",
    ]


def test_repository_checks_run_across_files(repo: Path) -> None:
    moved = mutated(CHANGE, (("spec", "set", "STRIPE_KEY"), "sg1:staging-2026-11:AAAA"))
    (repo / "changes" / "staging").mkdir()
    (repo / "changes" / "staging" / "oops.yaml").write_bytes(dump(moved))
    lines = run(repo).stdout.splitlines()
    assert lines[0] == (
        "changes/staging/oops.yaml:6: spec.environment: a change to environment "
        "'production' must live under changes/production/: move the file or fix "
        "spec.environment"
    )
    assert lines[1].startswith(
        "changes/staging/oops.yaml:10: spec.set.STRIPE_KEY: is sealed to key id "
        "'staging-2026-11', which is not among environment 'production' sealing keys"
    )
    assert lines[2].startswith(
        "changes/staging/oops.yaml:10: spec.set.STRIPE_KEY: key of "
        "production/payments/stripe is also changed by changes/production/rotate.yaml"
    )
    assert lines[3] == "invalid: 3 problems in 1 file (5 files read)"


def test_broken_rules_are_reported_and_changes_still_checked(repo: Path) -> None:
    (repo / "policies" / "production.yaml").write_bytes(
        dump(mutated(POLICY, (("spec", "environments"), ["prodution"])))
    )
    (repo / "changes" / "production" / "rotate.yaml").write_bytes(b"kind: [\n")
    lines = run(repo).stdout.splitlines()
    # libyaml and PyYAML's own parser word the rest differently.
    assert lines[0].startswith(
        "changes/production/rotate.yaml:2: not valid YAML: while parsing a flow node, "
    )
    assert lines[1:] == [
        "policies/production.yaml:8: spec.environments[0]: no environment named 'prodution' "
        "in environments/ (there are: production, staging): fix the name, or use '*' or "
        "'governance'",
        "invalid: 2 problems in 2 files (4 files read)",
    ]


def test_plaintext_is_never_echoed(repo: Path) -> None:
    leaked = mutated(CHANGE, (("spec", "set", "STRIPE_KEY"), CANARY))
    path = repo / "changes" / "production" / "rotate.yaml"
    path.write_bytes(dump(leaked))
    for args in ((repo,), (path,), (repo, "--output", "json")):
        result = run(*args)
        assert result.exit_code == ExitCode.INVALID
        assert CANARY not in result.output
        assert "rotate this secret" in result.output
    broken = dump(leaked).replace(CANARY.encode(), CANARY.encode() + b': "oops')
    path.write_bytes(broken)
    result = run(path)
    assert result.exit_code == ExitCode.INVALID
    assert CANARY not in result.output


def test_json_output(repo: Path, tmp_path: Path) -> None:
    valid = json.loads(run("--output", "json", repo).stdout)
    assert valid == {
        "valid": True,
        "files": 4,
        "documents": 4,
        "problems": [],
        "compared": [
            {
                "path": repo.as_posix(),
                "base": None,
                "mergeBase": None,
                "judged": None,
                "note": "not in a git checkout: judging every file under changes/ and access/,"
                " applied ones included",
            }
        ],
    }
    path = tmp_path / "blank.yaml"
    path.write_bytes(dump(mutated(CHANGE, (("spec", "reason"), " "))))
    result = run("--output", "json", path)
    assert result.exit_code == ExitCode.INVALID
    assert json.loads(result.stdout) == {
        "valid": False,
        "files": 1,
        "documents": 0,
        "problems": [
            {
                "file": path.as_posix(),
                "line": 8,
                "field": "spec.reason",
                "message": "must not be blank: say why this change is needed",
            }
        ],
        "compared": [],
    }


def test_single_files_and_plain_directories(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "nested").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    (folder / "policy.yml").write_bytes(dump(POLICY))
    (folder / "nested" / "change.yaml").write_bytes(dump(CHANGE, CHANGE))
    (folder / ".hidden" / "broken.yaml").write_bytes(b": : :")
    (folder / "notes.txt").write_text("not YAML")
    result = run(folder, folder / "policy.yml")
    assert result.exit_code == 0, result.output
    assert result.stdout == "valid: 3 files, 4 documents\n"


def test_missing_path(tmp_path: Path) -> None:
    result = run(tmp_path / "nope.yaml")
    assert result.exit_code == ExitCode.INVALID
    assert result.stdout.splitlines() == [
        f"{(tmp_path / 'nope.yaml').as_posix()}: no such file or directory",
        "invalid: 1 problem in 1 file (0 files read)",
    ]


def test_oversized_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(8 * 1024**3)  # sparse: reading it whole would take seconds
    result = run(big)
    assert result.exit_code == ExitCode.INVALID
    assert f"over the {256 * 1024} byte limit" in result.output


def test_symlinks_out_of_the_tree_are_not_followed(tmp_path: Path, repo: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_bytes(b"secret: material\n")
    changes = repo / "changes" / "production"
    (changes / "link.yaml").symlink_to(outside)
    (changes / "inside.yaml").symlink_to(changes / "rotate.yaml")
    (changes / "dir-link").symlink_to(tmp_path, target_is_directory=True)
    (changes / "dangling.yaml").symlink_to(changes / "gone.yaml")
    lines = run(repo).stdout.splitlines()
    assert lines[:3] == [
        "changes/production/dangling.yaml: cannot read: No such file or directory",
        "changes/production/dir-link: symbolic link leads outside the tree (or nowhere) and "
        "was not followed: copy the file into the tree",
        "changes/production/link.yaml: symbolic link leads outside the tree (or nowhere) and "
        "was not followed: copy the file into the tree",
    ]
    # The in-tree link is read, and so changes the same key as rotate.yaml.
    assert lines[3].startswith("changes/production/rotate.yaml:10: spec.set.STRIPE_KEY: key")
    assert "material" not in "\n".join(lines)


def test_special_files_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result = run(tmp_path)
    assert result.exit_code == ExitCode.INVALID
    assert result.stdout.splitlines()[0] == (
        f"{fifo.as_posix()}: not a regular file: name a file or a directory"
    )


def test_sealed_value_hook_sees_every_valid_change(repo: Path) -> None:
    seen: list[SecretChange] = []

    def refuse_all(change: SecretChange, rules: Rules | None) -> list[Problem]:
        assert rules is not None
        seen.append(change)
        return [Problem(change.source, "spec.set.STRIPE_KEY", "does not open")]

    report = validate_paths([repo], check_sealed=refuse_all)
    assert [change.name for change in seen] == ["rotate-stripe"]
    text = (repo / "changes" / "production" / "rotate.yaml").read_text().splitlines()
    line = 1 + next(i for i, t in enumerate(text) if t.strip().startswith("STRIPE_KEY:"))
    # The hook names the field; validate adds the line it is on.
    assert [str(p) for p in report.problems] == [
        f"changes/production/rotate.yaml:{line}: spec.set.STRIPE_KEY: does not open"
    ]
    assert not report.valid


def test_repository_documents_keep_repository_relative_names(repo: Path) -> None:
    (repo / "environments" / "staging.yaml").write_text(
        yaml.safe_dump({"apiVersion": "sealgate.dev/v1", "kind": "Environment"})
    )
    first = run(repo).stdout.splitlines()[0]
    assert first == "environments/staging.yaml:1: metadata: required field is missing: add it"


def test_undecodable_file_names_are_printed(tmp_path: Path) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    (folder / os.fsdecode(b"bad\xff.yaml")).write_bytes(b"a: *x\n")
    result = run(folder)
    assert result.exit_code == ExitCode.INVALID
    assert result.stdout.splitlines()[0] == (
        f"{folder.as_posix()}/bad\ufffd.yaml:1: a: YAML aliases (*name) are not allowed: "
        "write the value out in full"
    )


def test_unlistable_directory_is_reported(tmp_path: Path) -> None:
    # Root reads any directory regardless of its mode, so provoke the listing error by
    # handing the walker something that is not a directory at all.
    not_a_directory = tmp_path / "file.yaml"
    not_a_directory.write_bytes(dump(CHANGE))
    read = read_tree(not_a_directory, PurePosixPath("changes"))
    assert read.files == {}
    assert [str(p) for p in read.problems] == ["changes: cannot read directory: Not a directory"]


def test_shipped_examples_validate_together(tmp_path: Path) -> None:
    root = tmp_path / "requests"
    shutil.copytree(ROOT / "examples" / "environments", root / "environments")
    shutil.copytree(data_dir("policies"), root / "policies")
    result = run(root)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("valid: ")


def test_a_soft_policy_nobody_can_bypass_is_a_warning(repo: Path) -> None:
    soft = mutated(POLICY, (("spec", "enforcement"), "soft"))
    path = repo / "policies" / "production.yaml"
    path.write_bytes(dump(soft))
    line = 1 + next(
        i for i, t in enumerate(path.read_text().splitlines()) if t.strip().startswith("enforce")
    )
    result = CliRunner().invoke(main, ["validate", str(repo)])
    assert result.exit_code == 0, result.output  # valid: a warning changes no exit status
    assert (
        f"warning: policies/production.yaml:{line}: spec.enforcement: soft, but the policy "
        "lists no bypassers: nobody can bypass it"
    ) in result.stderr
    body = json.loads(run("--output", "json", repo).stdout)
    assert body["valid"] is True
    assert [w["field"] for w in body["warnings"]] == ["spec.enforcement"]
    # A single file gets the same warning; with bypassers there is none.
    single = CliRunner().invoke(main, ["validate", str(path)])
    assert "nobody can bypass it" in single.stderr
    bypassed = mutated(soft, (("spec", "bypassers"), {"users": ["alice"]}))
    path.write_bytes(dump(bypassed))
    assert "nobody can bypass" not in CliRunner().invoke(main, ["validate", str(repo)]).stderr
