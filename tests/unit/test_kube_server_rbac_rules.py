"""The loopback server's RBAC pieces that need no server: rule matching, impersonated
identities, the protobuf review reader and the escalation report, on literal fixtures."""

from __future__ import annotations

from typing import Any

import pytest

from controller.sandbox.kube_server.errors import ApiError
from controller.sandbox.kube_server.escalation import _breakdown, _compact, _compact_string
from controller.sandbox.kube_server.identity import UserInfo, acting_user
from controller.sandbox.kube_server.protobuf import decode_review
from controller.sandbox.kube_server.rbac import Attributes, rule_allows

DEV = UserInfo("dev1", groups=("system:authenticated",))
# What kubectl 1.32 sends for `auth can-i get secret/stripe -n payments`.
KUBECTL_SSAR = (
    b"k8s\x00\n2\n\x17authorization.k8s.io/v1\x12\x17SelfSubjectAccessReview\x12F\n\x10\n\x00"
    b'\x12\x00\x1a\x00"\x00*\x002\x008\x00B\x00\x12(\n&\n\x08payments\x12\x03get\x1a\x00"\x00'
    b'*\x07secrets2\x00:\x06stripe\x1a\x08\x08\x00\x12\x00\x1a\x00 \x00\x1a\x00"\x00'
)


def attrs(verb: str, resource: str, name: str = "", subresource: str = "", group: str = "") -> Any:
    return Attributes(
        user=DEV,
        verb=verb,
        api_group=group,
        resource=resource,
        subresource=subresource,
        namespace="payments",
        name=name,
    )


NAMED = {
    "apiGroups": [""],
    "resources": ["secrets"],
    "verbs": ["get", "list"],
    "resourceNames": ["stripe"],
}


@pytest.mark.parametrize(
    ("rule", "request_attrs", "allowed"),
    [
        (NAMED, attrs("get", "secrets", "stripe"), True),
        (NAMED, attrs("get", "secrets", "other"), False),
        (NAMED, attrs("list", "secrets"), False),
        (NAMED, attrs("create", "secrets"), False),
        (NAMED, attrs("delete", "secrets", "stripe"), False),
        (NAMED, attrs("get", "secrets", "stripe", group="apps"), False),
        (
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            attrs("delete", "deployments", "a", "status", "apps"),
            True,
        ),
        (
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
            attrs("get", "pods", "p", "log"),
            False,
        ),
        (
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
            attrs("get", "pods", "p", "log"),
            True,
        ),
        (
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
            attrs("get", "pods", "p"),
            False,
        ),
        (
            {"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["get"]},
            attrs("get", "deployments", "a", "status", "apps"),
            True,
        ),
        (
            {"nonResourceURLs": ["/logs/*"], "verbs": ["get"]},
            attrs("get", "secrets", "stripe"),
            False,
        ),
    ],
)
def test_rule_matching(rule: dict[str, Any], request_attrs: Attributes, allowed: bool) -> None:
    assert rule_allows(request_attrs, rule) is allowed


def test_non_resource_rules_match_paths_and_prefixes() -> None:
    rule = {"nonResourceURLs": ["/logs/*", "/version"], "verbs": ["get"]}

    def path(url: str, verb: str = "get") -> Attributes:
        return Attributes(user=DEV, verb=verb, resource_request=False, path=url)

    assert rule_allows(path("/logs/a/b"), rule)
    assert rule_allows(path("/version"), rule)
    assert not rule_allows(path("/version/x"), rule)
    assert not rule_allows(path("/logs/a", "post"), rule)


def test_impersonated_users_get_the_groups_a_real_server_adds() -> None:
    def acting(**headers: str) -> UserInfo:
        named = {key.replace("_", "-"): value for key, value in headers.items()}
        return acting_user(named, "/api", authenticated=True)

    assert acting().unrestricted
    assert acting().name == "loopback-admin"
    assert acting_user({}, "/api", authenticated=False).name == "system:anonymous"
    user = acting(Impersonate_User="dev1")
    assert (user.groups, user.unrestricted) == (("system:authenticated",), False)
    grouped = acting(Impersonate_User="dev1", Impersonate_Group="a, b")
    assert grouped.groups == ("a", "b", "system:authenticated")
    sa = acting(Impersonate_User="system:serviceaccount:payments:app")
    assert sa.groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:payments",
        "system:authenticated",
    )
    # Named groups replace a ServiceAccount's implied ones, as upstream.
    sa_grouped = acting(
        Impersonate_User="system:serviceaccount:payments:app", Impersonate_Group="x"
    )
    assert sa_grouped.groups == ("x", "system:authenticated")
    # Impersonating system:masters is the admin's to give, as on a real server.
    assert acting(Impersonate_User="dev1", Impersonate_Group="system:masters").unrestricted
    anonymous = acting(Impersonate_User="system:anonymous")
    assert anonymous.groups == ("system:unauthenticated",)
    extra = acting(Impersonate_User="dev1", Impersonate_Extra_Scopes="view, edit")
    assert extra.extra == {"scopes": ("view", "edit")}
    with pytest.raises(ApiError) as caught:
        acting(Impersonate_Group="system:masters")
    assert caught.value.code == 500
    assert "without impersonating a user" in caught.value.message


def test_kubectl_protobuf_review_reads_as_its_json() -> None:
    assert decode_review(KUBECTL_SSAR) == {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "spec": {
            "resourceAttributes": {
                "namespace": "payments",
                "verb": "get",
                "resource": "secrets",
                "name": "stripe",
            }
        },
    }


@pytest.mark.parametrize("body", [b"", b"{}", KUBECTL_SSAR[:40], b"k8s\x00\n\xff"])
def test_broken_protobuf_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        decode_review(body)
    assert caught.value.code == 400
    assert caught.value.message.startswith("the protobuf body could not be decoded")


def test_missing_rules_are_reported_compacted_in_upstream_form() -> None:
    missing = [
        *_breakdown({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}),
        *_breakdown(
            {
                "apiGroups": ["apps"],
                "resources": ["deployments"],
                "resourceNames": ["a"],
                "verbs": ["get"],
            }
        ),
        *_breakdown({"nonResourceURLs": ["/metrics"], "verbs": ["get"]}),
    ]
    assert sorted(_compact_string(rule) for rule in _compact(missing)) == [
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}',
        '{APIGroups:["apps"], Resources:["deployments"], ResourceNames:["a"], Verbs:["get"]}',
        '{NonResourceURLs:["/metrics"], Verbs:["get"]}',
    ]
