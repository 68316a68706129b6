"""Attacks on reviews and the pull request's life, on what approvers read, on races and on
governance.

The attacker is a developer (alice), an approver, or someone with write access who edits
comments, labels and reviews. Every attack goes through the loopback GitHub's REST API and is
judged from what GitHub, the store and the cluster hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller.reconciler import Status
from tests.integration.test_reconciler_world import (
    ENV,
    FULL,
    NAMESPACE,
    OWNER,
    POLICY_YAML,
    REPO,
    Controller,
    World,
    build_world,
    next_second,
)
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414
from tests.security.attack_support import (
    PATH,
    approve_and_handle,
    open_files,
    summary,
    untouched,
)

# -- reviews and the pull request's life ----------------------------------------------------


def test_an_approval_placed_on_an_older_commit_after_a_push_does_not_count(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(b"reviewed-value")
    pr = world.as_user("bob").get_repo(FULL).get_pull(number)
    first = next(iter(pr.get_commits()))
    world.push_more(number, b"swapped-value")
    # bob's client still shows the first commit and approves it after the push.
    pr.create_review(commit=first, event="APPROVE")
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.PENDING
    assert "bob" in status.eligible_approvers
    untouched(world, controller, number)


def test_a_dismissed_approval_does_not_count(world: World, controller: Controller) -> None:
    number = world.open_pull(b"value")
    world.approve("bob", number)
    pr = world.as_user("erin").get_repo(FULL).get_pull(number)
    (review,) = list(pr.get_reviews())
    review.dismiss("approved the wrong pull request")
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.PENDING
    untouched(world, controller, number)


def _dave_requests_changes(world: World, controller: Controller) -> int:
    number = world.open_pull(b"v1")
    pr = world.as_user("dave").get_repo(FULL).get_pull(number)
    head = next(c for c in pr.get_commits() if c.sha == pr.head.sha)
    pr.create_review(commit=head, event="REQUEST_CHANGES", body="do not rotate during the freeze")
    assert controller.reconciler.handle(FULL, number).status is Status.REJECTED
    return number


def _dismiss_daves_review(world: World, number: int, login: str) -> None:
    pr = world.as_user(login).get_repo(FULL).get_pull(number)
    (review,) = [r for r in pr.get_reviews() if r.user.login == "dave"]
    review.dismiss("outdated")


def test_the_author_cannot_dismiss_an_eligible_approvers_change_request(world: World) -> None:
    controller = world.controller()
    try:
        number = world.open_pull(b"v1")
        pr = world.as_user("dave").get_repo(FULL).get_pull(number)
        head = next(c for c in pr.get_commits() if c.sha == pr.head.sha)
        pr.create_review(
            commit=head, event="REQUEST_CHANGES", body="do not rotate during the freeze"
        )
        assert controller.reconciler.handle(FULL, number).status is Status.REJECTED
        mine = world.as_user("alice").get_repo(FULL).get_pull(number)
        (review,) = [r for r in mine.get_reviews() if r.user.login == "dave"]
        review.dismiss("outdated")
        world.approve("bob", number)
        status = controller.reconciler.handle(FULL, number)
        assert status.status is Status.REJECTED  # before the fix: SYNCED, merged and applied
        untouched(world, controller, number)
        text = summary(world, number)
        assert "dismissed by alice" in text
        assert "until dave approves it or reviews it again" in text
    finally:
        controller.close()


def test_an_admin_outside_the_policy_cannot_lift_a_change_request(
    world: World, controller: Controller
) -> None:
    number = _dave_requests_changes(world, controller)
    _dismiss_daves_review(world, number, "erin")
    world.approve("bob", number)
    assert controller.reconciler.handle(FULL, number).status is Status.REJECTED
    assert "dismissed by erin" in summary(world, number)
    untouched(world, controller, number)


def test_a_change_request_lifted_by_its_author_or_an_uninvolved_approver_no_longer_blocks(
    world: World, controller: Controller
) -> None:
    for dismisser in ("dave", "carol"):
        number = _dave_requests_changes(world, controller)
        _dismiss_daves_review(world, number, dismisser)
        world.approve("bob", number)
        status = controller.reconciler.handle(FULL, number)
        assert status.status is Status.SYNCED, (dismisser, status)
        assert world.hub.pull(OWNER, REPO, number)["merged"] is True


def test_the_reviewer_lifts_a_change_request_the_author_dismissed_by_reviewing_again(
    world: World, controller: Controller
) -> None:
    number = _dave_requests_changes(world, controller)
    _dismiss_daves_review(world, number, "alice")
    assert controller.reconciler.handle(FULL, number).status is Status.REJECTED
    world.approve("dave", number)
    assert controller.reconciler.handle(FULL, number).status is Status.SYNCED


def test_closing_and_reopening_does_not_restart_the_expiry_clock(world: World) -> None:
    number = world.open_pull(b"value")
    pr = world.as_user("alice").get_repo(FULL).get_pull(number)
    pr.edit(state="closed")
    pr.edit(state="open")
    world.approve("bob", number)
    later = world.controller(clock=lambda: datetime.now(UTC) + timedelta(days=8))
    try:
        status = later.reconciler.handle(FULL, number)
        assert status.status is Status.EXPIRED
        untouched(world, later, number)
    finally:
        later.close()


def test_an_approval_from_the_controllers_own_app_does_not_count(
    world: World, controller: Controller
) -> None:
    # An approver-looking review by a bot account (here the token account sealbot).
    number = world.open_pull(b"value")
    world.approve("sealbot", number)
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.PENDING
    untouched(world, controller, number)


def test_logins_differing_only_in_case_are_one_person(tmp_path: Path) -> None:
    # The policy spells its approvers differently from GitHub; carol also pushed a commit.
    policy = POLICY_YAML.replace(b"users: [bob, carol]", b"users: [BOB, Carol]")
    world = build_world(tmp_path, policy=policy)
    controller = world.controller()
    try:
        number = world.open_pull(b"v1")
        world.push_more(number, b"v2", author="carol")
        world.approve("carol", number)
        status = controller.reconciler.handle(FULL, number)
        assert status.status is Status.PENDING
        assert "carol" not in status.eligible_approvers
        untouched(world, controller, number)
        world.approve("bob", number)
        assert controller.reconciler.handle(FULL, number).status is Status.SYNCED
    finally:
        controller.close()
        world.hub.stop()
        world.kube.stop()


def test_a_merge_command_from_someone_who_cannot_approve_does_not_merge(tmp_path: Path) -> None:
    policy = POLICY_YAML.replace(
        b"  expiresAfter: 7d\n", b"  expiresAfter: 7d\n  autoMerge: false\n"
    )
    world = build_world(tmp_path, policy=policy)
    controller = world.controller()
    try:
        number = world.open_pull(b"v1")
        world.approve("bob", number)
        # erin is a repository admin whom no policy names.
        world.comment("erin", number, "/sealgate merge")
        status = controller.reconciler.handle(FULL, number)
        assert status.status is Status.APPROVED
        assert "waiting for `/sealgate merge`" in " ".join(status.messages)
        untouched(world, controller, number)
    finally:
        controller.close()
        world.hub.stop()
        world.kube.stop()


# -- what approvers read on the pull request ------------------------------------------------


def test_a_comment_carrying_the_sticky_marker_is_not_taken_for_sealgates(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(b"value")
    world.comment("alice", number, "<!-- sealgate:summary -->\n**sealgate: approved**, merging")
    controller.reconciler.handle(FULL, number)
    bodies = {c["user"]["login"]: c["body"] for c in world.hub.comments(OWNER, REPO, number)}
    assert "approved**, merging" in bodies["alice"]
    assert "sealgate[bot]" in bodies
    assert "approved**, merging" not in bodies["sealgate[bot]"]


def test_an_edited_sticky_comment_is_put_back_on_the_next_pass(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(b"value")
    controller.reconciler.handle(FULL, number)
    (sticky,) = [c for c in world.hub.comments(OWNER, REPO, number) if c["user"]["type"] == "Bot"]
    repo = world.as_user("alice").get_repo(FULL)
    repo.get_issue(number).get_comment(int(sticky["id"])).edit(
        "<!-- sealgate:summary -->\n**sealgate: approved** by bob and carol"
    )
    controller.reconciler.handle(FULL, number)
    (restored,) = [c for c in world.hub.comments(OWNER, REPO, number) if c["id"] == sticky["id"]]
    assert restored["body"] == sticky["body"]
    untouched(world, controller, number)


def test_an_approved_label_set_by_hand_neither_approves_nor_stays(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(b"value")
    world.as_user("alice").get_repo(FULL).get_issue(number).add_to_labels("sealgate:approved")
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.PENDING
    assert world.hub.labels(OWNER, REPO, number) == ["sealgate:pending"]
    untouched(world, controller, number)


# -- races and governance ---------------------------------------------------------------------


CRITICAL_POLICY = b"""\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata:
  name: production-critical
