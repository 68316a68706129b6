"""Attacks on how an access request is judged: getting a grant without the approvals policy
demands, or a longer or wider one than was approved.

Every attack goes through the loopback GitHub (git pushes, reviews, comments) and the
reconciler, and asserts it is blocked: the pull request is not merged and no grant is
recorded, or the grant is exactly what was approved.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from controller.reconciler import Status
from tests.integration.test_reconciler_world import ENV, FULL, OWNER, POLICY_YAML, REPO
from tests.security.access_attack_support import (
    ACCESS_POLICY,
    PATH,
    AccessWorld,
    access_yaml,
    build_access_world,
    merged,
    open_access,
    summary,
)

FILE = f"access/{ENV}/incident-4711.yaml"


@pytest.fixture
def aw(tmp_path: Path) -> Iterator[AccessWorld]:
    yield from build_access_world(tmp_path)


def _no_grant(aw: AccessWorld, number: int) -> None:
    assert not merged(aw.world, number)
    assert aw.controller.store.grants() == []


def _handle(aw: AccessWorld, number: int) -> Status:
    return aw.controller.reconciler.handle(FULL, number).status


# ------------------------------------------------------------------ which policies judge


def test_change_only_policy_and_unmatched_allow_do_not_auto_grant(tmp_path: Path) -> None:
    """An environment that auto-approves unmatched changes, with a policy written before
    access requests existed (actions default to [change]): reading a secret whose changes
    need approval must not need none."""
    for aw in build_access_world(
        tmp_path, policy=POLICY_YAML, environment_extra="  unmatched: allow\n"
    ):
        number = open_access(aw.world, {FILE: access_yaml()})
        status = _handle(aw, number)
        assert status is not Status.GRANTED
        assert status is Status.INVALID
        assert "covered by no policy" in summary(aw.world, number)
        _no_grant(aw, number)


def test_change_only_policy_never_judges_access(tmp_path: Path) -> None:
    for aw in build_access_world(tmp_path, policy=POLICY_YAML):
        number = open_access(aw.world, {FILE: access_yaml()})
        aw.world.approve("bob", number)
        assert _handle(aw, number) is Status.INVALID
        _no_grant(aw, number)


def test_a_critical_secret_is_judged_at_critical(tmp_path: Path) -> None:
    """The access policy covers sensitive only; a floor makes the secret critical; the
    critical policy judges changes only. Access to it is covered by nothing."""
    policy = ACCESS_POLICY.replace(
        b'  secrets: ["**"]\n', b'  secrets: ["**"]\n  tiers: [sensitive]\n'
    )
    critical = POLICY_YAML.replace(b"name: production\n", b"name: production-critical\n").replace(
        b'  secrets: ["**"]\n', b'  secrets: ["**"]\n  tiers: [critical]\n'
    )
    floors = '  tierFloors:\n    - {secrets: ["payments/**"], tier: critical}\n'
    for aw in build_access_world(
        tmp_path,
        policy=policy,
        environment_extra=floors,
        rules={"policies/critical.yaml": critical},
    ):
        number = open_access(aw.world, {FILE: access_yaml()})
        aw.world.approve("bob", number)
        assert _handle(aw, number) is Status.INVALID
        assert "tier critical" in summary(aw.world, number)
        _no_grant(aw, number)


# ------------------------------------------------------------------ the file itself


def test_a_request_for_another_environment_than_its_directory(aw: AccessWorld) -> None:
    number = open_access(aw.world, {"access/staging/x.yaml": access_yaml()})
    aw.world.approve("bob", number)
    assert _handle(aw, number) is Status.INVALID
    assert "must live under access/production/" in summary(aw.world, number)
    _no_grant(aw, number)


@pytest.mark.parametrize(
    "secret", ["payments/*", "payments/**", "payments/../payments/db", "*/db", "payments/db/x"]
)
def test_a_request_naming_a_glob_or_a_traversal(aw: AccessWorld, secret: str) -> None:
    listed = f"    - {{secret: '{secret}'}}\n"
    number = open_access(aw.world, {FILE: access_yaml(secrets=listed)})
    aw.world.approve("bob", number)
    assert _handle(aw, number) is Status.INVALID
    _no_grant(aw, number)


def test_a_secret_outside_the_environment_s_namespaces(aw: AccessWorld) -> None:
    for secret in ("kube-system/bootstrap-token", "default/db", "web/db"):
        listed = f"    - {{secret: {secret}}}\n"
        number = open_access(
            aw.world, {f"access/{ENV}/{secret.split('/')[0]}.yaml": access_yaml(secrets=listed)}
        )
        aw.world.approve("bob", number)
        assert _handle(aw, number) is Status.INVALID
        _no_grant(aw, number)


def test_two_access_documents_in_one_file(aw: AccessWorld) -> None:
    """The second document would ride on the first one's review."""
    wide = access_yaml(name="second", secrets=f"    - {{secret: {PATH}}}\n")
    number = open_access(aw.world, {FILE: access_yaml() + b"---\n" + wide})
    aw.world.approve("bob", number)
    assert _handle(aw, number) is Status.INVALID
    _no_grant(aw, number)


