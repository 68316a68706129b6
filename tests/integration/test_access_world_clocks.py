"""Access requests end to end, the clocks: an activation window that lapses, a duration
counted from the first use, a revocation, and controller restarts in between (new
Controller and Reconciler objects over the same store directory: nothing but the store and
GitHub carries state across).

How late a binding may outlive its grant: ``open`` checks the grant's clock on every use,
so it stops exactly at the end. A Kubernetes binding is removed by the grant loop
(``Reconciler.keep_grants``, run every ``grants.interval``, default 10 s): these tests show
that the first pass at or after the end removes it, so a binding outlives its grant's end
by at most one ``grants.interval`` plus the length of one pass.
"""

from __future__ import annotations

from datetime import timedelta

from tests.integration.access_world_support import (
    AccessWorld,
    access,
    access_yaml,
)
from tests.integration.test_reconciler_world import FULL

__all__ = ["access"]  # the fixture


def test_never_used_lapses_across_a_restart(access: AccessWorld) -> None:
    access.seed()
    number = access.granted(access_yaml(activate_within="1h"))
    grant = access.grant()
    assert grant.activate_by == grant.approved_at + timedelta(hours=1)
    access.restart()
    assert number in access.poll()  # watched again from the store alone
    access.clock.advance(timedelta(minutes=59))
    assert access.keep_grants() == []
    access.clock.to(grant.activate_by)
    lapsed = access.endpoint.open(access.token("alice"))
    assert lapsed.status_code == 403
    assert lapsed.json()["reason"] == "lapsed"
    assert access.keep_grants() == [grant.id]
    assert access.grant().ended_recorded
    assert access.grant().first_used_at is None  # the refused try did not start it
    # Ended by the loop and restarted before any pass reported it: the new process still
    # reports it once.
    access.restart()
    assert access.poll() == [number]
    assert "**Lapsed:** never used" in access.summary(number)
    assert access.poll() == []
    status = access.endpoint.request_status(number)
    assert status["access"][0]["state"] == "lapsed"


def test_a_binding_never_made_lapses_and_is_never_made_late(access: AccessWorld) -> None:
    """The cluster refuses RoleBindings through the whole activation window: the grant was
    never used, lapses, and a cluster that recovers afterwards gets no binding."""
    access.seed()
    access.world.kube.forbid("create", "rolebindings")
    number = access.granted(access_yaml(deliver=("kubernetes",), activate_within="1h"))
    grant = access.grant()
    assert access.bindings() == []
    assert access.grant().first_used_at is None
    access.clock.to(grant.activate_by)
    assert access.keep_grants() == [grant.id]
    access.world.kube.clear_faults()
    assert access.keep_grants() == []
    assert access.bindings() == []
    assert access.can_i() == "no"
    access.poll()
    assert "**Lapsed:**" in access.summary(number)


def test_a_binding_made_once_the_cluster_recovers_starts_the_duration(access: AccessWorld) -> None:
    access.seed()
    access.world.kube.forbid("create", "rolebindings")
    access.granted(access_yaml(deliver=("kubernetes",), duration="1h"))
    assert access.grant().first_used_at is None
    access.world.kube.clear_faults()
    access.clock.advance(timedelta(minutes=10))
    recovered = access.clock()
    access.restart()
    access.keep_grants()
    grant = access.grant()
    assert access.can_i() == "yes"
    assert grant.first_used_at is not None
    assert recovered <= grant.first_used_at <= access.clock()
    assert grant.ends_at == grant.first_used_at + timedelta(hours=1)


def test_duration_counts_from_first_use_and_the_binding_goes_on_the_first_pass_after(
    access: AccessWorld,
) -> None:
    access.seed()
    number = access.granted(access_yaml(deliver=("open", "kubernetes"), duration="1h"))
    bound = access.grant()
    assert bound.first_used_at is not None  # the binding was the first use
    assert bound.ends_at == bound.first_used_at + timedelta(hours=1)
    access.restart()
    access.clock.advance(timedelta(minutes=30))
    opened = access.endpoint.open(access.token("alice"))
    assert opened.status_code == 200, opened.text
    assert opened.json()["endsAt"].startswith(bound.ends_at.isoformat()[:19])
    assert access.grant().ends_at == bound.ends_at  # a later use does not extend it
    access.restart()
    access.clock.to(bound.ends_at - timedelta(minutes=1))
    assert access.keep_grants() == []
    assert access.can_i() == "yes"
    access.clock.to(bound.ends_at)
    # Past the end, before the loop's next pass: open already refuses; RBAC still allows.
    assert access.endpoint.open(access.token("alice")).json()["reason"] == "ended"
    assert access.can()
    assert access.keep_grants() == [bound.id]
    assert access.bindings() == []
    assert access.can_i() == "no"
    access.poll()
    summary = access.summary(number)
    assert "**Ended** at" in summary
    assert "used 2 times" in summary, summary


def test_a_revocation_after_a_restart(access: AccessWorld) -> None:
    access.seed()
    number = access.granted(access_yaml(deliver=("open", "kubernetes")))
    access.restart()
    # The restarted controller has not learnt the environments from a pass yet, only from
    # the default branch (as the runner does at start).
    access.world.comment("alice", number, "/sealgate revoke finished early")
    assert number in access.poll()
    assert access.bindings() == []
    assert access.grant().revoked_by == "alice"
    assert access.endpoint.open(access.token("alice")).json()["reason"] == "revoked"
    access.restart()
    assert access.keep_grants() == []
    # The command is applied once: a later pass in a new process does not reply again.
    replies = [c for c in access.comments(number) if "**Revoked:**" in c]
    access.poll()
    access.controller.reconciler.handle(FULL, number)
    assert [c for c in access.comments(number) if "**Revoked:**" in c] == replies
    assert len(replies) == 1
