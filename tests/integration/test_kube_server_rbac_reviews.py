"""Access reviews in the loopback Kubernetes API server, and kubectl held to RBAC.

``SubjectAccessReview`` (asked by the admin about anyone), ``LocalSubjectAccessReview``,
``SelfSubjectAccessReview`` and ``SelfSubjectRulesReview`` (asked by a user about
themself) answer what RBAC would decide, with a real server's reasons. kubectl's
``auth can-i`` (which sends its reviews as protobuf) and ``get --as`` must agree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
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
    error_body,
    group,
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

ALLOWED_BY_ROLE = (
    f'RBAC: allowed by RoleBinding "stripe/payments" of Role "stripe-reader" to User "{DEV}"'
)


def sar(user_name: str, verb: str, resource: str, namespace: str = "", name: str = "") -> Any:
    attributes = kube.V1ResourceAttributes(
        verb=verb, resource=resource, namespace=namespace or None, name=name or None
    )
    return kube.V1SubjectAccessReview(
        spec=kube.V1SubjectAccessReviewSpec(user=user_name, resource_attributes=attributes)
    )


def ssar(verb: str, resource: str, namespace: str = "", name: str = "") -> Any:
    attributes = kube.V1ResourceAttributes(
        verb=verb, resource=resource, namespace=namespace or None, name=name or None
    )
    return kube.V1SelfSubjectAccessReview(
        spec=kube.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes)
    )


def posted(method: Any, *args: Any) -> dict[str, Any]:
    """The raw JSON answer to a review (checked for the canary), as the server sent it."""
    response = method(*args, _preload_content=False)
    assert response.status == 201
    text = response.data.decode()
    assert CANARY not in text
    body: dict[str, Any] = json.loads(text)
    return body


def test_subject_access_review_answers_for_any_user(
    server: KubeApiServer, admin: kube.ApiClient
) -> None:
    stripe_reader(server)
    authz = kube.AuthorizationV1Api(admin)
    allowed = authz.create_subject_access_review(sar(DEV, "get", "secrets", "payments", "stripe"))
    assert (allowed.status.allowed, allowed.status.reason) == (True, ALLOWED_BY_ROLE)
    assert allowed.spec.user == DEV
    assert allowed.kind == "SubjectAccessReview"

    raw = posted(authz.create_subject_access_review, sar(DEV, "list", "secrets", "payments"))
    assert raw["status"] == {"allowed": False}
    assert raw["apiVersion"] == "authorization.k8s.io/v1"
    other = authz.create_subject_access_review(sar("dev2", "get", "secrets", "payments", "stripe"))
    assert other.status.allowed is False

    # Exactly the groups named count: no implied system:authenticated in a SAR.
    groups = kube.V1SubjectAccessReview(
        spec=kube.V1SubjectAccessReviewSpec(
            user="anyone",
            groups=["system:masters"],
            resource_attributes=kube.V1ResourceAttributes(verb="delete", resource="nodes"),
        )
    )
    assert authz.create_subject_access_review(groups).status.allowed is True
    path = kube.V1SubjectAccessReview(
        spec=kube.V1SubjectAccessReviewSpec(
            user=DEV,
            non_resource_attributes=kube.V1NonResourceAttributes(path="/api", verb="get"),
        )
    )
    assert authz.create_subject_access_review(path).status.allowed is False
    path.spec.groups = ["system:authenticated"]
    answer = authz.create_subject_access_review(path)
    assert answer.status.allowed is True
    assert answer.status.reason == (
        'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole '
        '"system:discovery" to Group "system:authenticated"'
    )


def test_non_resource_urls_come_from_cluster_role_bindings(
    server: KubeApiServer, admin: kube.ApiClient
) -> None:
    server.put(role("logs", None, {"nonResourceURLs": ["/logs/*"], "verbs": ["get"]}))
    server.put(binding("logs", None, "ClusterRole", "logs", user(DEV)))
    authz = kube.AuthorizationV1Api(admin)

    def may(path: str, verb: str = "get") -> bool:
        attributes = kube.V1NonResourceAttributes(path=path, verb=verb)
        review = kube.V1SubjectAccessReview(
            spec=kube.V1SubjectAccessReviewSpec(user=DEV, non_resource_attributes=attributes)
        )
        return bool(authz.create_subject_access_review(review).status.allowed)

    assert may("/logs/kubelet.log")
    assert not may("/logs/kubelet.log", "post")
    assert not may("/metrics")


def test_invalid_reviews_are_refused_with_the_field_named(admin: kube.ApiClient) -> None:
    authz = kube.AuthorizationV1Api(admin)
    nobody = kube.V1SubjectAccessReview(
        spec=kube.V1SubjectAccessReviewSpec(
            resource_attributes=kube.V1ResourceAttributes(verb="get", resource="secrets")
        )
    )
    with pytest.raises(ApiException) as caught:
        authz.create_subject_access_review(nobody, _preload_content=False)
    assert caught.value.status == 422
    body = error_body(caught.value)
    assert problems(k8s_validator("io.k8s.apimachinery.pkg.apis.meta.v1.Status"), body) == []
    assert body["message"] == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": '
        "at least one of user or group must be specified"
    )
    # Reviews are answered, never stored: there is nothing to list.
    method, url, headers, _, _ = admin.param_serialize(
        "GET", "/apis/authorization.k8s.io/v1/subjectaccessreviews", auth_settings=["BearerToken"]
    )
    listing = admin.call_api(method, url, headers)
    listing.read()
    assert listing.status == 405
    neither = kube.V1SelfSubjectAccessReview(spec=kube.V1SelfSubjectAccessReviewSpec())
    with pytest.raises(ApiException) as caught:
        authz.create_self_subject_access_review(neither, _preload_content=False)
    assert caught.value.status == 422
    assert (
        "exactly one of nonResourceAttributes or resourceAttributes"
        in (error_body(caught.value)["message"])
    )


def test_self_reviews_answer_for_the_impersonated_caller(
    server: KubeApiServer, admin: kube.ApiClient, impersonate: Impersonate
) -> None:
    stripe_reader(server)
    mine = kube.AuthorizationV1Api(impersonate(DEV))
    answer = mine.create_self_subject_access_review(ssar("get", "secrets", "payments", "stripe"))
    assert (answer.status.allowed, answer.status.reason) == (True, ALLOWED_BY_ROLE)
    listing = mine.create_self_subject_access_review(ssar("list", "secrets", "payments"))
    assert listing.status.allowed is False
    # The admin may do anything.
    theirs = kube.AuthorizationV1Api(admin)
    assert theirs.create_self_subject_access_review(ssar("delete", "secrets", "x")).status.allowed

    spec = kube.V1SelfSubjectRulesReviewSpec(namespace="payments")
    rules = mine.create_self_subject_rules_review(kube.V1SelfSubjectRulesReview(spec=spec))
    assert rules.status.incomplete is False
    named = [r for r in rules.status.resource_rules if r.resources == ["secrets"]]
    assert [(r.verbs, r.resource_names) for r in named] == [(["get", "list", "watch"], ["stripe"])]
    assert ["get"] in [r.verbs for r in rules.status.non_resource_rules]


def test_users_may_not_review_others_but_the_local_review_is_grantable(
    server: KubeApiServer, impersonate: Impersonate
) -> None:
    stripe_reader(server)
    mine = kube.AuthorizationV1Api(impersonate(DEV))
    with pytest.raises(ApiException) as caught:
        mine.create_subject_access_review(sar("dev2", "get", "secrets", "payments"))
    assert caught.value.status == 403
    assert error_body(caught.value)["message"] == (
        f'subjectaccessreviews.authorization.k8s.io is forbidden: User "{DEV}" cannot create '
        'resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope'
    )
    local = rule(["localsubjectaccessreviews"], ["create"], group="authorization.k8s.io")
    server.put(role("reviewer", "payments", local))
    server.put(binding("reviewer", "payments", "Role", "reviewer", user(DEV)))
    review = kube.V1LocalSubjectAccessReview(
        metadata=kube.V1ObjectMeta(namespace="payments"),
        spec=kube.V1SubjectAccessReviewSpec(
            user=DEV,
            resource_attributes=kube.V1ResourceAttributes(
                verb="get", resource="secrets", namespace="payments", name="stripe"
            ),
        ),
    )
    answer = mine.create_namespaced_local_subject_access_review("payments", review)
    assert answer.status.allowed is True
    assert answer.metadata.namespace == "payments"
    review.spec.resource_attributes.namespace = "billing"
    with pytest.raises(ApiException) as caught:
        mine.create_namespaced_local_subject_access_review("payments", review)
    assert caught.value.status == 400


# --- kubectl -----------------------------------------------------------------------------


@pytest.fixture
def kubectl(server: KubeApiServer, tmp_path: Path) -> Any:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("kubectl is not installed")
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path / "home")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, "--kubeconfig", str(kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )

    return run


def test_kubectl_auth_can_i_gives_the_rbac_answer(server: KubeApiServer, kubectl: Any) -> None:
    def can_i(*args: str) -> tuple[str, int]:
        result = kubectl("auth", "can-i", *args)
        assert CANARY not in result.stdout + result.stderr
        return result.stdout.strip(), result.returncode

    ask = ("get", "secret/stripe", "--as", DEV, "-n", "payments")
    assert can_i(*ask) == ("no", 1)
    stripe_reader(server)
    assert can_i(*ask) == ("yes", 0)
    assert can_i("get", "secret/other", "--as", DEV, "-n", "payments") == ("no", 1)
    assert can_i("list", "secrets", "--as", DEV, "-n", "payments") == ("no", 1)
    assert can_i("create", "rolebindings", "--as", DEV, "-n", "payments") == ("no", 1)
    assert can_i("create", "rolebindings", "-n", "payments") == ("yes", 0)
    server.delete(f"{RBAC}/v1", "RoleBinding", "payments", "stripe")
    assert can_i(*ask) == ("no", 1)

    # Groups from --as-group (more than one) and a ServiceAccount's implied groups count.
    stripe_reader(server, group("payments-devs"))
    as_group = ("--as", "dev2", "--as-group", "oncall", "--as-group", "payments-devs")
    assert can_i("get", "secret/stripe", "-n", "payments", *as_group) == ("yes", 0)
    sa = "system:serviceaccount:payments:app"
    sas = group("system:serviceaccounts:payments")
    server.put(binding("sas", "payments", "Role", "stripe-reader", sas))
    assert can_i("get", "secret/stripe", "-n", "payments", "--as", sa) == ("yes", 0)

    listed = kubectl("auth", "can-i", "--list", "--as", sa, "-n", "payments")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert ["secrets", "[]", "[stripe]", "[get", "list", "watch]"] in rows


def test_kubectl_get_as_a_user_is_allowed_or_refused(server: KubeApiServer, kubectl: Any) -> None:
    stripe_reader(server)
    got = kubectl("get", "secret", "stripe", "-n", "payments", "--as", DEV, "-o", "name")
    assert (got.returncode, got.stdout.strip()) == (0, "secret/stripe"), got.stderr
    other = kubectl("get", "secret", "other", "-n", "payments", "--as", DEV)
    assert other.returncode == 1
    assert other.stderr.strip() == (
        f'Error from server (Forbidden): secrets "other" is forbidden: User "{DEV}" cannot get '
        'resource "secrets" in API group "" in the namespace "payments"'
    )
    listed = kubectl("get", "secrets", "-n", "payments", "--as", DEV)
    assert listed.returncode == 1
    assert 'cannot list resource "secrets"' in listed.stderr
    for result in (got, other, listed):
        assert CANARY not in result.stdout + result.stderr
    # kubectl watches one named object with a metadata.name field selector: allowed.
    watch = ("get", "secret", "stripe", "-n", "payments", "--as", DEV, "-w", "-o", "name")
    watched = kubectl(*watch, "--request-timeout=2s")
    assert "Forbidden" not in watched.stderr
    assert watched.stdout.split()[:1] == ["secret/stripe"]
    admin_view = kubectl("get", "secrets", "-n", "payments", "-o", "name")
    assert admin_view.stdout.split() == ["secret/other", "secret/stripe"]


def test_kubectl_auth_whoami_shows_the_impersonated_groups(kubectl: Any) -> None:
    result = kubectl("auth", "whoami", "--as", "system:serviceaccount:payments:app", "-o", "json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)["status"]["userInfo"]
    assert info == {
        "username": "system:serviceaccount:payments:app",
        "groups": [
            "system:serviceaccounts",
            "system:serviceaccounts:payments",
            "system:authenticated",
        ],
    }
    as_groups = ("--as", DEV, "--as-group", "a", "--as-group", "b")
    grouped = kubectl("auth", "whoami", *as_groups, "-o", "json")
    assert json.loads(grouped.stdout)["status"]["userInfo"]["groups"] == [
        "a",
        "b",
        "system:authenticated",
    ]