def test_an_access_request_beside_a_removed_change_file(aw: AccessWorld) -> None:
    seeded = f"changes/{ENV}/change-1.yaml"  # the seeding pull request's, applied
    assert aw.world.hub.read_file(OWNER, REPO, "main", seeded) is not None
    number = open_access(aw.world, {FILE: access_yaml(), seeded: None})
    aw.world.approve("bob", number)
    assert _handle(aw, number) is Status.INVALID
    _no_grant(aw, number)


def test_an_access_request_beside_a_rule_change(aw: AccessWorld) -> None:
    number = open_access(
        aw.world,
        {
            FILE: access_yaml(),
            "policies/extra.yaml": ACCESS_POLICY.replace(b"name: production\n", b"name: extra\n"),
        },
    )
    aw.world.approve("bob", number)
    assert _handle(aw, number) is Status.INVALID
    _no_grant(aw, number)


@pytest.mark.parametrize("duration", ["31d", "5w", "2d"])
def test_a_duration_over_the_limits(aw: AccessWorld, duration: str) -> None:
    """30d is every request's limit; the policy's maxDuration (1d) is this one's."""
    number = open_access(aw.world, {FILE: access_yaml(duration=duration)})
    aw.world.approve("bob", number)
    assert _handle(aw, number) is Status.INVALID
    _no_grant(aw, number)


# ------------------------------------------------------------------ who asks, who approves


@pytest.mark.parametrize("requester", ["bob", "carol", "sealgate"])
def test_a_request_in_someone_else_s_name(aw: AccessWorld, requester: str) -> None:
    number = open_access(aw.world, {FILE: access_yaml(requester=requester)})
    aw.world.approve("bob", number)
    aw.world.approve("carol", number)
    assert _handle(aw, number) is Status.INVALID
    _no_grant(aw, number)


def test_the_requester_s_case_does_not_widen_who_may_open(aw: AccessWorld) -> None:
    """``Alice`` is alice on GitHub: the grant is alice's, and nobody else's."""
    aw.grant_for({FILE: access_yaml(requester="ALICE")})
    (grant,) = aw.controller.store.grants()
    assert grant.requester.casefold() == "alice"
    response, _ = aw.opener.open(aw.token("bob"))
    assert response.status_code == 403
    response, values = aw.opener.open(aw.token("alice"))
    assert response.status_code == 200
    assert values is not None


def test_an_approver_who_pushed_to_the_request_cannot_approve_it(aw: AccessWorld) -> None:
    """GitHub refuses an author's own approval; an approver who pushed a commit onto
    someone else's request (to ride on it) is a contributor and does not count either."""
    number = open_access(aw.world, {FILE: access_yaml()})
    branch = str(aw.world.hub.pull(OWNER, REPO, number)["head"]["ref"])
    edited = access_yaml(reason="Investigating failed payouts, incident 4711 and 4712")
    aw.world.hub.push(OWNER, REPO, branch, {FILE: edited}, message="typo", author="bob")
    aw.world.approve("bob", number)
    assert _handle(aw, number) is Status.PENDING
    _no_grant(aw, number)


def test_an_approval_before_a_push_does_not_cover_what_was_pushed(aw: AccessWorld) -> None:
    """Approved for one key, then widened to every key of the secret before the merge."""
    number = open_access(aw.world, {FILE: access_yaml()})
    aw.controller.reconciler.handle(FULL, number)
    aw.world.approve("bob", number)
    branch = str(aw.world.hub.pull(OWNER, REPO, number)["head"]["ref"])
    wider = access_yaml(secrets=f"    - {{secret: {PATH}}}\n", duration="1d")
    aw.world.hub.push(OWNER, REPO, branch, {FILE: wider}, message="widen", author="alice")
    assert _handle(aw, number) is Status.PENDING
    _no_grant(aw, number)


def test_an_unlisted_approver_does_not_count(aw: AccessWorld) -> None:
    number = open_access(aw.world, {FILE: access_yaml()})
    aw.world.approve("erin", number)  # an admin whom no policy names
    assert _handle(aw, number) is Status.PENDING
    _no_grant(aw, number)


def test_a_pull_request_into_an_unjudged_branch_gets_nothing(aw: AccessWorld) -> None:
    main = aw.world.hub.read_file(OWNER, REPO, "main", f"environments/{ENV}.yaml")
    assert main is not None
    aw.world.hub.push(
        OWNER,
        REPO,
        "release",
        {"README.md": b"release\n"},
        message="branch",
        author="erin",
        base="main",
    )
    branch = "access-to-release"
    aw.world.hub.push(
        OWNER, REPO, branch, {FILE: access_yaml()}, message="ask", author="alice", base="main"
    )
    number = aw.world.hub.open_pull_request(
        OWNER, REPO, head=branch, base="release", title="x", author="alice"
    )
    aw.world.approve("bob", number)
    assert _handle(aw, number) is not Status.GRANTED
    _no_grant(aw, number)


