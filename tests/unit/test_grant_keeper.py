"""``GrantKeeper``: grant, expire, repair and revoke against in-memory fakes of sealgate's own
grant ports (``tests/unit/grant_fakes.py``), with a clock the test moves."""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

import pytest

from controller.errors import ClusterError, InputError, IntegrityError, StoreError
from controller.model import (
    AccessDelivery,
    AccessRequest,
    Comment,
    Decision,
    DecisionState,
    GrantState,
    KubernetesSubject,
    SecretAccess,
    StepResult,
    Tier,
)
from controller.reconciler.grant_terms import new_grants
from controller.reconciler.grants import GrantKeeper, RepairReport
from controller.reconciler.reconciler import Reconciler
from controller.reconciler.revoking import revoke_from_comments
from controller.reconciler.settings import ReconcilerSettings
from tests.unit.grant_fakes import T0, Clock, CountingObserver, FakeAccessTargets, FakeGrants

REPO = "acme/requests"
CLUSTERS = {"production": ("eu-1", "us-1"), "staging": ("stage-1",)}
CANARY = "CANARY-7f3a9c-never-shown"
TOKEN = "ghp_" + "Q7" * 18


def clusters_of(environment: str) -> Sequence[str]:
    return CLUSTERS.get(environment, ())


def request(
    request_id: str = "incident-4711",
    *,
    deliver: frozenset[AccessDelivery] = frozenset({AccessDelivery.KUBERNETES}),
    duration: timedelta = timedelta(hours=2),
    environment: str = "production",
    secrets: tuple[SecretAccess, ...] = (SecretAccess("payments/stripe", ("API_KEY",)),),
) -> AccessRequest:
    return AccessRequest(
        name=request_id,
        environment=environment,
        secrets=secrets,
        requester="Alice",
        reason="incident 4711: replay failed webhooks",
        duration=duration,
        activate_within=timedelta(hours=1),
        deliver=deliver,
        kubernetes_subject=(
            KubernetesSubject("User", "alice@acme.example")
            if AccessDelivery.KUBERNETES in deliver
            else None
        ),
        source=f"access/{environment}/{request_id}.yaml",
    )


def approved(granted: timedelta | None = None) -> Decision:
    return Decision(DecisionState.APPROVED, ("approved",), access=True, granted_duration=granted)


class World:
    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []
        self.clock = Clock()
        self.store = FakeGrants(self.events)
        self.kube = FakeAccessTargets(self.events, ["eu-1", "us-1", "stage-1", "old-1"])
        self.observer = CountingObserver()
        self.keeper = self.new_keeper()

    def new_keeper(self) -> GrantKeeper:
        return GrantKeeper(self.store, self.kube, self.observer, self.clock, "sealgate[bot]")

    def grant(self, *requests: AccessRequest, granted: timedelta | None = None) -> list[str]:
        made = self.keeper.grant(
            requests or (request(),),
            approved(granted),
            repo=REPO,
            number=42,
            approved_at=self.clock.now,
            approvers=["Bob"],
            tiers={"production/payments/stripe": Tier.CRITICAL},
            clusters=clusters_of,
            origin=None,
        )
        return [g.id for g in made]


@pytest.fixture
def world() -> World:
    return World()


# ---------------------------------------------------------------------- new_grants


def test_new_grants_math() -> None:
    wide = request(
        "read-both",
        deliver=frozenset({AccessDelivery.OPEN}),
        secrets=(SecretAccess("payments/stripe"), SecretAccess("web/session", ("KEY",))),
    )
    [grant] = new_grants(
        [wide],
        approved(),
        repo=REPO,
        number=42,
        approved_at=T0,
        approvers=["Carol", "bob"],
        tiers={
            "production/payments/stripe": Tier.CRITICAL,
            "production/web/session": Tier.STANDARD,
        },
    )
    assert grant.id == "production-pr-42-read-both"
    assert grant.duration == timedelta(hours=2)
    assert grant.activate_by == T0 + timedelta(hours=1)
    assert grant.tier is Tier.CRITICAL  # the highest of its secrets
    assert grant.approvers == ("bob", "carol")
    assert grant.first_used_at is None
    assert grant.state(T0) is GrantState.APPROVED
    assert grant.ends_at == grant.activate_by


