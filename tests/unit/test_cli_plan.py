"""``sealgate plan`` end to end: real files, the example policies, text and JSON output."""

from __future__ import annotations

import base64
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from controller.cli.plan import plan_decision, repository_name
from controller.model import DecisionState

EXAMPLE_POLICIES = Path(__file__).resolve().parents[2] / "policies"
PUBLIC_KEY = base64.b64encode(bytes(range(32))).decode()
SEALED = "sg1:k1:" + base64.urlsafe_b64encode(b"canary-ciphertext-0123456789").decode()
TEAMS = {
    "acme/sre": ["alice", "bob", "carol"],
    "acme/security": ["sam"],
    "acme/oncall": ["dev1"],
    "acme/platform-leads": ["lena", "luis"],
    "acme/developers": ["dev1", "dana"],
}


def environment(name: str) -> str:
    return (
        "apiVersion: sealgate.dev/v1\nkind: Environment\n"
        f"metadata:\n  name: {name}\n"
        f"spec:\n  sealingKeys:\n    - id: k1\n      publicKey: {PUBLIC_KEY}\n"
        "  namespaces: ['*']\n"
    )


def change_document(path: str = "payments/stripe", *, tier: str | None = None) -> str:
    tier_line = f"  tier: {tier}\n" if tier else ""
    return (
        "apiVersion: sealgate.dev/v1\nkind: SecretChange\n"
        "metadata:\n  name: rotate-stripe\n"
        f"spec:\n  environment: production\n  secret: {path}\n"
        "  reason: quarterly rotation\n"
        f"{tier_line}"
        f"  set:\n    API_KEY: {SEALED}\n"
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    config = tmp_path / "base"
    shutil.copytree(EXAMPLE_POLICIES, config / "policies")
    (config / "environments").mkdir()
    for name in ("production", "staging"):
        (config / "environments" / f"{name}.yaml").write_text(environment(name))
    return tmp_path


def write_change(repo: Path, text: str, name: str = "rotate.yaml") -> Path:
    path = repo / "head" / "changes" / "production" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_facts(repo: Path, **overrides: Any) -> Path:
    facts: dict[str, Any] = {
        "number": 7,
        "author": "dev1",
        "head_sha": "c2",
        "created_at": "2026-11-20T10:00:00Z",
        "now": "2026-11-21T10:00:00Z",
        "commits": [{"sha": "c1", "author": "dev1", "committer": "dev1"}],
        "reviews": [],
        "teams": TEAMS,
        "comments": [],
        "current_tiers": {},
        "changed_files": ["changes/production/rotate.yaml"],
        "pushes": [{"sha": "c2", "pusher": "dev1", "pushed_at": "2026-11-20T10:00:00Z"}],
    }
    facts.update(overrides)
    path = repo / "facts.json"
    path.write_text(json.dumps(facts))
    return path


def approve(*users: str, commit: str = "c2") -> list[dict[str, str]]:
    return [
        {
            "user": user,
            "state": "APPROVED",
            "commit_id": commit,
            "submitted_at": f"2026-11-20T1{i}:00:00Z",
        }
        for i, user in enumerate(users)
    ]


def plan(repo: Path, *changes: Path, output: str = "json") -> Result:
    arguments = ["plan", "--config", str(repo / "base"), "--facts", str(repo / "facts.json")]
    arguments += ["--output", output, *map(str, changes)]
    return CliRunner().invoke(main, arguments)


def plan_json(repo: Path, *changes: Path) -> tuple[int, dict[str, Any]]:
    result = plan(repo, *changes)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.output)


def test_two_approvals_approve_a_sensitive_production_change(repo: Path) -> None:
    change = write_change(repo, change_document())
    write_facts(repo, reviews=approve("alice", "bob"))
    code, body = plan_json(repo, change)
    assert (code, body["decision"], body["bypassed"]) == (0, "approved", False)
    assert body["policies"] == [
        {
            "name": "production-two-person",
            "step": "approvals",
            "required": 2,
            "approvedBy": ["alice", "bob"],
            "eligibleRemaining": ["carol"],
            "changesRequestedBy": [],
            "satisfied": True,
            "waitingOnEarlierStep": False,
        }
    ]
    assert body["expiresAt"] == "2026-11-23T10:00:00Z"
    assert body["tiers"] == {"production/payments/stripe": "sensitive"}
    assert body["autoMerge"] is True
    assert body["governance"] is False


def test_critical_secret_waits_for_security_and_an_explicit_merge(repo: Path) -> None:
    change = write_change(repo, change_document())
    write_facts(
        repo,
        reviews=approve("alice", "bob"),
        current_tiers={"production/payments/stripe": "critical"},
    )
    code, body = plan_json(repo, change)
    assert (code, body["decision"]) == (ExitCode.PENDING, "pending")
    steps = {(p["name"], p["step"]): p for p in body["policies"]}
    assert steps["production-critical-security", "security-sign-off"]["eligibleRemaining"] == [
        "sam"
    ]
    assert body["autoMerge"] is False
    assert body["expiresAt"] == "2026-11-22T10:00:00Z"


