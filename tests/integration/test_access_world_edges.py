"""Access requests end to end, the edges: a revoke command said before the approval, a
revocation before the first use, a shorter ``/sealgate approve-for``, logins in another
case, a binding deleted or planted by hand, a cluster down during a revocation, and the
canary scan of a Kubernetes delivery.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import requests
from click.testing import CliRunner

from controller.cli import main
from controller.reconciler import Status
from tests.integration.access_world_support import (
    REQUEST_ID,
    SUBJECT,
    AccessWorld,
    access,
    access_yaml,
)
from tests.integration.test_reconciler_world import CANARY, ENV, FULL, NAMESPACE

__all__ = ["access"]  # the fixture

BOTH = ("open", "kubernetes")
REQUEST_FILE = f"access/{ENV}/{REQUEST_ID}.yaml"


def test_a_revoke_said_before_the_approval_does_not_end_the_grant(access: AccessWorld) -> None:
    access.seed()
    number = access.ask({REQUEST_FILE: access_yaml(deliver=BOTH)})
    access.controller.reconciler.handle(FULL, number)
    access.world.comment("alice", number, "/sealgate revoke changed my mind")
    access.world.comment("bob", number, "just a comment")  # a new second for the review
    access.world.approve("bob", number)
    assert access.controller.reconciler.handle(FULL, number).status is Status.GRANTED
    access.poll()
    grant = access.grant()
    assert grant.revoked_at is None
    assert access.can_i() == "yes"
    assert access.endpoint.open(access.token("alice")).status_code == 200


def test_revoked_before_the_first_use(access: AccessWorld) -> None:
    access.seed()
    number = access.granted(access_yaml())
    access.world.comment("bob", number, "/sealgate revoke wrong secret")
    access.poll()
    grant = access.grant()
    assert grant.first_used_at is None
    assert grant.ended_recorded
    refused = access.endpoint.open(access.token("alice"))
    assert refused.json()["reason"] == "revoked"
    assert access.grant().uses == 0
    assert access.endpoint.request_status(number)["access"][0]["state"] == "revoked"
    assert "**Revoked** at" in access.summary(number)


def test_a_shorter_approve_for_bounds_the_binding(access: AccessWorld) -> None:
    access.seed()
    number = access.ask({REQUEST_FILE: access_yaml(deliver=("kubernetes",), duration="4h")})
    access.controller.reconciler.handle(FULL, number)
    access.world.comment("bob", number, "/sealgate approve-for 30m")
    access.world.approve("bob", number)
    assert access.controller.reconciler.handle(FULL, number).status is Status.GRANTED
    grant = access.grant()
    assert grant.duration == timedelta(minutes=30)
    assert grant.first_used_at is not None
    assert grant.ends_at == grant.first_used_at + timedelta(minutes=30)
    binding = access.world.kube.get(
        "rbac.authorization.k8s.io/v1", "RoleBinding", NAMESPACE, f"sealgate-access-{grant.id}"
    )
    assert binding is not None
    assert binding["metadata"]["annotations"]["sealgate.dev/ends-at"].startswith(
        grant.ends_at.isoformat()[:16]
    ), binding["metadata"]["annotations"]
    access.clock.to(grant.ends_at)
    assert access.keep_grants() == [grant.id]
    assert access.can_i() == "no"


def test_logins_in_another_case(access: AccessWorld) -> None:
    """GitHub logins are case-insensitive: a request naming ``Alice`` by alice is hers, and
    she opens and revokes it whatever the case of the file."""
    access.seed()
    number = access.granted(access_yaml(requester="Alice"))
    assert access.endpoint.open(access.token("alice")).status_code == 200
    assert access.endpoint.open(access.token("bob")).status_code == 403
    access.world.comment("alice", number, "/sealgate revoke done")
    access.poll()
    assert access.grant().revoked_at is not None


def test_a_binding_deleted_by_hand_comes_back_and_a_planted_one_goes(
    access: AccessWorld,
) -> None:
    access.seed()
    access.granted(access_yaml(deliver=("kubernetes",)))
    grant = access.grant()
    name = f"sealgate-access-{grant.id}"
    access.world.kube.delete("rbac.authorization.k8s.io/v1", "RoleBinding", NAMESPACE, name)
    assert access.can_i() == "no"
    access.keep_grants()
    assert access.bindings() == [name]
    assert access.can_i() == "yes"
    # A Role widened by hand is put back as the grant has it.
    role = access.world.kube.get("rbac.authorization.k8s.io/v1", "Role", NAMESPACE, name)
    assert role is not None
    role["rules"][0]["verbs"] = ["get", "list", "delete"]
    del role["rules"][0]["resourceNames"]
    access.world.kube.put(role)
    assert access.world.kube.can(SUBJECT, "delete", "secrets", namespace=NAMESPACE, name="x")
    access.keep_grants()
    assert not access.world.kube.can(SUBJECT, "delete", "secrets", namespace=NAMESPACE, name="x")
    assert access.can_i() == "yes"
    rbac = "rbac.authorization.k8s.io/v1"
    kept = [access.world.kube.get(rbac, kind, NAMESPACE, name) for kind in ("Role", "RoleBinding")]
    access.clock.to(grant.ends_at)
    assert access.keep_grants() == [grant.id]
    assert access.world.kube.get(rbac, "Role", NAMESPACE, name) is None
    assert access.bindings() == []
    # Once ended, a delivery put back under the grant's labels is stray: removed again.
    for obj in kept:
        assert obj is not None
        obj["metadata"] = {k: obj["metadata"][k] for k in ("name", "namespace", "labels")}
        access.world.kube.put(obj)
    assert access.can_i() == "yes"
    access.keep_grants()
    assert access.bindings() == []
    assert access.can_i() == "no"


def test_a_revocation_while_the_cluster_is_down_finishes_later(access: AccessWorld) -> None:
    access.seed()
    number = access.granted(access_yaml(deliver=BOTH))
    access.world.kube.forbid("delete", "rolebindings")
    access.world.comment("alice", number, "/sealgate revoke done")
    access.poll()
    grant = access.grant()
    assert grant.revoked_at is not None
    assert not grant.ended_recorded  # the binding could not be removed yet
    assert access.endpoint.open(access.token("alice")).json()["reason"] == "revoked"
    # Its Role could be: access stopped even so, and the end waits for the binding.
    assert access.can_i().startswith("no")
    assert access.bindings() == [f"sealgate-access-{grant.id}"]
    assert access.keep_grants() == []
    access.world.kube.clear_faults()
    assert access.keep_grants() == [grant.id]
    assert access.can_i() == "no"
    assert access.grant().ended_recorded
    access.poll()
    assert "**Revoked** at" in access.summary(number)


def test_a_kubernetes_delivery_shows_no_value(
    access: AccessWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    access.seed()
    access.world.kube.reset_request_log()
    number = access.granted(access_yaml(deliver=("kubernetes",)))
    grant = access.grant()
    refused = access.endpoint.open(access.token("alice"))
    assert refused.json()["reason"] == "not-open-delivery"
    access.clock.to(grant.ends_at)
    access.keep_grants()
    access.poll()
    plain = CANARY.decode()
    assert plain not in access.endpoint.seen()
    assert plain not in caplog.text
    assert plain not in repr(list(access.controller.store.audit_records()))
    for blob in access.world.store_blobs():
        assert CANARY not in blob
    assert plain not in repr(access.world.hub.comments("acme", "requests", number))
    assert plain not in repr(
        access.world.hub.check_runs("acme", "requests", access.world.head(number))
    )
    # The grant touched RBAC only: no Secret was written for it.
    secret_writes = [
        f"{r.verb} {r.path}"
        for r in access.world.kube.request_log
        if r.verb in ("create", "update", "patch", "delete") and "/secrets" in r.path
    ]
    assert secret_writes == []
    assert SUBJECT not in plain


def test_a_revoke_reason_quoting_the_value_still_revokes_and_is_withheld(
    access: AccessWorld, caplog: pytest.LogCaptureFixture
) -> None:
    """The value pasted into a revoke comment is on GitHub already (rotate it); sealgate
    must not copy it into its audit log, its store's commits, the summary or a reply."""
    caplog.set_level(logging.DEBUG)
    access.seed()
    number = access.granted(access_yaml(deliver=BOTH))
    plain = CANARY.decode()
    access.world.comment("alice", number, f"/sealgate revoke it leaked: {plain}")
    access.poll()
    grant = access.grant()
    assert grant.revoked_by == "alice"
    assert access.can_i() == "no"
    assert plain not in repr(grant)
    assert plain not in repr(list(access.controller.store.audit_records()))
    for blob in access.world.store_blobs():
        assert CANARY not in blob
    assert plain not in access.summary(number)
    ours = [c for c in access.comments(number) if "sealgate" in c and "/sealgate revoke" not in c]
    assert all(plain not in c for c in ours)
    assert plain not in access.endpoint.open(access.token("alice")).text
    assert plain not in caplog.text


