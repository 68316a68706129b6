"""RBAC in the loopback Kubernetes API server, through the real ``kubernetes`` kube.

An impersonated caller (``Impersonate-User`` and friends, the headers kubectl's ``--as``
sends) is held to the Roles and bindings stored in the server, as on a real cluster; the
admin caller is not. Every refusal is checked word for word against what a real API server
says, and against the official ``Status``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.sandbox.kube_server import KubeApiServer
from tests.api_specs import k8s_validator, problems
from tests.integration.kube_rbac_support import (
    CANARY,
    DEV,
    RBAC,
    Impersonate,
    binding,
    denial,
    error_body,
    group,
    refused,
    role,
    rule,
    stripe_reader,
    user,
)
from tests.integration.kube_rbac_support import admin as admin  # noqa: PLC0414
from tests.integration.kube_rbac_support import configuration as configuration  # noqa: PLC0414
from tests.integration.kube_rbac_support import impersonate as impersonate  # noqa: PLC0414
from tests.integration.kube_rbac_support import server as server  # noqa: PLC0414

# The generated client types every field as optional; tests read answers they just
# checked, so they use the client untyped.
kube: Any = client


def test_resource_names_allow_that_secret_only(
    server: KubeApiServer, impersonate: Impersonate
) -> None:
    stripe_reader(server)
    core = kube.CoreV1Api(impersonate(DEV))
    found = core.read_namespaced_secret("stripe", "payments")
    assert found.metadata.name == "stripe"

    assert refused(core.read_namespaced_secret, "other", "payments") == denial(
        "get", "secrets", "payments", "other"
    )
    # A named rule never matches a request for the whole collection, not even list or watch.
    assert refused(core.list_namespaced_secret, "payments") == denial("list", "secrets", "payments")
    watch_refusal = refused(core.list_namespaced_secret, "payments", watch=True, timeout_seconds=1)
    assert watch_refusal == denial("watch", "secrets", "payments")
    created = {"metadata": {"name": "stripe"}, "stringData": {"k": CANARY}}
    assert refused(core.create_namespaced_secret, "payments", created) == denial(
        "create", "secrets", "payments"
    )
    # ...unless the list pins metadata.name to the allowed object, as a real server reads it.
    pinned = core.list_namespaced_secret("payments", field_selector="metadata.name=stripe")
    assert [item.metadata.name for item in pinned.items] == ["stripe"]
    watched = core.list_namespaced_secret(
        "payments", field_selector="metadata.name=stripe", watch=True, timeout_seconds=1,
        _preload_content=False,
    )  # fmt: skip
    events = [json.loads(line) for line in watched.data.decode().splitlines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "stripe")]
    wider = "metadata.name=stripe,metadata.name=other"
    assert core.list_namespaced_secret("payments", field_selector=wider).items == []
    # The same name in another namespace is another object.
    assert refused(core.read_namespaced_secret, "stripe", "billing") == denial(
        "get", "secrets", "billing", "stripe"
    )
    assert refused(core.list_secret_for_all_namespaces) == denial("list", "secrets", None)


def test_cluster_role_through_a_role_binding_is_scoped_to_the_binding_namespace(
    server: KubeApiServer, impersonate: Impersonate
) -> None:
    server.put(role("secret-reader", None, rule(["secrets"], ["get", "list"])))
    server.put(binding("read", "payments", "ClusterRole", "secret-reader", user(DEV)))
    core = kube.CoreV1Api(impersonate(DEV))

    names = [s.metadata.name for s in core.list_namespaced_secret("payments").items]
    assert names == ["other", "stripe"]
    assert refused(core.list_namespaced_secret, "billing") == denial("list", "secrets", "billing")
    assert refused(core.list_secret_for_all_namespaces) == denial("list", "secrets", None)

    # A ClusterRoleBinding to the same role reaches every namespace.
    server.put(binding("read-all", None, "ClusterRole", "secret-reader", user(DEV)))
    assert len(core.list_secret_for_all_namespaces().items) == 3


def test_group_subjects_match_impersonated_groups(
    server: KubeApiServer, impersonate: Impersonate
) -> None:
    stripe_reader(server, group("payments-devs"))
    in_group = kube.CoreV1Api(impersonate(DEV, group="payments-devs"))
    assert in_group.read_namespaced_secret("stripe", "payments").metadata.name == "stripe"
    alone = kube.CoreV1Api(impersonate(DEV))
    assert refused(alone.read_namespaced_secret, "stripe", "payments") == denial(
        "get", "secrets", "payments", "stripe"
    )
    # Every impersonated user is in system:authenticated, as on a real server.
    server.put(binding("all", "payments", "Role", "stripe-reader", group("system:authenticated")))
    assert alone.read_namespaced_secret("stripe", "payments").metadata.name == "stripe"


def test_service_account_subjects(server: KubeApiServer, impersonate: Impersonate) -> None:
    # A RoleBinding may name a ServiceAccount of its own namespace without a namespace.
    stripe_reader(server, {"kind": "ServiceAccount", "name": "app"})
    app = kube.CoreV1Api(impersonate("system:serviceaccount:payments:app"))
    assert app.read_namespaced_secret("stripe", "payments").metadata.name == "stripe"
    stranger = kube.CoreV1Api(impersonate("system:serviceaccount:billing:app"))
    message = refused(stranger.read_namespaced_secret, "stripe", "payments")
    assert message.startswith(
        'secrets "stripe" is forbidden: User "system:serviceaccount:billing:app" cannot get'
    )
    # A ServiceAccount is in its namespace's service-account group.
    sas = group("system:serviceaccounts:billing")
    server.put(binding("billing-sas", "payments", "Role", "stripe-reader", sas))
    assert stranger.read_namespaced_secret("stripe", "payments").metadata.name == "stripe"


def test_removing_the_binding_or_its_role_ends_access(
    server: KubeApiServer, admin: kube.ApiClient, impersonate: Impersonate
) -> None:
    stripe_reader(server)
    core = kube.CoreV1Api(impersonate(DEV))
    assert core.read_namespaced_secret("stripe", "payments").metadata.name == "stripe"

    rbac = kube.RbacAuthorizationV1Api(admin)
    rbac.delete_namespaced_role("stripe-reader", "payments")
    # A binding to a missing role allows nothing, and the refusal says why.
    assert refused(core.read_namespaced_secret, "stripe", "payments") == (
        denial("get", "secrets", "payments", "stripe")
        + f': RBAC: role.{RBAC} "stripe-reader" not found'
    )
    stripe_reader(server)
    assert core.read_namespaced_secret("stripe", "payments").metadata.name == "stripe"
    rbac.delete_namespaced_role_binding("stripe", "payments")
    assert refused(core.read_namespaced_secret, "stripe", "payments") == denial(
        "get", "secrets", "payments", "stripe"
    )


def test_a_user_cannot_bind_themself(
    server: KubeApiServer, admin: kube.ApiClient, impersonate: Impersonate
) -> None:
    stripe_reader(server)
    rbac = kube.RbacAuthorizationV1Api(impersonate(DEV))
    mine = binding("mine", "payments", "ClusterRole", "cluster-admin", user(DEV))
    assert refused(rbac.create_namespaced_role_binding, "payments", mine) == denial(
        "create", "rolebindings", "payments", group=RBAC
    )
    grab = role("grab", "payments", rule(["*"], ["*"], group="*"))
    assert refused(rbac.create_namespaced_role, "payments", grab) == denial(
        "create", "roles", "payments", group=RBAC
    )
    assert refused(rbac.patch_namespaced_role, "stripe-reader", "payments", grab) == denial(
        "patch", "roles", "payments", "stripe-reader", group=RBAC
    )
    assert server.get(f"{RBAC}/v1", "RoleBinding", "payments", "mine") is None
    stored = kube.RbacAuthorizationV1Api(admin).read_namespaced_role("stripe-reader", "payments")
    assert stored.rules[0].resource_names == ["stripe"]


def test_subresources_wildcards_and_namespaces(
    server: KubeApiServer, impersonate: Impersonate
) -> None:
    server.put(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "payments"},
            "spec": {
                "selector": {"matchLabels": {"app": "api"}},
                "template": {
                    "metadata": {"labels": {"app": "api"}},
                    "spec": {"containers": [{"name": "app", "image": "registry.example/a:1"}]},
                },
            },
        }
    )
    server.put(role("status", "payments", rule(["deployments/status"], ["get"], group="apps")))
    server.put(role("ns", "payments", rule(["namespaces"], ["get"])))
    server.put(binding("status", "payments", "Role", "status", user(DEV)))
    server.put(binding("ns", "payments", "Role", "ns", user(DEV)))
    apps = kube.AppsV1Api(impersonate(DEV))
    assert apps.read_namespaced_deployment_status("api", "payments").metadata.name == "api"
    assert refused(apps.read_namespaced_deployment, "api", "payments") == denial(
        "get", "deployments", "payments", "api", group="apps"
    )
    # Getting a namespace is a request in that namespace.
    core = kube.CoreV1Api(impersonate(DEV))
    assert core.read_namespace("payments").metadata.name == "payments"
    assert refused(core.read_namespace, "billing") == denial(
        "get", "namespaces", "billing", "billing"
    )
    assert refused(core.list_namespace) == denial("list", "namespaces", None)

    server.put(role("any-sub", "payments", rule(["*/status"], ["get"], group="*")))
    server.put(binding("any-sub", "payments", "Role", "any-sub", user(DEV)))
    assert refused(core.read_namespace_status, "billing") == denial(
        "get", "namespaces/status", "billing", "billing"
    )


def test_discovery_is_open_to_authenticated_users_and_other_paths_are_not(
    impersonate: Impersonate,
) -> None:
    api_client = impersonate(DEV)
    assert kube.VersionApi(api_client).get_code().git_version.startswith("v1.")
    groups = kube.ApisApi(api_client).get_api_versions()
    assert "authorization.k8s.io" in [group.name for group in groups.groups]
    resources = kube.AuthorizationV1Api(api_client).get_api_resources()
    by_name = {r.name: r for r in resources.resources}
    assert by_name["selfsubjectaccessreviews"].verbs == ["create"]
    assert by_name["localsubjectaccessreviews"].namespaced is True
    method, url, headers, _, _ = api_client.param_serialize(
        "GET", "/metrics", auth_settings=["BearerToken"]
    )
    response = api_client.call_api(method, url, headers)
    response.read()
    assert response.status == 403
    body = json.loads(response.data)
    assert body["message"] == f'forbidden: User "{DEV}" cannot get path "/metrics"'
    # The admin is not restricted: the same path is simply not served.
    assert problems(k8s_validator("io.k8s.apimachinery.pkg.apis.meta.v1.Status"), body) == []


def test_forbid_still_refuses_impersonated_and_admin_callers(
    server: KubeApiServer, admin: kube.ApiClient, impersonate: Impersonate
) -> None:
    stripe_reader(server)
    server.forbid("get", "secrets", "payments")
    assert refused(
        kube.CoreV1Api(impersonate(DEV)).read_namespaced_secret, "stripe", "payments"
    ) == denial("get", "secrets", "payments", "stripe")
    assert "cannot get resource" in refused(
        kube.CoreV1Api(admin).read_namespaced_secret, "stripe", "payments"
    )
    server.clear_faults()
    assert kube.CoreV1Api(admin).read_namespaced_secret("stripe", "payments").data


def test_impersonating_groups_without_a_user_is_refused(
    configuration: kube.Configuration,
) -> None:
    with kube.ApiClient(configuration) as api_client:
        api_client.set_default_header("Impersonate-Group", "system:masters")
        with pytest.raises(ApiException) as caught:
            kube.CoreV1Api(api_client).list_namespaced_secret("payments")
    assert caught.value.status == 500
    assert "without impersonating a user" in error_body(caught.value)["message"]


def test_rbac_writes_cannot_grant_what_the_writer_does_not_hold(
    server: KubeApiServer, impersonate: Impersonate
) -> None:
    stripe_reader(server)
    writes = rule(["roles", "rolebindings"], ["create", "patch"], group=RBAC)
    server.put(role("rbac-writer", "payments", writes))
    server.put(binding("rbac-writer", "payments", "Role", "rbac-writer", user(DEV)))
    server.put(role("secret-admin", None, rule(["secrets"], ["*"])))
    rbac = kube.RbacAuthorizationV1Api(impersonate(DEV))
    held = f'user "{DEV}" (groups=["system:authenticated"]) is attempting to grant RBAC '
    held += "permissions not currently held:\n"

    grab = binding("grab", "payments", "ClusterRole", "secret-admin", user(DEV))
    assert refused(rbac.create_namespaced_role_binding, "payments", grab) == (
        f'rolebindings.{RBAC} "grab" is forbidden: {held}'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["*"]}'
    )
    wider = role("wider", "payments", rule(["secrets"], ["get", "list"]))
    assert refused(rbac.create_namespaced_role, "payments", wider) == (
        f'roles.{RBAC} "wider" is forbidden: {held}'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}'
    )
    missing = binding("missing", "payments", "ClusterRole", "nope", user(DEV))
    assert refused(rbac.create_namespaced_role_binding, "payments", missing) == (
        f'rolebindings.{RBAC} "missing" is forbidden: clusterrole.{RBAC} "nope" not found'
    )
    assert server.get(f"{RBAC}/v1", "RoleBinding", "payments", "grab") is None
    assert server.get(f"{RBAC}/v1", "Role", "payments", "wider") is None

    # Passing on what one holds is allowed, and so is a label change of a wider role.
    rbac.create_namespaced_role_binding(
        "payments", binding("pass-on", "payments", "Role", "stripe-reader", user("dev2"))
    )
    narrow = role("narrow", "payments", rule(["secrets"], ["get"], "stripe"))
    rbac.create_namespaced_role("payments", narrow)
    server.put(wider)
    rbac.patch_namespaced_role("wider", "payments", {"metadata": {"labels": {"team": "pay"}}})
    more = {"rules": [rule(["secrets"], ["delete"])]}
    assert refused(rbac.patch_namespaced_role, "narrow", "payments", more).startswith(
        f'roles.{RBAC} "narrow" is forbidden: {held}'
    )
    # The bind verb on a role lets a user bind it without holding it.
    may_bind = rule(["clusterroles"], ["bind"], "secret-admin", group=RBAC)
    server.put(role("binder", "payments", may_bind))
    server.put(binding("binder", "payments", "Role", "binder", user(DEV)))
    rbac.create_namespaced_role_binding("payments", grab)
    assert kube.CoreV1Api(impersonate(DEV)).list_namespaced_secret("payments").items


def test_decisions_are_recorded_and_leak_nothing(
    server: KubeApiServer, impersonate: Impersonate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stripe_reader(server)
    core = kube.CoreV1Api(impersonate(DEV))
    server.reset_request_log()
    core.read_namespaced_secret("stripe", "payments")
    refused(core.read_namespaced_secret, "other", "payments")
    seen = [(r.user, r.verb, r.name, r.status) for r in server.request_log]
    assert seen == [(DEV, "get", "stripe", 200), (DEV, "get", "other", 403)]
    assert CANARY not in caplog.text
    # The control API gives the same answers without HTTP.
    assert server.can(DEV, "get", "secrets", namespace="payments", name="stripe")
    assert not server.can(DEV, "list", "secrets", namespace="payments")
    assert not server.can("dev2", "get", "secrets", namespace="payments", name="stripe")
    assert server.can("dev2", "delete", "nodes", groups=["system:masters"])