def test_break_glass_on_an_oncall_token(repo: Path) -> None:
    change = write_change(repo, change_document("oncall/pagerduty", tier="standard"))
    write_facts(
        repo,
        current_tiers={"production/oncall/pagerduty": "standard"},
        now="2026-11-20T12:00:00Z",
        comments=[
            {
                "user": "dev1",
                "body": "/sealgate bypass pager token leaked in incident 4711",
                "created_at": "2026-11-20T11:00:00Z",
            }
        ],
    )
    code, body = plan_json(repo, change)
    assert (code, body["decision"], body["bypassed"]) == (0, "approved", True)
    assert body["bypassedBy"] == "dev1"
    assert body["bypassReason"] == "pager token leaked in incident 4711"


def test_plan_reads_pushes_co_authors_and_comment_edits_from_the_facts(repo: Path) -> None:
    change = write_change(repo, change_document("oncall/pagerduty", tier="standard"))
    bypass = {
        "user": "dev1",
        "body": "/sealgate bypass pager token leaked in incident 4711",
        "created_at": "2026-11-20T11:00:00Z",
    }
    common: dict[str, Any] = {
        "current_tiers": {"production/oncall/pagerduty": "standard"},
        "now": "2026-11-20T12:00:00Z",
    }
    write_facts(repo, **common, comments=[{**bypass, "updated_at": "2026-11-20T11:30:00Z"}])
    code, body = plan_json(repo, change)
    assert (code, body["decision"], body["bypassed"]) == (ExitCode.PENDING, "pending", False)
    assert any("was edited" in reason for reason in body["reasons"])

    pushed_later = [{"sha": "c2", "pusher": "olga", "pushed_at": "2026-11-20T11:10:00Z"}]
    write_facts(repo, **common, comments=[bypass], pushes=pushed_later)
    _, body = plan_json(repo, change)
    assert body["bypassed"] is False
    assert any("before the head c2 was pushed" in reason for reason in body["reasons"])

    co_authored = [{"sha": "c2", "author": "dev1", "committer": "dev1", "co_authors": ["alice"]}]
    write_facts(repo, commits=co_authored, reviews=approve("alice", "bob"))
    _, body = plan_json(repo, change)
    assert any("approval by alice does not count" in reason for reason in body["reasons"])


def test_governance_pull_request_without_change_files(repo: Path) -> None:
    write_facts(
        repo, changed_files=["policies/production-two-person.yaml"], reviews=approve("lena")
    )
    code, body = plan_json(repo)
    assert (code, body["decision"], body["governance"]) == (ExitCode.PENDING, "pending", True)
    assert [p["name"] for p in body["policies"]] == ["governance"]


def test_expired_request(repo: Path) -> None:
    change = write_change(repo, change_document())
    write_facts(repo, reviews=approve("alice", "bob"), now="2026-12-01T00:00:00Z")
    code, body = plan_json(repo, change)
    assert (code, body["decision"]) == (ExitCode.INVALID, "expired")


def test_text_output_has_a_table_and_reasons(repo: Path) -> None:
    change = write_change(repo, change_document())
    write_facts(repo, reviews=approve("alice"))
    result = plan(repo, change, output="text")
    assert result.exit_code == ExitCode.PENDING
    assert "Decision: PENDING" in result.output
    assert "production-two-person" in result.output
    assert "CAN STILL APPROVE" in result.output
    assert "- Policy 'production-two-person', step 'approvals': 1 of 2" in result.output
    assert "\x1b[" not in result.output, "no colour codes when not a terminal"


def test_text_output_prints_people_text_literally(repo: Path) -> None:
    change = write_change(repo, change_document("oncall/pagerduty", tier="standard"))
    write_facts(
        repo,
        current_tiers={"production/oncall/pagerduty": "standard"},
        now="2026-11-20T12:00:00Z",
        comments=[
            {
                "user": "olga",
                "body": "/sealgate bypass [bold]markup[/bold] here",
                "created_at": "2026-11-20T11:00:00Z",
            }
        ],
    )
    result = plan(repo, change, output="text")
    assert "only the pull request's author" in result.output


def test_sealed_values_never_reach_the_output(repo: Path) -> None:
    change = write_change(repo, change_document())
    write_facts(repo)
    for output in ("text", "json"):
        result = plan(repo, change, output=output)
        assert "canary" not in result.output
        assert (
            base64.urlsafe_b64encode(b"canary-ciphertext-0123456789").decode() not in result.output
        )


# ------------------------------------------------------------------------------ bad input


