"""Attacks on ``kubernetes`` delivery: binding more subjects than a person, keeping a
RoleBinding after the grant's end or revocation, or putting one back by hand.

The grant comes from a real access pull request; what the subject may read is asked of the
loopback Kubernetes API server's RBAC authorizer, the one its HTTP requests go through.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.reconciler import Status
from tests.integration.test_reconciler_world import ENV, FULL, NAMESPACE, SECRET
from tests.security.access_attack_support import (
    AccessWorld,
    access_yaml,
    build_access_world,
    merged,
    open_access,
    summary,
)

FILE = f"access/{ENV}/debug-db.yaml"
PERSON = "alice@acme.example"
RBAC = "rbac.authorization.k8s.io/v1"


def kube_yaml(kind: str = "User", name: str = PERSON, extra: str = "", **given: Any) -> bytes:
    subject = f"  kubernetesSubject: {{kind: {kind}, name: '{name}'{extra}}}\n"
    return access_yaml(extra="  deliver: [kubernetes]\n" + subject, **given)


@pytest.fixture
def aw(tmp_path: Path) -> Iterator[AccessWorld]:
    yield from build_access_world(tmp_path)


def _reads(aw: AccessWorld, user: str, name: str = SECRET, groups: tuple[str, ...] = ()) -> bool:
    return aw.world.kube.can(user, "get", "secrets", namespace=NAMESPACE, name=name, groups=groups)


def _bindings(aw: AccessWorld) -> list[dict[str, Any]]:
    return [
        b
        for b in aw.world.kube.list(RBAC, "RoleBinding", NAMESPACE)
        if str(b["metadata"]["name"]).startswith("sealgate-access-")
    ]


def _granted(aw: AccessWorld) -> int:
    number = aw.grant_for({FILE: kube_yaml()})
    assert _reads(aw, PERSON)
    return number


def test_the_binding_gives_exactly_the_named_secret_to_the_named_subject(
    aw: AccessWorld,
) -> None:
    _granted(aw)
    assert not _reads(aw, "mallory@acme.example")
    assert not _reads(aw, PERSON, name="other")
    assert not aw.world.kube.can(PERSON, "list", "secrets", namespace=NAMESPACE)
    assert not aw.world.kube.can(PERSON, "get", "secrets", namespace="web", name=SECRET)
    (grant,) = aw.controller.store.grants()
    assert grant.first_used_at is not None  # the binding is the first use: its clock runs


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("Group", "system:authenticated"),
        ("Group", "system:unauthenticated"),
        ("Group", "system:serviceaccounts"),
        ("Group", "system:serviceaccounts:payments"),
        ("Group", "system:masters"),
        ("User", "system:anonymous"),
        ("User", "system:serviceaccount:payments:api"),
    ],
)
def test_a_subject_that_is_everyone_or_a_system_identity_is_invalid(
    aw: AccessWorld, kind: str, name: str
) -> None:
    """A request binding every authenticated caller (or the anonymous user) reads like a
    person's access in a hurried review; Kubernetes' own ``system:`` identities are never
    a requester."""
    number = open_access(aw.world, {FILE: kube_yaml(kind=kind, name=name)})
    aw.world.approve("bob", number)
    assert aw.controller.reconciler.handle(FULL, number).status is Status.INVALID
    assert "system:" in summary(aw.world, number)
    assert not merged(aw.world, number)
    assert _bindings(aw) == []
    assert not _reads(aw, "anyone", groups=("system:authenticated",))


def test_a_key_narrowed_kubernetes_grant_warns_that_rbac_reveals_every_key(
    aw: AccessWorld,
) -> None:
    number = open_access(aw.world, {FILE: kube_yaml()})
    aw.controller.reconciler.handle(FULL, number)
    assert "RBAC cannot limit keys" in summary(aw.world, number)


def test_revocation_removes_the_binding(aw: AccessWorld) -> None:
    number = _granted(aw)
    aw.world.comment("alice", number, "/sealgate revoke done with the incident")
    aw.controller.reconciler.handle(FULL, number)
    assert not _reads(aw, PERSON)
    assert _bindings(aw) == []


def test_the_binding_ends_with_the_grant_and_a_hand_made_copy_is_removed(
    aw: AccessWorld,
) -> None:
    _granted(aw)
    (kept,) = _bindings(aw)
    role = copy.deepcopy(aw.world.kube.get(RBAC, "Role", NAMESPACE, kept["metadata"]["name"]))
    aw.clock.offset = timedelta(hours=2, seconds=1)
    ended, _ = aw.controller.reconciler.keep_grants()
    assert ended
    assert not _reads(aw, PERSON)
    # Someone with RBAC rights puts the grant's objects back exactly as they were.
    for obj in (role, kept):
        assert obj is not None
        meta = obj["metadata"]
        obj["metadata"] = {k: meta[k] for k in ("name", "namespace", "labels", "annotations")}
        aw.world.kube.put(obj)
    assert _reads(aw, PERSON)
    _, repaired = aw.controller.reconciler.keep_grants()
    assert repaired.removed
    assert not _reads(aw, PERSON)


def test_an_unused_kubernetes_grant_is_never_bound_after_it_lapses(aw: AccessWorld) -> None:
    """Approval while the cluster is down: the grant waits; once lapsed it is never bound."""
    number = open_access(aw.world, {FILE: kube_yaml(activate_within="1h")})
    aw.controller.reconciler.handle(FULL, number)
    aw.world.kube.forbid("create", "rolebindings", NAMESPACE)
    aw.world.approve("bob", number)
    assert aw.controller.reconciler.handle(FULL, number).status is Status.GRANTED
    assert not _reads(aw, PERSON)
    aw.world.kube.clear_faults()
    aw.clock.offset = timedelta(hours=1, seconds=1)
    aw.controller.reconciler.keep_grants()
    aw.controller.reconciler.keep_grants()
    assert not _reads(aw, PERSON)
    assert _bindings(aw) == []


def test_a_service_account_subject_needs_its_namespace(aw: AccessWorld) -> None:
    number = open_access(aw.world, {FILE: kube_yaml(kind="ServiceAccount", name="api")})
    aw.world.approve("bob", number)
    assert aw.controller.reconciler.handle(FULL, number).status is Status.INVALID
    assert _bindings(aw) == []
    assert "needs its namespace" in summary(aw.world, number)
