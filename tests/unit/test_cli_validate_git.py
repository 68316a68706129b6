"""``sealgate validate`` in a git checkout judges the pull request, as the controller does.

A real requests repository in git, built from ``examples/`` and the shipped policies, with a
bare ``origin``: changes are proposed with ``sealgate propose``, merged into ``main`` and
pushed, so applied change files stay under ``changes/`` as history.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from controller.cli import main
from controller.cli._scope import repository_scope
from controller.cli.exit_codes import ExitCode
from controller.cli.validate import validate_paths
from controller.paths import data_dir
from controller.reconciler.judging import judge_documents

ROOT = Path(__file__).resolve().parents[2]
SECRET = "payments/db"
DUPLICATE = "key of production/payments/db is also changed by"


class Checkout:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(path.parent),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Dev",
            "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "Dev",
            "GIT_COMMITTER_EMAIL": "dev@example.com",
        }

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.path, env=self.env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def commit_all(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def propose(self, value: str, *, name: str, secret: str = SECRET) -> str:
        """``sealgate propose`` run at the repository root; the new file's relative name."""
        result = CliRunner().invoke(
            main,
            [
                "propose",
                "--env-file",
                str(self.path / "environments" / "production.yaml"),
                "--secret",
                secret,
                "--set",
                "DB_PASSWORD",
                "--reason",
                "rotate the database password",
                "--name",
                name,
                "--out-dir",
                str(self.path / "changes"),
            ],
            input=f"DB_PASSWORD={value}\n",
        )
        assert result.exit_code == 0, result.output
        return Path(result.stdout.strip()).relative_to(self.path).as_posix()

    def merge(self, branch: str) -> None:
        """Merge ``branch`` into main on origin, as a merged pull request would."""
        self.git("checkout", "-q", "main")
        self.git("merge", "-q", "--no-ff", "-m", f"Merge {branch}", branch)
        self.git("push", "-q", "origin", "main")


def validate(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["validate", *map(str, args)], catch_exceptions=False)


@pytest.fixture
def checkout(tmp_path: Path) -> Checkout:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    work = Checkout(tmp_path / "requests")
    work.path.mkdir()
    work.git("init", "-q", "-b", "main")
    shutil.copytree(ROOT / "examples" / "environments", work.path / "environments")
    shutil.copytree(data_dir("policies"), work.path / "policies")
    work.commit_all("Rules")
    work.git("remote", "add", "origin", str(origin))
    work.git("push", "-q", "-u", "origin", "main")
    work.git("remote", "set-head", "origin", "main")
    return work


def rotate_once(checkout: Checkout) -> str:
    """The first rotation of payments/db DB_PASSWORD, merged; its file's name."""
    checkout.git("checkout", "-q", "-b", "rotate-1")
    first = checkout.propose("first-password-9f8e7d6c", name="payments-db-1")
    checkout.commit_all("Rotate the database password")
    checkout.merge("rotate-1")
    return first


def test_a_key_can_be_rotated_twice(checkout: Checkout) -> None:
    first = rotate_once(checkout)
    checkout.git("checkout", "-q", "-b", "rotate-2")
    second = checkout.propose("second-password-1a2b3c4d", name="payments-db-2")

    result = validate(checkout.path)
    assert result.exit_code == 0, result.output
    # Two environments, every example policy, and the one change not merged yet.
    files = 2 + len(list(data_dir("policies").glob("*.yaml"))) + 1
    assert result.stdout == f"valid: {files} files, {files} documents\n"
    fork = checkout.git("rev-parse", "origin/main")
    assert result.stderr == (
        f"{checkout.path.as_posix()}: comparing the working tree with origin/HEAD "
        f"(merge-base {fork[:12]}): judging 1 added or modified change file; rules from "
        "the working tree\n"
    )
    judged = json.loads(validate(checkout.path, "--output", "json").stdout)["compared"]
    assert judged == [
        {
            "path": checkout.path.as_posix(),
            "base": "origin/HEAD",
            "mergeBase": fork,
            "judged": [second],
            "note": judged[0]["note"],
        }
    ]
    # Committed or not, the same pull request.
    checkout.commit_all("Rotate it again")
    assert validate(checkout.path).exit_code == 0

    # --all judges the history too, and the applied rotation then collides with this one.
    everything = validate(checkout.path, "--all")
    assert everything.exit_code == ExitCode.INVALID
    assert [line.split(": ", 1)[0] for line in everything.stdout.splitlines()[:-1]] == [
        f"{second}:10"
    ]
    assert f"{DUPLICATE} {first}" in everything.stdout
    assert "--all: judging every file under changes/ and access/, applied ones included" in (
        everything.stderr
    )


