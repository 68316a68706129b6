"""The pull-request flow against the loopback GitHub, through the real PyGithub.

Each test opens its own pull request in one shared requests repository, lets people act
with their own tokens, and has the controller (a GitHub App) snapshot, decide with the real
documents and policy modules, and report. Every JSON answer the server gave during a test is
checked against GitHub's official description afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from github import GithubException

from controller.crypto import fingerprint, load_public_key, seal
from controller.documents import parse_environment
from controller.errors import ConflictError
from controller.github import merge
from controller.github.summary import Label
from controller.model import DecisionState
from tests.integration.test_github_adapter_world import (
    FULL,
    OWNER,
    REPO,
    World,
    build_world,
    change_yaml,
    response_problems,
)
from tests.integration.test_reconciler_world import next_second


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(Path(tmp_path_factory.mktemp("github-flow")))
    try:
        yield w
    finally:
        w.client.close()
        w.server.stop()


@pytest.fixture(autouse=True)
def answers_match_the_description(world: World) -> Iterator[None]:
    world.server.reset_request_log()
    yield
    assert response_problems(world.server.request_log) == []


def sealgate_labels(world: World, number: int) -> list[str]:
    return [n for n in world.server.labels(OWNER, REPO, number) if n.startswith("sealgate:")]


def test_open_pull_request_gets_a_pending_check(world: World) -> None:
    number = world.open_pull()
    out = world.evaluate(number, fingerprints={})
    assert out.decision.state is DecisionState.PENDING
    run = world.check_run(out.snapshot.facts.head_sha)
    assert run["status"] == "in_progress"
    assert run["conclusion"] is None
    assert run["app"]["id"] == world.client.app_id
    summary = run["output"]["summary"]
    assert "| production | payments/db | `password` | generate (40, alphanumeric) |" in summary
    assert "| production | approvals | 0 of 1 approval |" in summary
    assert "`bob`, `carol`, `dave`" in summary
    assert sealgate_labels(world, number) == [Label.PENDING.value]
    (comment,) = world.sticky_comments(number)
    assert comment["user"]["login"] == "sealgate[bot]"
    assert summary in comment["body"]


def test_eligible_approval_turns_the_check_green_and_moves_the_label(world: World) -> None:
    number = world.open_pull()
    first = world.evaluate(number)
    world.approve("bob", number)
    out = world.evaluate(number)
    assert out.decision.state is DecisionState.APPROVED
    run = world.check_run(out.snapshot.facts.head_sha)
    assert (run["status"], run["conclusion"]) == ("completed", "success")
    assert run["id"] == first.report.check_run_id, "updated in place, not a second run"
    assert sealgate_labels(world, number) == [Label.APPROVED.value]
    (comment,) = world.sticky_comments(number)
    assert comment["id"] == first.report.comment_id
    assert "sealgate: approved" in comment["body"]


def test_approval_then_push_is_pending_again(world: World) -> None:
    number = world.open_pull()
    world.approve("bob", number)
    approved = world.evaluate(number)
    assert approved.decision.state is DecisionState.APPROVED
    old_head = approved.snapshot.facts.head_sha

    new_head = world.push(
        number,
        {"changes/production/extra.yaml": change_yaml("extra", "payments/api")},
        author="alice",
    )
    out = world.evaluate(number)
    assert out.snapshot.facts.head_sha == new_head != old_head
    assert out.decision.state is DecisionState.PENDING
    assert world.check_run(new_head)["status"] == "in_progress"
    assert world.check_run(old_head)["conclusion"] == "success", "the old head keeps its result"
    assert sealgate_labels(world, number) == [Label.PENDING.value]
    assert "payments/api" in world.check_run(new_head)["output"]["summary"]


def test_author_approval_is_refused_and_a_committer_approval_ignored(world: World) -> None:
    number = world.open_pull()
    with pytest.raises(GithubException) as refused:
        world.approve("alice", number)
    assert refused.value.status == 422
    world.approve("alice", number, event="COMMENT", body="LGTM from me")

    # bob pushes to alice's branch: having written part of it, he cannot approve it.
    world.push(
        number,
        {"changes/production/bob.yaml": change_yaml("bob-part", "payments/bob")},
        author="bob",
    )
    world.approve("bob", number)
    out = world.evaluate(number)
    assert out.decision.state is DecisionState.PENDING
    assert any("bob" in reason for reason in out.decision.reasons)
    assert world.check_run(out.snapshot.facts.head_sha)["status"] == "in_progress"


def test_only_listed_people_count_and_a_team_member_does(world: World) -> None:
    number = world.open_pull()
    world.approve("mallory", number)
    assert world.evaluate(number).decision.state is DecisionState.PENDING
    world.approve("dave", number)  # through acme/secops
    out = world.evaluate(number)
    assert out.snapshot.facts.teams == {"acme/secops": frozenset({"dave"})}
    assert out.decision.state is DecisionState.APPROVED
    assert world.check_run(out.snapshot.facts.head_sha)["conclusion"] == "success"


def test_change_request_blocks_until_dismissed(world: World) -> None:
    number = world.open_pull()
    world.approve("bob", number)
    world.approve("carol", number, event="REQUEST_CHANGES", body="wrong secret")
    blocked = world.evaluate(number)
    assert blocked.decision.state is DecisionState.REJECTED
    run = world.check_run(blocked.snapshot.facts.head_sha)
    assert run["conclusion"] == "failure"
    assert "`carol`" in run["output"]["summary"]
    assert sealgate_labels(world, number) == [Label.REJECTED.value]

    # bob may approve and did not contribute: his dismissal lifts carol's objection (an
    # admin outside the policy could not: tests/security/test_more_attacks_flow.py).
    pr = world.pull_as("bob", number)
    carol = next(r for r in pr.get_reviews() if r.user.login == "carol")
    carol.dismiss("resolved in chat")
    out = world.evaluate(number)
    assert out.decision.state is DecisionState.APPROVED
    assert world.check_run(out.snapshot.facts.head_sha)["conclusion"] == "success"
    assert sealgate_labels(world, number) == [Label.APPROVED.value]


def test_bypass_comment_breaks_glass(world: World) -> None:
    number = world.open_pull()
    assert world.evaluate(number).decision.state is DecisionState.PENDING
    next_second()
    world.pull_as("alice", number).create_issue_comment("/sealgate bypass payments are down")
    out = world.evaluate(number)
    assert out.decision.bypassed
    assert out.decision.bypassed_by == "alice"
    assert out.decision.state is DecisionState.APPROVED
    run = world.check_run(out.snapshot.facts.head_sha)
    assert run["conclusion"] == "success"
    assert "payments are down" in run["output"]["summary"]
    assert sealgate_labels(world, number) == [Label.BYPASSED.value]
    assert len(world.sticky_comments(number)) == 1


def test_guarded_merge_is_refused_after_a_late_push(world: World) -> None:
    number = world.open_pull()
    world.approve("bob", number)
    approved = world.evaluate(number)
    assert approved.decision.state is DecisionState.APPROVED

    late = world.push(
        number,
        {"changes/production/late.yaml": change_yaml("late", "payments/late")},
        author="alice",
    )
    with pytest.raises(ConflictError):
        merge(world.client, FULL, number, approved.decision.head_sha)
    pull = world.server.pull(OWNER, REPO, number)
    assert pull["merged"] is False
    assert pull["head"]["sha"] == late

    again = world.evaluate(number)
    assert again.decision.state is DecisionState.PENDING
    world.approve("carol", number)
    final = world.evaluate(number)
    assert final.decision.state is DecisionState.APPROVED
    result = merge(world.client, FULL, number, final.decision.head_sha)
    assert result.merged
    assert world.server.pull(OWNER, REPO, number)["merged"] is True
    assert world.server.branch_sha(OWNER, REPO, "main") == result.sha
    assert world.server.read_file(OWNER, REPO, "main", "changes/production/late.yaml") is not None


def test_invalid_yaml_fails_the_check_naming_file_and_field(world: World) -> None:
    bad_field = change_yaml("bad-key").replace(b"    password:", b"    db password:")
    number = world.open_pull(
        {
            "changes/production/bad-key.yaml": bad_field,
            "changes/production/broken.yaml": b"apiVersion: sealgate.dev/v1\nkind: [unclosed\n",
        }
    )
    out = world.evaluate(number)
    assert out.decision.state is DecisionState.INVALID
    run = world.check_run(out.snapshot.facts.head_sha)
    assert run["conclusion"] == "failure"
    summary = run["output"]["summary"]
    assert "**Fix these files:**" in summary
    assert "changes/production/bad-key.yaml" in summary
    assert "spec.generate" in summary
    assert "changes/production/broken.yaml" in summary
    assert sealgate_labels(world, number) == [Label.REJECTED.value]


def test_sticky_comment_is_edited_in_place_never_duplicated(world: World) -> None:
    number = world.open_pull()
    first = world.evaluate(number)
    world.server.reset_request_log()
    world.evaluate(number)
    writes = [r for r in world.server.request_log if r.writes]
    assert writes == [], "an unchanged decision costs no writes"

    world.approve("bob", number)
    second = world.evaluate(number)
    world.push(
        number,
        {"changes/production/more.yaml": change_yaml("more", "payments/more")},
        author="alice",
    )
    third = world.evaluate(number)
    comments = world.sticky_comments(number)
    assert len(comments) == 1
    assert first.report.comment_id == second.report.comment_id == third.report.comment_id
    assert "payments/more" in comments[0]["body"]

    # A look-alike posted by someone else is neither edited nor mistaken for sealgate's.
    world.pull_as("mallory", number).create_issue_comment("<!-- sealgate:summary -->\nfake")
    world.evaluate(number)
    assert [
        c["id"] for c in world.sticky_comments(number) if c["user"]["login"] == "sealgate[bot]"
    ] == [first.report.comment_id]


def test_no_value_sealed_or_plain_reaches_github(world: World) -> None:
    plaintext = b"CANARY-sk_live_4f9a8b7c6d5e"
    environment = parse_environment(
        "environments/production.yaml",
        world.server.read_file(OWNER, REPO, "main", "environments/production.yaml") or b"",
    )
    key = environment.sealing_keys[0]
    sealed = seal(
        plaintext,
        key_id=key.id,
        public_key=load_public_key(key.public_key, where="environments/production.yaml"),
        environment="production",
        secret="payments/stripe",
        key="api-key",
    )
    document = (
        "apiVersion: sealgate.dev/v1\nkind: SecretChange\nmetadata:\n  name: stripe\n"
        "spec:\n  environment: production\n  secret: payments/stripe\n"
        f"  reason: vendor rotation\n  set:\n    api-key: {sealed}\n"
    ).encode()
    number = world.open_pull({"changes/production/stripe.yaml": document})
    shown = fingerprint(
        b"f" * 32, plaintext, environment="production", secret="payments/stripe", key="api-key"
    )
    out = world.evaluate(number, fingerprints={("production/payments/stripe", "api-key"): shown})
    assert out.decision.state is DecisionState.PENDING
    run = world.check_run(out.snapshot.facts.head_sha)
    published = [run["output"]["title"], run["output"]["summary"]]
    published += [c["body"] for c in world.server.comments(OWNER, REPO, number)]
    published += world.server.labels(OWNER, REPO, number)
    assert f"`{shown}`" in run["output"]["summary"]
    payload = sealed.rsplit(":", 1)[1]
    for text in published:
        assert "CANARY" not in text
        assert payload[:16] not in text