def test_a_request_reason_quoting_the_value_is_kept_out_of_the_record(
    access: AccessWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    access.seed()
    plain = CANARY.decode()
    number = access.granted(access_yaml(reason=f"the old one was {plain}"))
    grant = access.grant()
    assert grant.reason.startswith("withheld")
    assert plain not in repr(list(access.controller.store.audit_records()))
    for blob in access.world.store_blobs():
        assert CANARY not in blob
    assert plain not in access.summary(number)
    assert plain not in repr(
        access.world.hub.check_runs("acme", "requests", access.world.head(number))
    )
    assert plain not in caplog.text
    assert access.endpoint.open(access.token("alice")).status_code == 200


def test_two_grants_on_one_secret_run_one_after_the_other(access: AccessWorld) -> None:
    """The active grant is used first: a second approved grant's clock must not start
    while one runs, and it takes over once the first has ended."""
    access.seed()
    first = access.granted(access_yaml(duration="1h"))
    second = access.granted(access_yaml(duration="1h", request_id="incident-4712"))
    one, two = sorted(access.controller.store.grants(), key=lambda g: g.pull_request)
    assert (one.pull_request, two.pull_request) == (first, second)
    opened = access.endpoint.open(access.token("alice"))
    used = opened.json()["grant"]
    waiting = two if used == one.id else one
    assert access.endpoint.open(access.token("alice")).json()["grant"] == used
    assert access.controller.store.grant(waiting.id).first_used_at is None  # type: ignore[union-attr]
    started = access.controller.store.grant(used)
    assert started is not None
    access.clock.to(started.ends_at)
    later = access.endpoint.open(access.token("alice"))
    assert later.status_code == 200, later.text
    assert later.json()["grant"] == waiting.id
    assert access.keep_grants() == [used]
    access.poll()
    assert "**Ended** at" in access.summary(started.pull_request)
    assert "**Active:**" in access.summary(waiting.pull_request)
    assert {first, second} == {started.pull_request, waiting.pull_request}


def test_a_revoke_after_the_end_is_answered(access: AccessWorld) -> None:
    access.seed()
    number = access.granted(access_yaml(duration="1h"))
    assert access.endpoint.open(access.token("alice")).status_code == 200
    access.clock.to(access.grant().ends_at)
    access.keep_grants()
    access.poll()
    assert access.poll() == []  # reported: no longer watched
    # Its issue_comment webhook brings the pull request to a pass, which answers. (The poll
    # lists open pull requests only: without webhooks the command waits unanswered.)
    access.world.comment("alice", number, "/sealgate revoke just in case")
    access.controller.reconciler.handle(FULL, number)
    assert access.grant().revoked_at is None
    replies = [c for c in access.comments(number) if "**Nothing to revoke:**" in c]
    assert len(replies) == 1, access.comments(number)


def test_the_status_after_a_restart(access: AccessWorld) -> None:
    access.seed()
    number = access.granted(access_yaml())
    assert access.endpoint.open(access.token("alice")).status_code == 200
    access.restart()
    gone = requests.get(f"{access.endpoint.url}/v1/requests/acme/requests/{number}", timeout=10)
    assert gone.status_code == 404  # the new process has not passed over it yet
    assert number in access.poll()
    row = access.endpoint.request_status(number)["access"][0]
    assert (row["state"], row["uses"], row["requester"]) == ("active", 1, "alice")
    shown = CliRunner(env={"SEALGATE_URL": access.endpoint.url}).invoke(
        main, ["status", f"{FULL}#{number}"]
    )
    assert shown.exit_code == 0, shown.output
    assert "active" in shown.stdout


def test_a_request_id_used_again_shows_each_pull_requests_own_grant(access: AccessWorld) -> None:
    access.seed()
    first = access.granted(access_yaml(duration="1h"))
    assert access.endpoint.open(access.token("alice")).status_code == 200
    access.clock.to(access.grant().ends_at)
    access.keep_grants()
    second = access.granted(access_yaml(duration="3h"))
    one = access.endpoint.request_status(first)["access"][0]
    two = access.endpoint.request_status(second)["access"][0]
    assert one["state"] == "ended"
    assert two["state"] == "approved"
    assert one["grantId"] != two["grantId"]
    assert f"-pr-{first}-" in one["grantId"]
    assert f"-pr-{second}-" in two["grantId"]