def test_validate_reports_what_the_controller_reports_for_the_pull_requests_files(
    checkout: Checkout,
) -> None:
    rotate_once(checkout)
    checkout.git("checkout", "-q", "-b", "rotate-2")
    checkout.propose("second-password-1a2b3c4d", name="payments-db-2")
    stray = checkout.propose("third-password-5e6f7a8b", name="kube", secret="kube-system/db")
    # Edited after it was applied: the pull request changes it again, so it is judged again.
    edited = checkout.path / "changes" / "production" / "payments-db-1.yaml"
    edited.write_text(edited.read_text().replace("rotate the", "re-rotate the"))
    # A governance edit: the rules it leaves behind are judged too (and hold).
    policy = checkout.path / "policies" / "staging-single-approval.yaml"
    policy.write_text(policy.read_text().replace("one approval", "a single approval"))
    checkout.commit_all("Several changes")

    result = validate(checkout.path, "--output", "json")
    report = json.loads(result.stdout)
    (compared,) = report["compared"]
    judged = compared["judged"]
    assert sorted(judged) == [
        "changes/production/kube.yaml",
        "changes/production/payments-db-1.yaml",
        "changes/production/payments-db-2.yaml",
    ]
    # What the controller computes for the same files at the same rules.
    rule_files = {
        p.relative_to(checkout.path).as_posix(): p.read_bytes()
        for area in ("environments", "policies")
        for p in sorted((checkout.path / area).rglob("*.yaml"))
    }
    controller = judge_documents(
        rule_files,
        {name: (checkout.path / name).read_bytes() for name in judged},
        proposed_rule_files=rule_files,
    )
    expected = sorted((p.file, p.field, p.message) for p in controller.problems)
    got = sorted((p["file"], p["field"], p["message"]) for p in report["problems"])
    assert got == expected
    assert [problem[:2] for problem in got] == [
        (stray, "spec.secret"),
        ("changes/production/payments-db-2.yaml", "spec.set.DB_PASSWORD"),
    ]
    assert all(problem["line"] for problem in report["problems"] if problem["file"] == stray)
    assert result.exit_code == ExitCode.INVALID


def test_an_explicit_base(checkout: Checkout) -> None:
    # Two rotations stacked on branches, neither merged: against main the pull request
    # carries both, which is an error; against the first branch it carries the second only.
    checkout.git("checkout", "-q", "-b", "rotate-1")
    first = checkout.propose("first-password-9f8e7d6c", name="payments-db-1")
    checkout.commit_all("First")
    checkout.git("checkout", "-q", "-b", "rotate-2")
    checkout.propose("second-password-1a2b3c4d", name="payments-db-2")
    checkout.commit_all("Second")

    stacked = validate(checkout.path)
    assert stacked.exit_code == ExitCode.INVALID
    assert f"{DUPLICATE} {first}" in stacked.stdout
    on_first = validate(checkout.path, "--base", "rotate-1")
    assert on_first.exit_code == 0, on_first.output
    assert "comparing the working tree with rotate-1 " in on_first.stderr
    missing = validate(checkout.path, "--base", "no-such-branch")
    assert missing.exit_code == 2
    assert "--base no-such-branch: no such commit or branch" in missing.output
    both = validate(checkout.path, "--base", "main", "--all")
    assert both.exit_code == 2


def test_the_default_base_falls_back_to_main(checkout: Checkout) -> None:
    checkout.git("remote", "remove", "origin")
    checkout.git("checkout", "-q", "-b", "rotate-1")
    checkout.propose("first-password-9f8e7d6c", name="payments-db-1")
    scope = repository_scope(checkout.path, base=None, judge_all=False)
    assert scope.base == "main"
    assert scope.files is not None
    assert scope.files.judged == ("changes/production/payments-db-1.yaml",)
    # Without any branch to compare with, everything is judged, and the note says why.
    checkout.git("branch", "-q", "-m", "main", "trunk")
    orphan = repository_scope(checkout.path, base=None, judge_all=False)
    assert orphan.files is None
    assert orphan.note.startswith("no base branch found (tried origin/HEAD, main, origin/main")


def test_a_single_file_with_the_wrong_environment_fails(
    checkout: Checkout, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = checkout.propose("first-password-9f8e7d6c", name="c")
    path = checkout.path / name
    path.write_text(path.read_text().replace("environment: production", "environment: prod"))
    monkeypatch.chdir(checkout.path)
    result = validate(name)
    assert result.exit_code == ExitCode.INVALID
    assert result.stdout.splitlines() == [
        f"{name}:6: spec.environment: a change to environment 'prod' must live under "
        "changes/prod/: move the file or fix spec.environment",
        f"{name}:6: spec.environment: no environment named 'prod' (there are: production, staging)",
        "invalid: 2 problems in 1 file (1 file read)",
    ]
    # The same problems as for the whole repository, whose pull request holds the file.
    assert validate(".").stdout.splitlines()[:2] == result.stdout.splitlines()[:2]


def test_validate_paths_without_a_scope_judges_everything(checkout: Checkout) -> None:
    rotate_once(checkout)
    checkout.git("checkout", "-q", "-b", "rotate-2")
    checkout.propose("second-password-1a2b3c4d", name="payments-db-2")
    report = validate_paths([checkout.path])
    assert any(DUPLICATE in problem.message for problem in report.problems)
