"""The loopback API server stores Roles and RoleBindings as a real one validates them.

Driven by the real client's ``RbacAuthorizationV1Api``; every answer is checked against the
official API description (``call`` and ``failure``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from controller.sandbox.kube_server import KubeApiServer
from tests.api_specs import k8s_validator, problems
from tests.integration.test_kube_server import failure, load_kube_config

GROUP = "rbac.authorization.k8s.io"
NS = "apps"


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer(rollout_seconds=0.3) as srv:
        srv.create_namespace(NS)
        yield srv


@pytest.fixture
def rbac(server: KubeApiServer, tmp_path: Path) -> Iterator[Any]:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)
    configuration = client.Configuration()
    load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api_client:
        yield client.RbacAuthorizationV1Api(api_client)


def role(name: str = "reader", **rule: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Role",
        "metadata": {"name": name},
        "rules": [rule or {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
    }


def binding(
    ref: dict[str, Any] | None = None, subject: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "reader"},
        "roleRef": ref or {"apiGroup": GROUP, "kind": "Role", "name": "reader"},
        "subjects": [subject or {"kind": "User", "name": "alice", "apiGroup": GROUP}],
    }


def read(rbac: Any, method: str, *args: Any) -> dict[str, Any]:
    response = getattr(rbac, method)(*args, _preload_content=False)
    body: dict[str, Any] = json.loads(response.data)
    return body


def test_roles_and_bindings_round_trip_in_the_official_shape(rbac: Any) -> None:
    created = read(rbac, "create_namespaced_role", NS, role())
    assert problems(k8s_validator("io.k8s.api.rbac.v1.Role"), created) == []
    made = read(rbac, "create_namespaced_role_binding", NS, binding())
    assert problems(k8s_validator("io.k8s.api.rbac.v1.RoleBinding"), made) == []
    listed = read(rbac, "list_role_binding_for_all_namespaces")
    # The description lacks the list kinds: each item is checked instead.
    assert listed["kind"] == "RoleBindingList"
    for item in listed["items"]:
        assert problems(k8s_validator("io.k8s.api.rbac.v1.RoleBinding"), item) == []
    assert [i["metadata"]["name"] for i in listed["items"]] == ["reader"]


def test_users_and_groups_default_to_the_rbac_api_group(rbac: Any) -> None:
    made = read(
        rbac,
        "create_namespaced_role_binding",
        NS,
        binding(subject={"kind": "Group", "name": "oncall"}),
    )
    assert made["subjects"] == [{"kind": "Group", "name": "oncall", "apiGroup": GROUP}]


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"apiGroups": [""], "resources": ["secrets"], "verbs": []}, "rules[0].verbs"),
        ({"resources": ["secrets"], "verbs": ["get"]}, "rules[0].apiGroups"),
        ({"apiGroups": [""], "verbs": ["get"]}, "rules[0].resources"),
        ({"nonResourceURLs": ["/healthz"], "verbs": ["get"]}, "rules[0].nonResourceURLs"),
    ],
)
def test_a_rule_missing_what_a_real_server_requires_is_422(
    rbac: Any, rule: dict[str, Any], field: str
) -> None:
    body = failure(422, rbac.create_namespaced_role, NS, role(**rule))
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == field


@pytest.mark.parametrize(
    ("ref", "subject", "field"),
    [
        ({"apiGroup": GROUP, "kind": "Secret", "name": "x"}, {}, "roleRef.kind"),
        ({"apiGroup": GROUP, "kind": "Role", "name": ""}, {}, "roleRef.name"),
        (None, {"kind": "Robot", "name": "r2"}, "subjects[0].kind"),
        (None, {"kind": "User", "name": ""}, "subjects[0].name"),
        (None, {"kind": "ServiceAccount", "name": "sa", "apiGroup": GROUP}, "subjects[0].apiGroup"),
    ],
)
def test_a_binding_a_real_server_refuses_is_422(
    rbac: Any, ref: dict[str, Any] | None, subject: dict[str, Any], field: str
) -> None:
    body = failure(422, rbac.create_namespaced_role_binding, NS, binding(ref, subject))
    assert body["details"]["causes"][0]["field"] == field


def test_role_ref_cannot_change_but_subjects_can(rbac: Any) -> None:
    current = read(rbac, "create_namespaced_role_binding", NS, binding())
    current["subjects"] = [{"kind": "User", "name": "bob", "apiGroup": GROUP}]
    updated = read(rbac, "replace_namespaced_role_binding", "reader", NS, current)
    assert updated["subjects"][0]["name"] == "bob"
    updated["roleRef"] = {"apiGroup": GROUP, "kind": "ClusterRole", "name": "admin"}
    body = failure(422, rbac.replace_namespaced_role_binding, "reader", NS, updated)
    assert body["details"]["causes"][0]["field"] == "roleRef"
    assert "cannot change roleRef" in body["message"]
    kept = read(rbac, "read_namespaced_role_binding", "reader", NS)
    assert kept["roleRef"]["kind"] == "Role"


def test_a_cluster_role_binding_needs_a_service_account_namespace(rbac: Any) -> None:
    body: dict[str, Any] = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "x"},
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa"}],
    }
    status = failure(422, rbac.create_cluster_role_binding, body)
    assert status["details"]["causes"][0]["field"] == "subjects[0].namespace"
    body["roleRef"]["kind"] = "Role"
    body["subjects"][0]["namespace"] = NS
    status = failure(422, rbac.create_cluster_role_binding, body)
    assert status["details"]["causes"][0]["field"] == "roleRef.kind"
