"""The rules a governance pull request would leave behind must still hold together."""

from __future__ import annotations

from pathlib import Path

from controller.paths import data_dir
from controller.reconciler.judging import proposed_rule_problems

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "environments"


def shipped_rules() -> dict[str, bytes]:
    files = {f"policies/{p.name}": p.read_bytes() for p in data_dir("policies").glob("*.yaml")}
    for env in EXAMPLES.glob("*.yaml"):
        files[f"environments/{env.name}"] = env.read_bytes()
    return files


def test_the_shipped_rules_are_a_sound_result() -> None:
    assert proposed_rule_problems(shipped_rules()) == []


def test_a_policy_that_breaks_the_rules_is_named() -> None:
    files = shipped_rules()
    files["policies/typo.yaml"] = b"""\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata: {name: typo}
spec:
  environments: [prodution]
  approvals: {required: 1, users: [alice]}
"""
    problems = [str(p) for p in proposed_rule_problems(files)]
    assert any(p.startswith("policies/typo.yaml:") and "prodution" in p for p in problems)


def test_removing_the_last_governance_policy_is_refused() -> None:
    files = {k: v for k, v in shipped_rules().items() if k != "policies/governance.yaml"}
    (problem,) = proposed_rule_problems(files)
    assert "governance" in problem.message
    assert "no later change to the rules could be approved" in problem.message
