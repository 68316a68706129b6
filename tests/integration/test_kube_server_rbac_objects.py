"""Roles and bindings are validated and defaulted on write as a real API server does them.

Grant code that edits a binding's roleRef, or forgets a ServiceAccount's namespace, must
fail here as it would on a cluster, with the field named.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.sandbox.kube_server import KubeApiServer
from tests.api_specs import k8s_validator, problems
from tests.integration.kube_rbac_support import RBAC, binding, error_body, role, rule, user
from tests.integration.kube_rbac_support import admin as admin  # noqa: PLC0414
from tests.integration.kube_rbac_support import configuration as configuration  # noqa: PLC0414
from tests.integration.kube_rbac_support import server as server  # noqa: PLC0414

# The generated client types every field as optional; tests read answers they just checked.
kube: Any = client


def invalid(method: Any, *args: Any) -> str:
    with pytest.raises(ApiException) as caught:
        method(*args, _preload_content=False)
    assert caught.value.status == 422
    body = error_body(caught.value)
    assert problems(k8s_validator("io.k8s.apimachinery.pkg.apis.meta.v1.Status"), body) == []
    assert body["reason"] == "Invalid"
    message: str = body["message"]
    return message


def test_a_binding_keeps_its_role_ref(server: KubeApiServer, admin: client.ApiClient) -> None:
    rbac = kube.RbacAuthorizationV1Api(admin)
    server.put(role("reader", "payments", rule(["secrets"], ["get"])))
    # Subjects and the roleRef are defaulted into the RBAC group, as upstream.
    bare = binding("b", "payments", "Role", "reader", {"kind": "User", "name": "dev1"})
    del bare["roleRef"]["apiGroup"]
    created = rbac.create_namespaced_role_binding("payments", bare)
    assert created.subjects[0].api_group == RBAC
    assert created.role_ref.api_group == RBAC
    body = rbac.read_namespaced_role_binding("b", "payments", _preload_content=False)
    assert problems(k8s_validator("io.k8s.api.rbac.v1.RoleBinding"), body.json()) == []

    moved = {"roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "admin"}}
    assert invalid(rbac.patch_namespaced_role_binding, "b", "payments", moved) == (
        f'RoleBinding.{RBAC} "b" is invalid: roleRef: Invalid value: rbac.RoleRef'
        f'{{APIGroup:"{RBAC}", Kind:"ClusterRole", Name:"admin"}}: cannot change roleRef'
    )
    more = {"subjects": [user("dev1"), user("dev2")]}
    patched = rbac.patch_namespaced_role_binding("b", "payments", more)
    assert [s.name for s in patched.subjects] == ["dev1", "dev2"]


def test_invalid_roles_and_bindings_are_refused(admin: client.ApiClient) -> None:
    rbac = kube.RbacAuthorizationV1Api(admin)
    urls = role("urls", "payments", {"nonResourceURLs": ["/metrics"], "verbs": ["get"]})
    assert invalid(rbac.create_namespaced_role, "payments", urls) == (
        f'Role.{RBAC} "urls" is invalid: rules[0].nonResourceURLs: Invalid value: '
        '[]string{"/metrics"}: namespaced rules cannot apply to non-resource URLs'
    )
    empty = role("empty", "payments", {"apiGroups": [""], "resources": ["secrets"], "verbs": []})
    assert invalid(rbac.create_namespaced_role, "payments", empty).endswith(
        "rules[0].verbs: Required value: verbs must contain at least one value"
    )
    sa = binding("sa", None, "ClusterRole", "view", {"kind": "ServiceAccount", "name": "app"})
    assert invalid(rbac.create_cluster_role_binding, sa) == (
        f'ClusterRoleBinding.{RBAC} "sa" is invalid: subjects[0].namespace: Required value'
    )
    to_role = binding("r", None, "Role", "reader", user("dev1"))
    assert invalid(rbac.create_cluster_role_binding, to_role) == (
        f'ClusterRoleBinding.{RBAC} "r" is invalid: roleRef.kind: Unsupported value: "Role": '
        'supported values: "ClusterRole"'
    )
    robot = binding("x", "payments", "Role", "reader", {"kind": "Robot", "name": "r2"})
    assert 'subjects[0].kind: Unsupported value: "Robot"' in invalid(
        rbac.create_namespaced_role_binding, "payments", robot
    )