def test_new_grants_unknown_tier_counts_as_sensitive() -> None:
    [grant] = new_grants(
        [request()], approved(), repo=REPO, number=1, approved_at=T0, approvers=[], tiers={}
    )
    assert grant.tier is Tier.SENSITIVE


def test_approve_for_shortens_but_never_lengthens() -> None:
    short = request("short", duration=timedelta(minutes=30))
    long = request("long", duration=timedelta(hours=8))
    grants = new_grants(
        [short, long],
        approved(timedelta(hours=1)),
        repo=REPO,
        number=42,
        approved_at=T0,
        approvers=["bob"],
    )
    assert [g.duration for g in grants] == [timedelta(minutes=30), timedelta(hours=1)]


def test_new_grants_refuses_an_unapproved_decision_and_a_subjectless_binding() -> None:
    pending = Decision(DecisionState.PENDING, ("waiting",), access=True)
    with pytest.raises(InputError, match="only an approved access request"):
        new_grants([request()], pending, repo=REPO, number=1, approved_at=T0, approvers=[])
    change = Decision(DecisionState.APPROVED, ("approved",))
    with pytest.raises(InputError, match="not for access"):
        new_grants([request()], change, repo=REPO, number=1, approved_at=T0, approvers=[])
    bare = dataclasses.replace(request(), kubernetes_subject=None)
    with pytest.raises(
        InputError, match=r"access/production/incident-4711.yaml: spec\.kubernetesSubject"
    ):
        new_grants([bare], approved(), repo=REPO, number=1, approved_at=T0, approvers=[])


# ---------------------------------------------------------------------- grant


def test_grant_is_idempotent(world: World) -> None:
    first = world.grant()
    world.clock.advance(minutes=5)
    again = world.grant()
    assert first == again == ["production-pr-42-incident-4711"]
    assert [a for a in world.store.audit if a[0] == "grant-approved"] == [
        ("grant-approved", first[0])
    ]
    assert [a for a in world.store.audit if a[0] == "grant-activated"] == [
        ("grant-activated", first[0])
    ]
    grant = world.store.stored[first[0]]
    assert grant.first_used_at == T0  # the replay did not restart the clock


def test_kubernetes_delivery_activates_at_bind(world: World) -> None:
    world.clock.advance(minutes=10)
    [grant_id] = world.grant()
    grant = world.store.stored[grant_id]
    assert grant.first_used_at == world.clock.now
    assert grant.ends_at == world.clock.now + timedelta(hours=2)
    assert ("grant-used:kubernetes", grant_id) in world.store.audit
    for cluster in ("eu-1", "us-1"):
        # The binding carries the activated end, not the activation deadline.
        assert world.kube.bindings[cluster][grant_id].ends_at == grant.ends_at
    assert world.kube.bound()["stage-1"] == set()
    # Recorded before bound: a crash in between leaves a record for repair to deliver.
    kinds = [e[1] for e in world.events]
    assert kinds.index("grant-approved") < kinds.index("bind") < kinds.index("grant-activated")


def test_open_delivery_is_recorded_not_bound_nor_activated(world: World) -> None:
    [grant_id] = world.grant(request(deliver=frozenset({AccessDelivery.OPEN})))
    assert world.store.stored[grant_id].first_used_at is None
    assert all(not b for b in world.kube.bound().values())