def test_malformed_change_file_is_invalid_naming_file_and_field(repo: Path) -> None:
    change = write_change(repo, change_document().replace("API_KEY: sg1", "API KEY: sg1"))
    write_facts(repo, reviews=approve("alice", "bob"))
    code, body = plan_json(repo, change)
    assert (code, body["decision"]) == (ExitCode.INVALID, "invalid")
    assert any(
        r.startswith("changes/production/rotate.yaml:") and "spec.set" in r for r in body["reasons"]
    )


def test_plaintext_value_is_refused_without_echoing_it(repo: Path) -> None:
    change = write_change(repo, change_document().replace(SEALED, "hunter2-plaintext"))
    write_facts(repo)
    result = plan(repo, change)
    assert result.exit_code == ExitCode.INVALID
    assert "hunter2" not in result.output


def test_malformed_facts_name_the_field(repo: Path) -> None:
    change = write_change(repo, change_document())
    write_facts(repo, created_at="yesterday")
    code, body = plan_json(repo, change)
    assert (code, body["decision"]) == (ExitCode.INVALID, "invalid")
    assert any("facts.json: created_at: must be an RFC 3339 time" in r for r in body["reasons"])


def test_malformed_policy_names_the_file(repo: Path) -> None:
    (repo / "base" / "policies" / "broken.yaml").write_text(
        "apiVersion: sealgate.dev/v1\nkind: ApprovalPolicy\n"
    )
    change = write_change(repo, change_document())
    write_facts(repo)
    code, body = plan_json(repo, change)
    assert code == ExitCode.INVALID
    assert any(r.startswith("policies/broken.yaml") for r in body["reasons"])


def test_config_without_rules_directories(repo: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    write_facts(repo)
    result = CliRunner().invoke(
        main, ["plan", "--config", str(empty), "--facts", str(repo / "facts.json")]
    )
    assert result.exit_code == ExitCode.INVALID
    assert "missing: environments/, policies/" in result.output


def test_missing_change_file(repo: Path) -> None:
    write_facts(repo)
    result = plan(repo, repo / "nope.yaml", output="text")
    assert result.exit_code == ExitCode.INVALID
    assert "nope.yaml: no such file or directory" in result.output


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x00\xff",
        b"{",
        b"- [",
        b"a: &x [*x]",
        b"spec: !!python/object:os.system {}",
        b"\t\tkind: :",
    ],
)
def test_garbage_change_files_never_crash(repo: Path, garbage: bytes) -> None:
    path = repo / "head" / "changes" / "production" / "junk.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(garbage)
    write_facts(repo)
    result = plan(repo, path, output="text")
    assert result.exit_code == ExitCode.INVALID
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert "changes/production/junk.yaml" in result.output


def test_help_documents_exit_codes() -> None:
    result = CliRunner().invoke(main, ["plan", "--help"])
    assert result.exit_code == 0
    assert "0    approved" in result.output
    assert "3    pending: the command worked; approvals are missing" in result.output
    assert "5    rejected, expired or invalid" in result.output


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/home/me/repo/changes/production/x.yaml", "changes/production/x.yaml"),
        ("changes/production/x.yaml", "changes/production/x.yaml"),
        ("changes/changes/production/x.yaml", "changes/production/x.yaml"),
        ("drafts/x.yaml", "drafts/x.yaml"),
    ],
)
def test_repository_name(given: str, expected: str) -> None:
    assert repository_name(given) == expected


@pytest.fixture(scope="module")
def fuzz_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(EXAMPLE_POLICIES, root / "base" / "policies")
    (root / "base" / "environments").mkdir()
    for name in ("production", "staging"):
        (root / "base" / "environments" / f"{name}.yaml").write_text(environment(name))
    (root / "changes" / "production").mkdir(parents=True)
    write_facts(root)
    return root


@st.composite
def mangled_change(draw: st.DrawFn) -> bytes:
    """A valid change file with a few bytes replaced, inserted or cut."""
    data = bytearray(change_document().encode())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        junk = draw(
            st.binary(max_size=3)
            | st.sampled_from([b":", b"- ", b"\n  ", b"&a", b"*a", b"!!", b"{", b"'"])
        )
        cut = draw(st.integers(0, 3))
        data[at : at + cut] = junk
    return bytes(data)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mangled_change())
def test_fuzzed_change_files_never_crash_plan(fuzz_repo: Path, data: bytes) -> None:
    path = fuzz_repo / "changes" / "production" / "fuzz.yaml"
    path.write_bytes(data)
    decision = plan_decision(
        fuzz_repo / "base", fuzz_repo / "facts.json", [path], now=datetime(2026, 11, 21, tzinfo=UTC)
    )
    if decision.state is DecisionState.INVALID:
        assert any("changes/production/fuzz.yaml" in reason for reason in decision.reasons)