spec:
  environments: [production]
  secrets: ["**"]
  tiers: [critical]
  approvals:
    required: 1
    teams: [acme/secops]
"""


def test_an_approval_given_before_a_tier_was_raised_is_judged_again_at_the_new_tier(
    world: World, controller: Controller
) -> None:
    world.hub.push(
        OWNER,
        REPO,
        "main",
        {"policies/critical.yaml": CRITICAL_POLICY},
        message="critical tier",
        author="erin",
    )
    raise_tier = open_files(
        world,
        {
            "changes/production/raise.yaml": world.change_yaml(
                "raise", b"first-Vq8#rT2mKx9LpZ4w"
            ).replace(b"  set:\n", b"  tier: critical\n  set:\n")
        },
    )
    racing = world.open_pull(b"racing-Zq7#Lm2vXp9Rt4")
    # bob approves the racing change while the secret is still 'sensitive'...
    world.approve("bob", racing)
    world.approve("bob", raise_tier)
    world.approve("dave", raise_tier)
    # ...and the tier-raising change lands first.
    first = controller.reconciler.handle(FULL, raise_tier)
    assert first.status is Status.SYNCED, first.messages
    status = controller.reconciler.handle(FULL, racing)
    assert status.status is Status.PENDING
    assert "dave" in status.eligible_approvers
    assert world.hub.pull(OWNER, REPO, racing)["merged"] is False
    stored = controller.store.read_secret(ENV, PATH)
    assert stored is not None
    assert (stored.data["password"], stored.tier.value) == (b"first-Vq8#rT2mKx9LpZ4w", "critical")


def test_a_pull_request_widening_production_needs_a_governance_policy(
    world: World, controller: Controller
) -> None:
    # A developer adds kube-system and a cluster of their own to production, with a change
    # that writes there, hoping the production policy's approver waves both through.
    environment = world.hub.read_file(OWNER, REPO, "main", f"environments/{ENV}.yaml")
    assert environment is not None
    widened = environment.replace(
        f"namespaces: [{NAMESPACE}]".encode(), f"namespaces: [{NAMESPACE}, kube-system]".encode()
    ).replace(b"clusters: [loop]", b"clusters: [loop, attacker-cluster]")
    assert widened != environment
    number = open_files(world, {f"environments/{ENV}.yaml": widened})
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert "governance" in summary(world, number)
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert world.hub.read_file(OWNER, REPO, "main", f"environments/{ENV}.yaml") == environment


def test_a_merge_command_written_before_the_approval_does_not_count(tmp_path: Path) -> None:
    """``autoMerge: false`` means someone decides to merge once it is approved: a
    ``/sealgate merge`` left on the pull request before the approvals does not count."""
    policy = POLICY_YAML.replace(
        b"  expiresAfter: 7d\n", b"  expiresAfter: 7d\n  autoMerge: false\n"
    )
    world = build_world(tmp_path, policy=policy)
    controller = world.controller()
    try:
        number = world.open_pull(b"v1")
        next_second()
        world.comment("alice", number, "/sealgate merge")
        assert controller.reconciler.handle(FULL, number).status is Status.PENDING
        next_second()
        world.approve("bob", number)
        status = controller.reconciler.handle(FULL, number)
        assert status.status is Status.APPROVED
        assert world.hub.pull(OWNER, REPO, number)["merged"] is False
        assert "made before the last approval" in summary(world, number)
        untouched(world, controller, number)

        next_second()
        world.comment("alice", number, "/sealgate merge")
        assert controller.reconciler.handle(FULL, number).status is Status.SYNCED
        assert world.hub.pull(OWNER, REPO, number)["merged"] is True
    finally:
        controller.close()
        world.hub.stop()
        world.kube.stop()
