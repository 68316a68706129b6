"""``deploy/rbac/token-review`` grants exactly what reviewing an agent's token uses.

``review_token`` runs against the loopback API server through the real client; the request
log says which (API group, resource, verb) it needed, at which scope. The opt-in component
must grant exactly that, cluster-wide (TokenReviews have no namespace), to the controller's
ServiceAccount, and the comment above the rule must name the call it is for. The installs
stay free of cluster-wide rights: agents are opt-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.kube import ClusterConfig, RetryPolicy, connect
from controller.kube.tokens import review_token
from controller.sandbox.kube_server import KubeApiServer
from tests.integration.test_rbac import _rules_with_comments, expand, installed
from tests.unit.test_deploy_manifests import INSTALLS, ROOT, render

COMPONENT = "deploy/rbac/token-review"
AUDIENCE = "sealgate.example"


@pytest.fixture
def used(tmp_path: Path) -> Iterator[set[tuple[str, str, str, str]]]:
    with KubeApiServer() as server:
        server.create_namespace("ci")
        server.put(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "deployer", "namespace": "ci"},
            }
        )
        token = server.issue_token("ci", "deployer", AUDIENCE)
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        api = connect(ClusterConfig("loop", kubeconfig=kubeconfig), retry=RetryPolicy(attempts=1))
        server.reset_request_log()
        try:
            assert review_token(api, token, AUDIENCE).name == "deployer"
        finally:
            api.close()
        yield {
            (
                "cluster" if r.namespace is None else "namespace",
                r.api_group,
                r.resource,
                r.verb,
            )
            for r in server.request_log
            if r.user_agent.startswith("sealgate")
        }


def test_the_component_grants_exactly_what_review_token_uses(
    used: set[tuple[str, str, str, str]],
) -> None:
    at = installed()
    objects = render(COMPONENT)
    assert sorted(o["kind"] for o in objects) == ["ClusterRole", "ClusterRoleBinding"]
    (role,) = [o for o in objects if o["kind"] == "ClusterRole"]
    (binding,) = [o for o in objects if o["kind"] == "ClusterRoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": at.service_account, "namespace": at.namespace}
    ]
    rules = expand(role, "cluster")
    assert all(r.names is None for r in rules)
    granted = {(r.scope, *r.permission) for r in rules}
    assert used == granted == {("cluster", "authentication.k8s.io", "tokenreviews", "create")}


def test_the_rule_names_the_call_that_needs_it() -> None:
    ((comment, _),) = _rules_with_comments(ROOT / COMPONENT / "clusterrole.yaml")
    assert "tokens.review_token" in comment


def test_no_install_includes_it_unasked() -> None:
    for directory in INSTALLS:
        kinds = {o["kind"] for o in render(directory)}
        assert "ClusterRoleBinding" not in kinds, directory
