"""The pure part of Kubernetes access delivery (``controller.kube.access_rbac``), on literals."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.errors import ClusterError
from controller.kube.access_rbac import (
    access_name,
    access_namespaces,
    desired_objects,
    ends_at_text,
    owned_by,
    replacement,
    reveals_whole_secret,
    secret_names,
    up_to_date,
)
from controller.model import (
    AccessDelivery,
    Grant,
    KubernetesSubject,
    SecretAccess,
    grant_id_for,
)

APPROVED = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
GROUP = "rbac.authorization.k8s.io"


def grant(**changes: Any) -> Grant:
    base = Grant(
        id="staging-pr-7-debug",
        environment="staging",
        repo="acme/requests",
        pull_request=7,
        request_id="debug",
        requester="dana",
        secrets=(SecretAccess("web/session", ("KEY",)),),
        deliver=frozenset({AccessDelivery.KUBERNETES}),
        approvers=("erin",),
        approved_at=APPROVED,
        duration=timedelta(minutes=30),
        activate_by=APPROVED + timedelta(hours=2),
        kubernetes_subject=KubernetesSubject("ServiceAccount", "debugger", "tools"),
    )
    return dataclasses.replace(base, **changes)


def test_one_namespace_gives_exactly_this_role_and_binding() -> None:
    ((role, binding),) = desired_objects(grant())
    meta = {
        "name": "sealgate-access-staging-pr-7-debug",
        "namespace": "web",
        "labels": {
            "app.kubernetes.io/managed-by": "sealgate",
            "sealgate.dev/grant": "staging-pr-7-debug",
        },
        "annotations": {
            "sealgate.dev/ends-at": "2026-12-03T08:00:00Z",
            "sealgate.dev/requester": "dana",
            "sealgate.dev/pull-request": "acme/requests#7",
        },
    }
    assert role == {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Role",
        "metadata": meta,
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["secrets"],
                "verbs": ["get"],
                "resourceNames": ["session"],
            }
        ],
    }
    assert binding == {
        "apiVersion": f"{GROUP}/v1",
        "kind": "RoleBinding",
        "metadata": meta,
        "roleRef": {
            "apiGroup": GROUP,
            "kind": "Role",
            "name": "sealgate-access-staging-pr-7-debug",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "debugger", "namespace": "tools"}],
    }


def test_secrets_are_grouped_per_namespace_sorted_and_unique() -> None:
    g = grant(
        secrets=(
            SecretAccess("web/z"),
            SecretAccess("api/b", ("K",)),
            SecretAccess("web/a"),
            SecretAccess("web/z", ("OTHER",)),
        )
    )
    assert secret_names(g) == {"api": ("b",), "web": ("a", "z")}
    assert [r["metadata"]["namespace"] for r, _ in desired_objects(g)] == ["api", "web"]


def test_a_secret_that_is_not_namespace_slash_name_is_refused_with_the_fix() -> None:
    with pytest.raises(ClusterError) as caught:
        secret_names(grant(secrets=(SecretAccess("session"),)))
    assert "staging-pr-7-debug" in str(caught.value)
    assert "<namespace>/<name>" in str(caught.value)
    assert caught.value.retryable is False


def test_the_end_moves_with_the_first_use_and_a_revocation() -> None:
    used = grant(first_used_at=APPROVED + timedelta(minutes=5))
    ((role, _),) = desired_objects(used)
    assert role["metadata"]["annotations"]["sealgate.dev/ends-at"] == "2026-12-03T06:35:00Z"
    assert ends_at_text(datetime(2026, 12, 3, 8, 0, tzinfo=timezone(timedelta(hours=2)))) == (
        "2026-12-03T06:00:00Z"
    )


def test_reveals_whole_secret_only_when_kubernetes_delivers_some_keys() -> None:
    assert reveals_whole_secret(grant()) is True
    assert reveals_whole_secret(grant(secrets=(SecretAccess("web/session"),))) is False
    both = frozenset({AccessDelivery.OPEN, AccessDelivery.KUBERNETES})
    assert reveals_whole_secret(grant(deliver=both)) is True
    assert reveals_whole_secret(grant(deliver=frozenset({AccessDelivery.OPEN}))) is False


def test_access_namespaces_are_those_of_kubernetes_grants() -> None:
    grants = [
        grant(secrets=(SecretAccess("web/a"), SecretAccess("api/b"))),
        grant(id="x", secrets=(SecretAccess("jobs/c"),), deliver=frozenset({AccessDelivery.OPEN})),
        grant(id="y", secrets=(SecretAccess("web/d"),)),
    ]
    assert access_namespaces(grants) == ("api", "web")


@pytest.mark.parametrize(
    "subject",
    [
        None,
        KubernetesSubject("ServiceAccount", "bot"),
        KubernetesSubject("Machine", "m"),
        KubernetesSubject("User", ""),
    ],
)
def test_no_objects_without_a_usable_subject(subject: KubernetesSubject | None) -> None:
    with pytest.raises(ClusterError) as caught:
        desired_objects(grant(kubernetes_subject=subject))
    assert "kubernetesSubject" in str(caught.value)


def test_user_and_group_subjects_carry_the_rbac_group() -> None:
    for kind in ("User", "Group"):
        ((_, binding),) = desired_objects(grant(kubernetes_subject=KubernetesSubject(kind, "n")))
        assert binding["subjects"] == [{"kind": kind, "name": "n", "apiGroup": GROUP}]


def test_owned_means_labelled_for_this_grant_and_named_for_it() -> None:
    ((role, _),) = desired_objects(grant())
    assert owned_by(role, "staging-pr-7-debug") is True
    assert owned_by(role, "staging-pr-7-other") is False
    renamed = {**role, "metadata": {**role["metadata"], "name": "admin"}}
    assert owned_by(renamed, "staging-pr-7-debug") is False
    unlabelled = {**role, "metadata": {**role["metadata"], "labels": {}}}
    assert owned_by(unlabelled, "staging-pr-7-debug") is False


def test_up_to_date_ignores_what_others_add_and_what_servers_fill_in() -> None:
    role, binding = desired_objects(grant(kubernetes_subject=KubernetesSubject("User", "u")))[0]
    live_role = replacement(
        {"metadata": {"labels": {"team": "web"}, "annotations": {"note": "x"}, "uid": "1"}}, role
    )
    assert live_role["metadata"]["labels"]["team"] == "web"
    assert live_role["metadata"]["uid"] == "1"
    assert up_to_date(live_role, role) is True
    stale = {**live_role, "rules": [{**role["rules"][0], "verbs": ["get", "list"]}]}
    assert up_to_date(stale, role) is False
    moved = dict(
        role["metadata"]["annotations"], **{"sealgate.dev/ends-at": "2000-01-01T00:00:00Z"}
    )
    assert (
        up_to_date({**role, "metadata": {**role["metadata"], "annotations": moved}}, role) is False
    )
    served = {
        **binding,
        "subjects": [{"kind": "User", "name": "u", "apiGroup": GROUP, "namespace": ""}],
    }
    assert up_to_date(served, binding) is True
    widened = {**binding, "subjects": [*binding["subjects"], {"kind": "User", "name": "v"}]}
    assert up_to_date(widened, binding) is False


def test_grant_ids_with_characters_names_refuse_get_distinct_valid_names() -> None:
    assert access_name("prod-pr-1-a-b") == "sealgate-access-prod-pr-1-a-b"
    odd = access_name("prod-pr-1-a_b")
    assert DNS_SUBDOMAIN.match(odd)
    assert odd != access_name("prod-pr-1-a-b")
    assert access_name("prod-pr-1-a-.b") != access_name("prod-pr-1-a.-b")


@pytest.mark.parametrize("bad", ["", "a,b=c", "café", "-x", "x" * 64, "a b"])
def test_a_grant_id_that_is_no_label_value_is_refused(bad: str) -> None:
    with pytest.raises(ClusterError, match="not a Kubernetes label value"):
        desired_objects(grant(id=bad))


@given(
    environment=st.text(min_size=1, max_size=40),
    number=st.integers(min_value=1, max_value=10**9),
    request_id=st.text(min_size=1, max_size=120),
)
def test_every_grant_id_gives_a_valid_object_name(
    environment: str, number: int, request_id: str
) -> None:
    name = access_name(grant_id_for(environment, number, request_id))
    assert DNS_SUBDOMAIN.match(name), name
    assert len(name) <= 253
