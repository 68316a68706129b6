"""The helpers adapters use: which teams to fetch, and who may ask to merge."""

from __future__ import annotations

from controller.model import Commit
from controller.policy import applicable_policies, can_merge_command, teams_referenced
from tests.unit.policy_fixtures import AUTHOR, HEAD, decide, facts, policy, step


def test_teams_referenced_covers_steps_and_bypassers() -> None:
    policies = [
        policy("a", teams=("Acme/SRE",)),
        policy("b", steps=(step("x", teams=("acme/security",)), step("y", users=("u",)))),
        policy("c", teams=(), users=("u",), bypass_teams=("acme/oncall",)),
    ]
    assert teams_referenced(policies) == frozenset({"acme/sre", "acme/security", "acme/oncall"})


def test_teams_referenced_of_nothing() -> None:
    assert teams_referenced([]) == frozenset()


def test_merge_command_by_author_counts() -> None:
    assert can_merge_command([policy()], facts(), "DEV1")


def test_merge_command_by_eligible_approver_counts() -> None:
    assert can_merge_command([policy()], facts(), "alice")


def test_merge_command_by_stranger_does_not_count() -> None:
    assert not can_merge_command([policy()], facts(), "mallory")


def test_merge_command_by_commit_author_who_is_no_approver_does_not_count() -> None:
    pull_request = facts(commits=(Commit(HEAD, "alice", AUTHOR),))
    assert not can_merge_command([policy()], pull_request, "alice")


def test_merge_command_with_no_policies_only_author() -> None:
    assert not can_merge_command([], facts(), "alice")
    assert can_merge_command([], facts(), AUTHOR)


def test_applicable_policies_are_those_the_decision_names() -> None:
    rules = [policy("b"), policy("stg", environments=("staging",)), policy("a")]
    decision = decide(rules)
    assert [p.name for p in applicable_policies(decision, rules)] == ["a", "b"]