def test_environment_without_clusters_is_not_activated(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        [grant_id] = world.grant(request(environment="qa"))
    assert world.store.stored[grant_id].first_used_at is None
    assert "has no clusters" in caplog.text
    assert world.observer.failures == ["grants"]


def test_grant_that_already_lapsed_is_not_bound_on_replay(world: World) -> None:
    world.kube.down = {"eu-1", "us-1"}
    [grant_id] = world.grant()
    world.kube.down = set()
    world.clock.advance(hours=2)  # past activate_by, never used
    world.grant()
    assert all(grant_id not in b for b in world.kube.bound().values())


# ---------------------------------------------------------------------- expire


@pytest.mark.parametrize(
    ("how", "state"),
    [("lapsed", GrantState.LAPSED), ("ended", GrantState.ENDED), ("revoked", GrantState.REVOKED)],
)
def test_expire_unbinds_then_records_the_end(world: World, how: str, state: GrantState) -> None:
    if how == "lapsed":
        world.kube.down = {"eu-1", "us-1"}  # never bound, so never activated
        [grant_id] = world.grant()
        world.kube.down = set()
        world.kube.bindings["eu-1"][grant_id] = world.store.stored[grant_id]  # left behind
        world.clock.advance(hours=1, seconds=1)
    else:
        [grant_id] = world.grant()
        if how == "revoked":
            world.store.revoke_grant(grant_id, at=world.clock.now, actor="bob", reason="done")
        world.clock.advance(hours=2 if how == "ended" else 0, seconds=1)
    world.events.clear()
    ended = world.keeper.expire(clusters_of)
    assert [g.id for g in ended] == [grant_id]
    assert world.store.stored[grant_id].ended_recorded
    assert (f"grant-ended:{state}", grant_id) in world.store.audit
    assert all(grant_id not in b for b in world.kube.bound().values())
    kinds = [e[1] for e in world.events]
    assert kinds == ["unbind", "unbind", f"grant-ended:{state}"]
    assert world.keeper.expire(clusters_of) == []  # nothing left to do


def test_expire_leaves_live_grants(world: World) -> None:
    [grant_id] = world.grant()
    world.clock.advance(hours=1, minutes=59)
    assert world.keeper.expire(clusters_of) == []
    assert grant_id in world.kube.bindings["eu-1"]


def test_crash_between_unbind_and_end_is_finished_next_pass(world: World) -> None:
    [grant_id] = world.grant()
    world.clock.advance(hours=3)
    world.store.fail["end_grant"] = StoreError("store commit failed", retryable=True)
    assert world.keeper.expire(clusters_of) == []
    assert not world.store.stored[grant_id].ended_recorded
    assert all(grant_id not in b for b in world.kube.bound().values())
    assert world.observer.failures == ["grants"]
    world.events.clear()
    assert [g.id for g in world.keeper.expire(clusters_of)] == [grant_id]
    assert [e[1] for e in world.events] == ["unbind", "unbind", "grant-ended:ended"]


def test_expire_refreshes_the_end_of_a_binding_after_activation(world: World) -> None:
    both = frozenset({AccessDelivery.OPEN, AccessDelivery.KUBERNETES})
    world.kube.fail[("bind", "eu-1")] = ClusterError("once", retryable=True)
    world.kube.fail[("bind", "us-1")] = ClusterError("once", retryable=True)
    [grant_id] = world.grant(request(deliver=both))
    world.keeper.repair(clusters_of)  # binds (activating it)
    grant = world.store.stored[grant_id]
    assert grant.first_used_at is not None
    assert world.kube.bindings["eu-1"][grant_id].ends_at == grant.ends_at
    # A restart forgets what was written: the next expire writes every live binding again.
    world.keeper = world.new_keeper()
    world.events.clear()
    world.keeper.expire(clusters_of)
    assert sorted(e[2] for e in world.events if e[1] == "bind") == ["eu-1", "us-1"]
    world.events.clear()
    world.keeper.expire(clusters_of)
    assert world.events == []  # already current: no API calls


# ---------------------------------------------------------------------- repair


def test_crash_between_record_and_bind_is_repaired(world: World) -> None:
    world.kube.down = {"eu-1", "us-1"}
    [grant_id] = world.grant()
    assert world.store.stored[grant_id].first_used_at is None
    world.kube.down = set()
    world.clock.advance(minutes=20)
    report = world.keeper.repair(clusters_of)
    assert sorted(report.bound) == [("eu-1", grant_id), ("us-1", grant_id)]
    assert report.activated == (grant_id,)
    grant = world.store.stored[grant_id]
    assert grant.first_used_at == world.clock.now
    assert world.kube.bindings["us-1"][grant_id].ends_at == grant.ends_at


def test_crash_between_bind_and_first_use_is_recorded_by_repair(world: World) -> None:
    world.store.fail["record_use"] = StoreError("store commit failed", retryable=True)
    [grant_id] = world.grant()
    assert world.store.stored[grant_id].first_used_at is None
    assert grant_id in world.kube.bindings["eu-1"]
    report = world.keeper.repair(clusters_of)
    assert report.bound == ()
    assert report.activated == (grant_id,)
    assert world.store.stored[grant_id].first_used_at is not None


def test_repair_binds_missing_and_removes_strays(world: World) -> None:
    [grant_id] = world.grant()
    stray = world.store.stored[grant_id]
    del world.kube.bindings["us-1"][grant_id]  # deleted by hand
    world.kube.bindings["eu-1"]["production-pr-7-forged"] = stray  # no such grant
    world.kube.bindings["stage-1"][grant_id] = stray  # not a cluster of its environment
    world.kube.bindings["old-1"][grant_id] = stray  # a cluster production no longer lists
    report = world.keeper.repair(clusters_of)
    assert report.bound == (("us-1", grant_id),)
    assert report.removed == (("eu-1", "production-pr-7-forged"),)  # old-1 was not read
    report = world.keeper.repair(clusters_of, every_cluster=list(world.kube.bindings))
    assert report.bound == ()  # bound by the first pass
    assert sorted(report.removed) == [("old-1", grant_id), ("stage-1", grant_id)]
    assert world.kube.bound() == {
        "eu-1": {grant_id},
        "us-1": {grant_id},
        "stage-1": set(),
        "old-1": set(),
    }
    assert world.keeper.repair(clusters_of, every_cluster=["old-1"]) == type(report)()


def test_repair_removes_the_binding_of_an_ended_grant(world: World) -> None:
    [grant_id] = world.grant()
    world.clock.advance(hours=3)
    world.keeper.expire(clusters_of)
    world.kube.bindings["eu-1"][grant_id] = world.store.stored[grant_id]  # re-created by hand
    report = world.keeper.repair(clusters_of)
    assert report.removed == (("eu-1", grant_id),)
    assert report.bound == ()


def test_repair_keeps_bindings_of_environments_whose_clusters_are_unknown(world: World) -> None:
    [grant_id] = world.grant()
    known = {"staging": ("eu-1",)}  # after a restart: production's clusters not learnt yet
    report = world.keeper.repair(lambda env: known.get(env, ()))
    assert report.removed == ()
    assert grant_id in world.kube.bindings["eu-1"]


# ---------------------------------------------------------------------- revoke


def test_revoke(world: World) -> None:
    [grant_id] = world.grant()
    world.clock.advance(minutes=5)
    grant = world.keeper.revoke(grant_id, actor="bob", reason="done early", clusters_of=clusters_of)
    assert grant.ended_recorded
    assert grant.revoked_by == "bob"
    assert grant.state(world.clock.now) is GrantState.REVOKED
    assert all(grant_id not in b for b in world.kube.bound().values())
    kinds = [e[1] for e in world.events[-4:]]
    assert kinds == ["grant-revoked", "unbind", "unbind", "grant-ended:revoked"]
    again = world.keeper.revoke(grant_id, actor="carol", reason="again", clusters_of=clusters_of)
    assert again.revoked_by == "bob"


def test_revoke_refuses_unknown_ids_and_bad_reasons(world: World) -> None:
    [grant_id] = world.grant()
    with pytest.raises(InputError, match="no grant has the id 'nope'"):
        world.keeper.revoke("nope", actor="bob", reason="x", clusters_of=clusters_of)
    with pytest.raises(InputError, match="a reason is required"):
        world.keeper.revoke(grant_id, actor="bob", reason="  ", clusters_of=clusters_of)
    token = "ghp_" + "A" * 36
    with pytest.raises(InputError, match="a GitHub token") as caught:
        world.keeper.revoke(
            grant_id, actor="bob", reason=f"leaked {token}", clusters_of=clusters_of
        )
    assert token not in str(caught.value)
    assert world.store.stored[grant_id].revoked_at is None


def test_revoke_with_a_cluster_down_is_finished_by_expire(world: World) -> None:
    [grant_id] = world.grant()
    world.kube.down = {"us-1"}
    grant = world.keeper.revoke(grant_id, actor="bob", reason="done", clusters_of=clusters_of)
    assert grant.revoked_at is not None
    assert not grant.ended_recorded
    assert grant_id not in world.kube.bindings["eu-1"]
    world.kube.down = set()
    assert [g.id for g in world.keeper.expire(clusters_of)] == [grant_id]
    assert world.kube.bound()["us-1"] == set()


# ---------------------------------------------------------------------- failures, restart


def test_a_failing_cluster_does_not_block_the_others(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.kube.down = {"eu-1"}
    [grant_id] = world.grant()
    assert grant_id in world.kube.bindings["us-1"]
    assert world.store.stored[grant_id].first_used_at is not None  # access exists in us-1
    report = world.keeper.repair(clusters_of)
    assert report.failed == ("eu-1",)
    world.clock.advance(hours=3)
    with caplog.at_level(logging.WARNING):
        assert world.keeper.expire(clusters_of) == []  # eu-1 still down: end not recorded
    assert world.kube.bound()["us-1"] == set()
    assert "eu-1" in caplog.text
    assert set(world.observer.failures) == {"grants"}
    world.kube.down = set()
    assert [g.id for g in world.keeper.expire(clusters_of)] == [grant_id]


def test_errors_are_logged_without_foreign_messages(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.kube.fail[("bind", "eu-1")] = RuntimeError(f"response body {CANARY}")
    world.store.fail["record_use"] = ValueError(CANARY)
    with caplog.at_level(logging.DEBUG):
        world.grant()
        world.keeper.repair(clusters_of)
    assert "RuntimeError" in caplog.text
    assert "ValueError" in caplog.text
    assert CANARY not in caplog.text


def test_a_restarted_keeper_continues(world: World) -> None:
    [grant_id] = world.grant()
    world.clock.advance(hours=2, seconds=1)
    world.keeper = world.new_keeper()  # same store and clusters, nothing in memory
    assert [g.id for g in world.keeper.expire(clusters_of)] == [grant_id]
    assert all(grant_id not in b for b in world.kube.bound().values())
    world.keeper = world.new_keeper()
    assert world.keeper.expire(clusters_of) == []
    assert world.keeper.repair(clusters_of).removed == ()


# ---------------------------------------------------------------------- the reconciler's hook


def reconciler_over(world: World, *, with_ports: bool = True) -> Reconciler:
    unused = cast(Any, None)  # keep_grants touches only the grant ports
    return Reconciler(
        github=unused,
        store=unused,
        targets=unused,
        keys=unused,
        notifier=None,
        settings=ReconcilerSettings(
            bot_login="sealgate[bot]",
            environment_clusters={"production": ("eu-1", "us-1"), "staging": ("stage-1",)},
        ),
        observer=world.observer,
        clock=world.clock,
        grants=world.store if with_ports else None,
        access=world.kube if with_ports else None,
    )


def test_reconciler_keeps_grants_in_every_known_cluster(world: World) -> None:
    reconciler = reconciler_over(world)
    assert reconciler.grant_keeper is not None
    world.keeper = reconciler.grant_keeper
    [grant_id] = world.grant()
    world.kube.bindings["stage-1"]["staging-pr-1-forged"] = world.store.stored[grant_id]
    ended, repair = reconciler.keep_grants()
    assert ended == []
    assert repair.removed == (("stage-1", "staging-pr-1-forged"),)  # no staging grant: read anyway
    world.clock.advance(hours=3)
    ended, repair = reconciler.keep_grants()
    assert ended == [grant_id]
    assert all(not b for b in world.kube.bound().values())


def test_reconciler_without_grant_ports_keeps_nothing(world: World) -> None:
    reconciler = reconciler_over(world, with_ports=False)
    assert reconciler.grant_keeper is None
    assert reconciler.keep_grants() == ([], RepairReport())


def test_reconciler_waits_for_clusters_before_ending_grants(world: World) -> None:
    reconciler = Reconciler(
        github=cast(Any, None),
        store=cast(Any, None),
        targets=cast(Any, None),
        keys=cast(Any, None),
        notifier=None,
        settings=ReconcilerSettings(bot_login="sealgate[bot]"),  # just started: none known
        observer=world.observer,
        clock=world.clock,
        grants=world.store,
        access=world.kube,
    )
    [grant_id] = world.grant()
    world.clock.advance(hours=3)
    assert reconciler.keep_grants() == ([], RepairReport())
    assert not world.store.stored[grant_id].ended_recorded  # not ended with bindings left
    assert grant_id in world.kube.bindings["eu-1"]


# ---------------------------------------------------------------------- revoke by comment


def _comment(user: str, body: str, minutes: int, comment_id: int) -> Comment:
    return Comment(user, body, T0 + timedelta(minutes=minutes), id=comment_id)


def test_revoke_comments_end_every_grant_of_the_pull_request(world: World) -> None:
    ids = world.grant(request("one"), request("two", deliver=frozenset({AccessDelivery.OPEN})))
    granting = Decision(
        DecisionState.APPROVED,
        ("approved",),
        steps=(StepResult("access", "sre", 1, ("bob",), ("carol",)),),
        access=True,
    )
    comments = [
        _comment("mallory", "/sealgate revoke mine now", 2, 1),
        _comment("carol", f"/sealgate revoke over, token was {TOKEN}", 3, 2),
        _comment("bob", "/sealgate revoke incident over", 4, 3),
    ]
    world.clock.advance(minutes=5)
    grants = world.keeper.of_pull(REPO, 42)
    assert sorted(g.id for g in grants) == sorted(ids)
    done = revoke_from_comments(
        world.keeper,
        grants,
        comments,
        granting,
        bot_login="sealgate[bot]",
        clusters_of=clusters_of,
    )
    assert sorted(g.id for g in done.revoked) == sorted(ids)
    assert {(g.revoked_by, g.revoke_reason) for g in done.revoked} == {("bob", "incident over")}
    assert all(g.ended_recorded for g in done.revoked)
    assert len(done.notes) == 2  # mallory's and carol's, once each for both grants
    assert "mallory" in done.notes[0]
    assert "refused" in done.notes[1]
    assert TOKEN not in repr(done) + repr(world.store.stored) + repr(world.kube.bindings)
    assert all(not b for b in world.kube.bound().values())
    again = revoke_from_comments(
        world.keeper,
        world.keeper.of_pull(REPO, 42),
        comments,
        granting,
        bot_login="sealgate[bot]",
        clusters_of=clusters_of,
    )
    assert again.revoked == ()  # done once; later passes change nothing


def test_new_grants_refuses_requests_sharing_a_grant_id() -> None:
    one = request("same")
    two = dataclasses.replace(request("same"), document_index=1)
    with pytest.raises(InputError, match=r"same grant id as access/production/same\.yaml"):
        new_grants([one, two], approved(), repo=REPO, number=1, approved_at=T0, approvers=[])


def test_new_grants_tier_falls_back_to_the_decision() -> None:
    decision = dataclasses.replace(approved(), tiers={"production/payments/stripe": Tier.STANDARD})
    [grant] = new_grants([request()], decision, repo=REPO, number=1, approved_at=T0, approvers=[])
    assert grant.tier is Tier.STANDARD


def test_a_grant_id_recorded_for_another_request_is_never_delivered(world: World) -> None:
    [grant_id] = world.grant()
    other = dataclasses.replace(world.store.stored[grant_id], repo="acme/other")
    world.store.stored[grant_id] = other  # as if two long ids shared a digest
    world.kube.bindings = {c: {} for c in world.kube.bindings}
    with pytest.raises(IntegrityError, match="already recorded for another request"):
        world.grant()
    assert all(not b for b in world.kube.bound().values())


# ---------------------------------------------------------------------- every crash, any order


@pytest.mark.parametrize("seed", range(40))
def test_any_interleaving_of_failures_converges_after_one_clean_pass(seed: int) -> None:
    """Random grants, revocations, clock moves, restarts and one-off failures of every port
    call; once the world is healthy, one expire + repair leaves exactly the live grants
    bound in their clusters, and every grant that is not live recorded as ended."""
    rng = random.Random(seed)
    world = World()
    store_calls = ["record_grant", "record_use", "revoke_grant", "end_grant"]
    for step in range(30):
        if rng.random() < 0.3:
            world.store.fail[rng.choice(store_calls)] = StoreError("commit failed", retryable=True)
        if rng.random() < 0.3:
            method = rng.choice(["bind", "unbind", "bound"])
            world.kube.fail[(method, rng.choice(["eu-1", "us-1"]))] = ClusterError(
                "api down", retryable=True
            )
        action = rng.choice(["grant", "grant", "expire", "repair", "revoke", "tick", "restart"])
        try:
            if action == "grant":
                world.grant(request(f"r{step}", duration=timedelta(minutes=rng.randint(5, 90))))
            elif action == "expire":
                world.keeper.expire(clusters_of)
            elif action == "repair":
                world.keeper.repair(clusters_of)
            elif action == "revoke" and world.store.stored:
                target = rng.choice(sorted(world.store.stored))
                world.keeper.revoke(target, actor="bob", reason="done", clusters_of=clusters_of)
            elif action == "tick":
                world.clock.advance(minutes=rng.randint(1, 60))
            elif action == "restart":
                world.keeper = world.new_keeper()
        except (StoreError, ClusterError):
            pass  # a crash of that step: the next passes must repair it
    world.store.fail.clear()
    world.kube.fail.clear()
    world.keeper.expire(clusters_of)
    world.keeper.repair(clusters_of)
    now = world.clock.now
    live = {g.id for g in world.store.stored.values() if g.state(now).live}
    assert world.kube.bound() == {"eu-1": live, "us-1": live, "stage-1": set(), "old-1": set()}
    for grant in world.store.stored.values():
        assert grant.ended_recorded is not grant.state(now).live
        if grant.id in live:
            assert grant.first_used_at is not None  # bound, so its duration runs
            for cluster in ("eu-1", "us-1"):
                # Every binding carries the end the store holds.
                assert world.kube.bindings[cluster][grant.id].ends_at == grant.ends_at


def test_metrics_count_grants_and_ends_and_keep_the_gauge_at_zero(world: World) -> None:
    opened = request(deliver=frozenset({AccessDelivery.OPEN}))
    world.grant(opened)
    world.grant(opened)  # a replayed merge is not granted twice
    assert world.observer.grant_events == ["granted"]
    world.keeper.expire(clusters_of)
    assert world.observer.active == {"production": 1}
    world.clock.advance(hours=2)  # past activateWithin, never used
    world.keeper.expire(clusters_of)
    assert world.observer.grant_events == ["granted", "lapsed"]
    world.keeper.expire(clusters_of)
    assert world.observer.active == {"production": 0}
