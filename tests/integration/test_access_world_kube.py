"""Access requests end to end, Kubernetes delivery: the grant becomes a Role and a
RoleBinding in the loopback cluster, RBAC (``KubeApiServer.can`` and ``kubectl auth can-i``)
says yes while it lives and no once ``/sealgate revoke`` (by the requester, by an approver)
or an operator's ``sealgate access revoke`` ends it; a stranger's revoke is ignored with a
reply.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from controller.cli import main
from tests.integration.access_world_support import (
    SUBJECT,
    AccessWorld,
    access,
    access_yaml,
)
from tests.integration.test_reconciler_world import NAMESPACE, SECRET

__all__ = ["access"]  # the fixture

BOTH = ("open", "kubernetes")


def _delivered(access: AccessWorld) -> str:
    """A granted request delivered both ways; checks the cluster and returns the binding."""
    access.seed()
    assert access.can_i() == "no"
    access.granted(access_yaml(deliver=BOTH))
    grant = access.grant()
    name = f"sealgate-access-{grant.id}"
    role = access.world.kube.get("rbac.authorization.k8s.io/v1", "Role", NAMESPACE, name)
    assert role is not None
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [SECRET], "verbs": ["get"]}
    ]
    assert access.bindings() == [name]
    assert access.can()
    assert access.can_i() == "yes"
    # Only the subject, only that Secret, only reading it.
    assert access.can_i("mallory@acme.example") == "no"
    assert not access.world.kube.can(SUBJECT, "get", "secrets", namespace=NAMESPACE, name="other")
    assert not access.world.kube.can(SUBJECT, "delete", "secrets", namespace=NAMESPACE, name=SECRET)
    # A binding is the first use: the grant is active from the merge's pass on.
    assert access.grant().first_used_at is not None
    return name


def _ended(access: AccessWorld, by: str) -> None:
    assert access.bindings() == []
    assert not access.can()
    assert access.can_i() == "no"
    refused = access.endpoint.open(access.token("alice"))
    assert refused.status_code == 403, refused.text
    assert refused.json()["reason"] == "revoked"
    assert f"by {by}" in refused.json()["message"]


def test_the_requester_revokes_and_the_binding_goes(access: AccessWorld) -> None:
    _delivered(access)
    number = access.grant().pull_request
    opened = access.endpoint.open(access.token("alice"))
    assert opened.status_code == 200, opened.text
    access.world.comment("alice", number, "/sealgate revoke incident closed")
    assert number in access.poll()
    assert access.grant().ended_recorded
    _ended(access, "alice")
    assert "**Revoked** at" in access.summary(number)
    assert any("**Revoked:**" in c for c in access.comments(number))


def test_an_approver_revokes(access: AccessWorld) -> None:
    _delivered(access)
    number = access.grant().pull_request
    access.world.comment("carol", number, "/sealgate revoke not needed any more")
    access.poll()
    _ended(access, "carol")
    assert access.grant().revoked_by == "carol"


def test_a_strangers_revoke_is_ignored_with_a_reply(access: AccessWorld) -> None:
    name = _delivered(access)
    number = access.grant().pull_request
    # erin administers the repository, but no policy names her and she did not ask.
    access.world.comment("erin", number, "/sealgate revoke I do not like it")
    access.poll()
    assert access.grant().revoked_at is None
    assert access.bindings() == [name]
    assert access.can_i() == "yes"
    replies = [c for c in access.comments(number) if "**Not revoked:**" in c]
    assert len(replies) == 1, access.comments(number)
    # Asked again, nothing changes and the reply is not repeated.
    access.poll()
    access.controller.reconciler.handle("acme/requests", number)
    assert len([c for c in access.comments(number) if "**Not revoked:**" in c]) == 1


def test_an_operator_revokes_from_the_store(access: AccessWorld, tmp_path: Path) -> None:
    name = _delivered(access)
    grant = access.grant()
    revoked = CliRunner().invoke(
        main,
        [
            "access",
            "revoke",
            grant.id,
            "--store",
            access.world.spec.store,
            "--key-dir",
            access.world.spec.keys,
            "--reason",
            "leaked laptop",
            "--actor",
            "opsperson",
        ],
    )
    assert revoked.exit_code == 0, revoked.output
    # Open stops at once: the controller reads the store before handing anything out.
    refused = access.endpoint.open(access.token("alice"))
    assert refused.status_code == 403, refused.text
    assert refused.json()["reason"] == "revoked"
    assert "by opsperson (leaked laptop)" in refused.json()["message"]
    # The binding lives until the next grant-loop pass, which removes it and records the end.
    assert access.bindings() == [name]
    assert access.keep_grants() == [grant.id]
    assert access.bindings() == []
    assert access.can_i() == "no"
    assert access.grant().ended_recorded
    # The pull request is reported once more, with the revocation.
    assert grant.pull_request in access.poll()
    assert "**Revoked** at" in access.summary(grant.pull_request)
    assert access.poll() == []
    listed = CliRunner().invoke(
        main,
        [
            "access",
            "ls",
            "--all",
            "--store",
            access.world.spec.store,
            "--key-dir",
            access.world.spec.keys,
            "-o",
            "json",
        ],
    )
    assert listed.exit_code == 0, listed.output
    assert '"revoked"' in listed.stdout
    assert "opsperson" in listed.stdout


def test_a_service_account_subject(access: AccessWorld) -> None:
    access.seed()
    access.world.kube.create_namespace("agents")
    robot = "system:serviceaccount:agents:incident-bot"
    subject = "{kind: ServiceAccount, name: incident-bot, namespace: agents}"
    access.granted(access_yaml(deliver=("kubernetes",), subject=subject))
    assert access.can_i(robot) == "yes"
    assert access.can_i("system:serviceaccount:payments:incident-bot") == "no"
    assert access.can_i() == "no"
    access.clock.to(access.grant().ends_at)
    access.keep_grants()
    assert access.can_i(robot) == "no"