# ------------------------------------------------------------------ approve-for


def test_approve_for_by_the_requester_does_not_count(aw: AccessWorld) -> None:
    number = open_access(aw.world, {FILE: access_yaml(duration="2h")})
    aw.controller.reconciler.handle(FULL, number)
    aw.world.comment("alice", number, "/sealgate approve-for 1h")
    aw.world.approve("bob", number)
    assert _handle(aw, number) is Status.GRANTED
    (grant,) = aw.controller.store.grants()
    assert grant.duration == timedelta(hours=2)


def test_approve_for_cannot_lengthen(aw: AccessWorld) -> None:
    number = open_access(aw.world, {FILE: access_yaml(duration="2h")})
    aw.controller.reconciler.handle(FULL, number)
    aw.world.comment("bob", number, "/sealgate approve-for 1w")
    aw.world.approve("bob", number)
    assert _handle(aw, number) is Status.GRANTED
    (grant,) = aw.controller.store.grants()
    assert grant.duration == timedelta(hours=2)


def test_an_edited_approve_for_does_not_count(aw: AccessWorld) -> None:
    """Anyone with write access can edit a comment: an edited one shortens nothing (nor,
    edited to a huge value, lengthens anything)."""
    number = open_access(aw.world, {FILE: access_yaml(duration="2h")})
    aw.controller.reconciler.handle(FULL, number)
    aw.world.comment("bob", number, "/sealgate approve-for 30m")
    comment = [c for c in aw.world.hub.comments(OWNER, REPO, number) if "approve-for" in c["body"]][
        -1
    ]
    issue = aw.world.as_user("alice").get_repo(FULL).get_issue(number)
    issue.get_comment(comment["id"]).edit("/sealgate approve-for 1w")
    aw.world.approve("bob", number)
    assert _handle(aw, number) is Status.GRANTED
    (grant,) = aw.controller.store.grants()
    assert grant.duration == timedelta(hours=2)


# ------------------------------------------------------------------ after the merge


def test_a_merged_request_edited_later_grants_nothing_without_approval(aw: AccessWorld) -> None:
    aw.grant_for({FILE: access_yaml()})
    before = aw.controller.store.grants()
    number = open_access(aw.world, {FILE: access_yaml(secrets=f"    - {{secret: {PATH}}}\n")})
    assert _handle(aw, number) is Status.PENDING
    assert not merged(aw.world, number)
    assert aw.controller.store.grants() == before


def test_a_request_merged_on_github_without_approval_grants_nothing(aw: AccessWorld) -> None:
    """An admin merges the pull request on GitHub, past sealgate's pending check."""
    number = open_access(aw.world, {FILE: access_yaml()})
    aw.controller.reconciler.handle(FULL, number)
    aw.world.as_user("erin").get_repo(FULL).get_pull(number).merge()
    status = _handle(aw, number)
    assert status is not Status.GRANTED
    assert aw.controller.store.grants() == []


def test_a_request_merged_on_github_after_a_stale_approval_grants_nothing(
    aw: AccessWorld,
) -> None:
    """Approved, then widened by a push, then merged on GitHub before sealgate looked."""
    number = open_access(aw.world, {FILE: access_yaml()})
    aw.controller.reconciler.handle(FULL, number)
    aw.world.approve("bob", number)
    branch = str(aw.world.hub.pull(OWNER, REPO, number)["head"]["ref"])
    wider = access_yaml(secrets=f"    - {{secret: {PATH}}}\n", duration="1d")
    aw.world.hub.push(OWNER, REPO, branch, {FILE: wider}, message="widen", author="alice")
    aw.world.as_user("erin").get_repo(FULL).get_pull(number).merge()
    assert _handle(aw, number) is not Status.GRANTED
    assert aw.controller.store.grants() == []


def test_an_expired_request_cannot_be_approved_into_a_grant(tmp_path: Path) -> None:
    policy = ACCESS_POLICY.replace(b"expiresAfter: 7d", b"expiresAfter: 1h")
    for aw in build_access_world(tmp_path, policy=policy):
        number = open_access(aw.world, {FILE: access_yaml()})
        aw.controller.reconciler.handle(FULL, number)
        aw.clock.offset = timedelta(hours=1, minutes=1)
        aw.world.approve("bob", number)
        assert _handle(aw, number) is Status.EXPIRED
        _no_grant(aw, number)


def test_retargeting_an_approved_request_to_an_unjudged_branch_grants_nothing(
    aw: AccessWorld,
) -> None:
    aw.world.hub.push(
        OWNER, REPO, "release", {"README.md": b"r\n"}, message="b", author="erin", base="main"
    )
    number = open_access(aw.world, {FILE: access_yaml()})
    aw.controller.reconciler.handle(FULL, number)
    aw.world.as_user("alice").get_repo(FULL).get_pull(number).edit(base="release")
    aw.world.approve("bob", number)
    assert _handle(aw, number) is not Status.GRANTED
    _no_grant(aw, number)
