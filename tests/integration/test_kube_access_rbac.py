"""Access grants delivered as Kubernetes RBAC, through ``KubeTargets`` and the real client.

Each test drives ``bind_access``, ``unbind_access`` and ``bound_grants`` against the loopback
API server (which validates RBAC objects as a real one does) and reads back what it stores.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.errors import ClusterError
from controller.kube import ClusterConfig, KubeTargets, RetryPolicy
from controller.kube.access_rbac import access_name, reveals_whole_secret
from controller.model import (
    AccessDelivery,
    Grant,
    KubernetesSubject,
    SecretAccess,
)
from controller.reconciler.ports import AccessTargetsPort
from controller.sandbox.kube_server import KubeApiServer
from tests.api_specs import k8s_validator, problems

RBAC = "rbac.authorization.k8s.io/v1"
KEY = b"checksum-key-for-access-tests-01"
FAST = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.02)
CANARY = "CANARY-access-4e1d-never-shown"
APPROVED = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)


def grant(**changes: Any) -> Grant:
    base = Grant(
        id="production-pr-42-incident-4711",
        environment="production",
        repo="acme/secret-requests",
        pull_request=42,
        request_id="incident-4711",
        requester="alice",
        secrets=(SecretAccess("payments/stripe", ("STRIPE_KEY",)), SecretAccess("payments/db")),
        deliver=frozenset({AccessDelivery.KUBERNETES}),
        approvers=("bob",),
        approved_at=APPROVED,
        duration=timedelta(hours=1),
        activate_by=APPROVED + timedelta(hours=24),
        reason=f"incident {CANARY}",
        kubernetes_subject=KubernetesSubject("User", "alice@example.com"),
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer(rollout_seconds=0.1) as srv:
        for namespace in ("payments", "billing"):
            srv.create_namespace(namespace)
        yield srv


@pytest.fixture
def targets(server: KubeApiServer, tmp_path: Path) -> Iterator[KubeTargets]:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    found = KubeTargets([ClusterConfig("loop", kubeconfig=kubeconfig)], KEY, retry=FAST)
    try:
        yield found
    finally:
        found.close()


def stored(server: KubeApiServer, kind: str, namespace: str, name: str) -> dict[str, Any]:
    obj = server.get(RBAC, kind, namespace, name)
    assert obj is not None, f"{kind} {namespace}/{name} is missing"
    return obj


def writes(server: KubeApiServer) -> list[tuple[str, str, str | None]]:
    return [
        (r.verb, r.resource, r.name)
        for r in server.request_log
        if r.user_agent.startswith("sealgate") and r.verb not in ("get", "list", "watch")
    ]


def test_kube_targets_is_an_access_targets_port(targets: KubeTargets) -> None:
    port: AccessTargetsPort = targets
    assert port.bound_grants("loop", namespaces=["payments"]) == frozenset()


def test_bind_creates_a_role_and_a_binding_with_exact_names_labels_and_annotations(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    g = grant()
    targets.bind_access("loop", g)
    name = "sealgate-access-production-pr-42-incident-4711"
    role = stored(server, "Role", "payments", name)
    binding = stored(server, "RoleBinding", "payments", name)
    assert problems(k8s_validator("io.k8s.api.rbac.v1.Role"), role) == []
    assert problems(k8s_validator("io.k8s.api.rbac.v1.RoleBinding"), binding) == []
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "verbs": ["get"],
            "resourceNames": ["db", "stripe"],
        }
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": name,
    }
    assert binding["subjects"] == [
        {"kind": "User", "name": "alice@example.com", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    for obj in (role, binding):
        meta = obj["metadata"]
        assert meta["labels"] == {
            "app.kubernetes.io/managed-by": "sealgate",
            "sealgate.dev/grant": g.id,
        }
        assert meta["annotations"] == {
            "sealgate.dev/ends-at": "2026-12-04T06:00:00Z",
            "sealgate.dev/requester": "alice",
            "sealgate.dev/pull-request": "acme/secret-requests#42",
        }
    # Nothing else: no other namespace, no ClusterRole.
    assert server.get(RBAC, "Role", "billing", name) is None
    # Some keys were asked for; RBAC hands out the whole Secret (the README says so).
    assert reveals_whole_secret(g) is True
    assert reveals_whole_secret(grant(secrets=(SecretAccess("payments/db"),))) is False
    assert reveals_whole_secret(grant(deliver=frozenset({AccessDelivery.OPEN}))) is False


def test_a_second_bind_writes_nothing(server: KubeApiServer, targets: KubeTargets) -> None:
    g = grant()
    targets.bind_access("loop", g)
    name = access_name(g.id)
    before = [stored(server, k, "payments", name) for k in ("Role", "RoleBinding")]
    server.reset_request_log()
    targets.bind_access("loop", g)
    after = [stored(server, k, "payments", name) for k in ("Role", "RoleBinding")]
    assert [o["metadata"]["resourceVersion"] for o in after] == [
        o["metadata"]["resourceVersion"] for o in before
    ]
    assert writes(server) == []


def test_the_end_annotation_moves_when_the_grant_activates(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    g = grant()
    targets.bind_access("loop", g)
    name = access_name(g.id)
    role_before = stored(server, "Role", "payments", name)
    used = dataclasses.replace(g, first_used_at=APPROVED + timedelta(hours=2), uses=1)
    targets.bind_access("loop", used)
    for kind in ("Role", "RoleBinding"):
        annotations = stored(server, kind, "payments", name)["metadata"]["annotations"]
        assert annotations["sealgate.dev/ends-at"] == "2026-12-03T09:00:00Z"
    role_after = stored(server, "Role", "payments", name)
    assert role_after["metadata"]["uid"] == role_before["metadata"]["uid"]
    assert role_after["rules"] == role_before["rules"]


def test_unbind_removes_both_and_is_idempotent(server: KubeApiServer, targets: KubeTargets) -> None:
    g = grant(secrets=(SecretAccess("payments/db"), SecretAccess("billing/ledger")))
    other = grant(id="production-pr-43-other", pull_request=43)
    targets.bind_access("loop", g)
    targets.bind_access("loop", other)
    targets.unbind_access("loop", g.id, namespaces=["payments", "billing"])
    for namespace in ("payments", "billing"):
        for kind in ("Role", "RoleBinding"):
            assert server.get(RBAC, kind, namespace, access_name(g.id)) is None
    # Another grant's objects stay.
    assert server.get(RBAC, "RoleBinding", "payments", access_name(other.id)) is not None
    server.reset_request_log()
    targets.unbind_access("loop", g.id, namespaces=["payments", "billing"])
    targets.unbind_access("loop", g.id)
    assert writes(server) == []
    # Every namespace at once (needs list cluster-wide; the loopback server does not check).
    targets.unbind_access("loop", other.id)
    assert targets.bound_grants("loop") == frozenset()


def test_bound_grants_lists_grants_across_namespaces(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    a = grant(secrets=(SecretAccess("billing/ledger"),))
    b = grant(id="production-pr-44-b", pull_request=44)
    targets.bind_access("loop", a)
    targets.bind_access("loop", b)
    assert targets.bound_grants("loop") == {a.id, b.id}
    assert targets.bound_grants("loop", namespaces=["billing"]) == {a.id}
    assert targets.bound_grants("loop", namespaces=["payments"]) == {b.id}
    # A binding left alone (its Role deleted by hand) still counts: drift repair sees it.
    server.delete(RBAC, "Role", "billing", access_name(a.id))
    assert targets.bound_grants("loop", namespaces=["billing"]) == {a.id}


def test_objects_labelled_as_a_grant_under_another_name_are_never_listed_or_deleted(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    g = grant()
    disguised = server.put(
        {
            "apiVersion": RBAC,
            "kind": "Role",
            "metadata": {
                "name": "team-admin",
                "namespace": "payments",
                "labels": {"app.kubernetes.io/managed-by": "sealgate", "sealgate.dev/grant": g.id},
            },
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        }
    )
    assert targets.bound_grants("loop") == frozenset()
    targets.bind_access("loop", g)
    targets.unbind_access("loop", g.id, namespaces=["payments"])
    assert stored(server, "Role", "payments", "team-admin") == disguised


@pytest.mark.parametrize("kind", ["Role", "RoleBinding"])
def test_a_foreign_object_of_the_same_name_is_refused_and_untouched(
    server: KubeApiServer, targets: KubeTargets, kind: str
) -> None:
    g = grant()
    name = access_name(g.id)
    body: dict[str, Any] = {
        "apiVersion": RBAC,
        "kind": kind,
        "metadata": {"name": name, "namespace": "payments", "labels": {"team": "payments"}},
    }
    if kind == "Role":
        body["rules"] = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    else:
        body["roleRef"] = {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "admin",
        }
        body["subjects"] = [
            {"kind": "User", "name": "carol", "apiGroup": "rbac.authorization.k8s.io"}
        ]
    foreign = server.put(body)
    with pytest.raises(ClusterError) as caught:
        targets.bind_access("loop", g)
    assert caught.value.retryable is False
    assert f"{kind} payments/{name}" in str(caught.value)
    assert "does not manage" in str(caught.value)
    assert stored(server, kind, "payments", name) == foreign
    if kind == "Role":
        # Never a binding to a Role sealgate did not write: it would grant anything.
        assert server.get(RBAC, "RoleBinding", "payments", name) is None
    targets.unbind_access("loop", g.id, namespaces=["payments"])
    assert stored(server, kind, "payments", name) == foreign


def test_a_sealgate_label_on_a_foreign_role_does_not_make_it_the_grant_s_own(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    g = grant()
    name = access_name(g.id)
    foreign = server.put(
        {
            "apiVersion": RBAC,
            "kind": "Role",
            "metadata": {
                "name": name,
                "namespace": "payments",
                "labels": {"app.kubernetes.io/managed-by": "sealgate", "sealgate.dev/grant": "x"},
            },
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
        }
    )
    with pytest.raises(ClusterError):
        targets.bind_access("loop", g)
    assert stored(server, "Role", "payments", name) == foreign


def test_drift_is_repaired_and_other_tools_labels_stay(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    g = grant()
    targets.bind_access("loop", g)
    name = access_name(g.id)
    role = stored(server, "Role", "payments", name)
    role["metadata"]["labels"]["audit.example/owner"] = "platform"
    role["rules"][0]["verbs"] = ["get", "list"]
    role["rules"][0]["resourceNames"] = []
    server.put(role)
    binding = stored(server, "RoleBinding", "payments", name)
    binding["subjects"].append(
        {"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}
    )
    server.put(binding)
    targets.bind_access("loop", g)
    role = stored(server, "Role", "payments", name)
    assert role["rules"][0]["verbs"] == ["get"]
    assert role["rules"][0]["resourceNames"] == ["db", "stripe"]
    assert role["metadata"]["labels"]["audit.example/owner"] == "platform"
    assert [s["name"] for s in stored(server, "RoleBinding", "payments", name)["subjects"]] == [
        "alice@example.com"
    ]


def test_a_binding_to_another_role_is_deleted_and_recreated(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    g = grant()
    targets.bind_access("loop", g)
    name = access_name(g.id)
    binding = stored(server, "RoleBinding", "payments", name)
    # roleRef cannot change in place: seeding replaces the object, as a hand edit would have to.
    server.delete(RBAC, "RoleBinding", "payments", name)
    binding["roleRef"] = {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "admin",
    }
    server.put(binding)
    server.reset_request_log()
    targets.bind_access("loop", g)
    assert stored(server, "RoleBinding", "payments", name)["roleRef"]["kind"] == "Role"
    assert writes(server) == [("delete", "rolebindings", name), ("create", "rolebindings", None)]


def test_a_deleted_binding_of_a_live_grant_is_put_back(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    g = grant()
    targets.bind_access("loop", g)
    name = access_name(g.id)
    server.delete(RBAC, "RoleBinding", "payments", name)
    targets.bind_access("loop", g)
    assert stored(server, "RoleBinding", "payments", name)["roleRef"]["name"] == name


def test_a_service_account_subject_names_its_namespace(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    g = grant(kubernetes_subject=KubernetesSubject("ServiceAccount", "incident-bot", "agents"))
    targets.bind_access("loop", g)
    binding = stored(server, "RoleBinding", "payments", access_name(g.id))
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "incident-bot", "namespace": "agents"}
    ]
    server.reset_request_log()
    targets.bind_access("loop", g)
    assert writes(server) == []


def test_a_group_subject(server: KubeApiServer, targets: KubeTargets) -> None:
    g = grant(kubernetes_subject=KubernetesSubject("Group", "oncall"))
    targets.bind_access("loop", g)
    binding = stored(server, "RoleBinding", "payments", access_name(g.id))
    assert binding["subjects"] == [
        {"kind": "Group", "name": "oncall", "apiGroup": "rbac.authorization.k8s.io"}
    ]


@pytest.mark.parametrize(
    ("subject", "fix"),
    [
        (None, "kubernetesSubject"),
        (KubernetesSubject("ServiceAccount", "bot"), "kubernetesSubject.namespace"),
        (KubernetesSubject("Robot", "r2"), "kubernetesSubject"),
    ],
)
def test_a_grant_without_a_usable_subject_writes_nothing(
    server: KubeApiServer, targets: KubeTargets, subject: KubernetesSubject | None, fix: str
) -> None:
    server.reset_request_log()
    with pytest.raises(ClusterError) as caught:
        targets.bind_access("loop", grant(kubernetes_subject=subject))
    assert fix in str(caught.value)
    assert caught.value.retryable is False
    assert writes(server) == []


def test_grants_not_for_kubernetes_or_already_over_write_nothing(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    server.reset_request_log()
    targets.bind_access("loop", grant(deliver=frozenset({AccessDelivery.OPEN})))
    with pytest.raises(ClusterError, match="revoked or ended"):
        targets.bind_access("loop", grant(revoked_at=APPROVED, revoked_by="bob"))
    with pytest.raises(ClusterError, match="revoked or ended"):
        targets.bind_access("loop", grant(ended_recorded=True))
    assert writes(server) == []


def test_a_missing_namespace_fails_that_namespace_only(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    g = grant(secrets=(SecretAccess("payments/db"), SecretAccess("gone/ledger")))
    with pytest.raises(ClusterError) as caught:
        targets.bind_access("loop", g)
    assert "gone" in str(caught.value)
    assert caught.value.retryable is False
    assert server.get(RBAC, "RoleBinding", "payments", access_name(g.id)) is not None


def test_server_errors_are_retried_and_lost_answers_are_no_double_writes(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    g = grant()
    server.inject_faults(status=503, count=1, verb="create", resource="roles")
    server.lose_answers(verb="create", resource="rolebindings")
    targets.bind_access("loop", g)
    assert stored(server, "RoleBinding", "payments", access_name(g.id))["subjects"]
    server.inject_faults(status=500, count=10, verb="delete", resource="rolebindings")
    with pytest.raises(ClusterError) as caught:
        targets.unbind_access("loop", g.id, namespaces=["payments"])
    assert caught.value.retryable is True
    server.clear_faults()
    targets.unbind_access("loop", g.id, namespaces=["payments"])
    assert targets.bound_grants("loop", namespaces=["payments"]) == frozenset()


def test_forbidden_is_not_retried_and_names_the_missing_right(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    server.forbid("create", "roles", "payments")
    with pytest.raises(ClusterError) as caught:
        targets.bind_access("loop", grant())
    assert caught.value.retryable is False
    assert "'create' on 'roles'" in str(caught.value)


def test_odd_grant_ids_still_get_valid_distinct_names(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    odd = [grant(id="production-pr-5-a_b"), grant(id="production-pr-5-a-b")]
    for g in odd:
        targets.bind_access("loop", g)
    names = {access_name(g.id) for g in odd}
    assert len(names) == 2
    assert targets.bound_grants("loop") == {g.id for g in odd}


def test_a_grant_id_that_would_widen_the_selector_is_refused(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    server.reset_request_log()
    with pytest.raises(ClusterError, match="label value"):
        targets.unbind_access("loop", "x,app.kubernetes.io/managed-by=sealgate")
    with pytest.raises(ClusterError, match="label value"):
        targets.bind_access("loop", grant(id="x,sealgate.dev/grant"))
    assert [r for r in server.request_log if r.user_agent.startswith("sealgate")] == []


def test_nothing_about_the_grant_s_reason_or_secret_values_leaks(
    server: KubeApiServer, targets: KubeTargets, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": "payments"},
            "stringData": {"password": CANARY},
        }
    )
    g = grant()
    targets.bind_access("loop", g)
    targets.bound_grants("loop")
    targets.unbind_access("loop", g.id, namespaces=["payments"])
    with pytest.raises(ClusterError) as caught:
        targets.bind_access("loop", grant(kubernetes_subject=None))
    assert CANARY not in str(caught.value)
    assert CANARY not in caplog.text
    assert "whole" not in caplog.text  # the key caveat is documented, never logged
    assert not any(
        r.resource == "secrets" for r in server.request_log if r.user_agent.startswith("sealgate")
    )


def test_a_concurrent_write_is_read_again_and_decided_again(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    g = grant()
    targets.bind_access("loop", g)
    used = dataclasses.replace(g, first_used_at=APPROVED, uses=1)
    server.inject_faults(status=409, count=1, verb="update", resource="roles")
    server.inject_faults(status=409, count=1, verb="delete", resource="rolebindings")
    targets.bind_access("loop", used)
    role = stored(server, "Role", "payments", access_name(g.id))
    assert role["metadata"]["annotations"]["sealgate.dev/ends-at"] == "2026-12-03T07:00:00Z"
    targets.unbind_access("loop", g.id, namespaces=["payments"])
    assert targets.bound_grants("loop") == frozenset()


def test_an_object_that_keeps_changing_is_given_up_on_retryably(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    g = grant()
    targets.bind_access("loop", g)
    server.inject_faults(status=409, count=50, verb="update", resource="roles")
    with pytest.raises(ClusterError) as caught:
        targets.bind_access("loop", dataclasses.replace(g, first_used_at=APPROVED, uses=1))
    assert caught.value.retryable is True
    assert "keeps changing" in str(caught.value)


def test_unbind_removes_the_binding_before_the_role(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    g = grant()
    targets.bind_access("loop", g)
    server.reset_request_log()
    targets.unbind_access("loop", g.id, namespaces=["payments"])
    name = access_name(g.id)
    assert writes(server) == [("delete", "rolebindings", name), ("delete", "roles", name)]


def test_every_failing_namespace_is_named_and_the_others_delivered(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    g = grant(
        secrets=(SecretAccess("gone-a/x"), SecretAccess("payments/db"), SecretAccess("gone-b/y"))
    )
    with pytest.raises(ClusterError) as caught:
        targets.bind_access("loop", g)
    assert "gone-a" in str(caught.value)
    assert "gone-b" in str(caught.value)
    assert targets.bound_grants("loop", namespaces=["payments"]) == {g.id}


def test_an_unknown_cluster_is_not_retried(targets: KubeTargets) -> None:
    with pytest.raises(ClusterError) as caught:
        targets.bind_access("elsewhere", grant())
    assert caught.value.retryable is False
    assert "elsewhere" in str(caught.value)
