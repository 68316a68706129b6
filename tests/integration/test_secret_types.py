"""Typed Secrets with labels and annotations, from a pull request to the cluster.

Through the loopback GitHub and Kubernetes servers: a TLS pair lands as a
``kubernetes.io/tls`` Secret with the labels and annotations the change gave it; a later
change removes a label it set without touching one another tool set; drift repair puts a
deleted label back; a type the cluster would refuse, or a change of type, never merges.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from kubernetes import client
from kubernetes.config import load_kube_config

from controller.kube import names
from controller.reconciler import Status
from tests.integration.test_reconciler_world import (
    CANARY,
    ENV,
    FULL,
    OWNER,
    REPO,
    Controller,
    World,
)
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414

NS = "payments"
TLS = "edge-tls"


def _pull(world: World, branch: str, spec_lines: str, *, author: str = "alice") -> int:
    document = (
        "apiVersion: sealgate.dev/v1\nkind: SecretChange\n"
        f"metadata:\n  name: {branch}\nspec:\n  environment: {ENV}\n"
        f"  secret: {NS}/{TLS}\n  reason: serve the new certificate\n{spec_lines}"
    ).encode()
    files: Mapping[str, bytes | None] = {f"changes/{ENV}/{branch}.yaml": document}
    world.hub.push(OWNER, REPO, branch, files, message=branch, author=author, base="main")
    return world.hub.open_pull_request(OWNER, REPO, head=branch, title=branch, author=author)


@pytest.fixture
def core(world: World) -> Iterator[Any]:
    """Another tool in the cluster, through the official client."""
    configuration = client.Configuration()
    load_kube_config(  # type: ignore[no-untyped-call]
        config_file=world.spec.kubeconfig, client_configuration=configuration
    )
    with client.ApiClient(configuration) as api:
        yield client.CoreV1Api(api)


def _label(core: Any, labels: Mapping[str, str | None]) -> None:
    core.patch_namespaced_secret(TLS, NS, {"metadata": {"labels": dict(labels)}})


def _sealed(world: World, key: str, value: bytes) -> str:
    return world.seal(value, key=key, secret=f"{NS}/{TLS}")


def _live(world: World) -> dict[str, Any]:
    secret = world.kube.get("v1", "Secret", NS, TLS)
    assert secret is not None
    return secret


def _apply(world: World, controller: Controller, number: int) -> None:
    assert controller.reconciler.handle(FULL, number).status is Status.PENDING
    world.approve("bob", number)
    done = controller.reconciler.handle(FULL, number)
    assert done.status is Status.SYNCED, done.messages


def test_a_tls_pair_becomes_a_typed_secret_with_its_labels(
    world: World, controller: Controller, core: Any
) -> None:
    number = _pull(
        world,
        "tls-1",
        "  type: kubernetes.io/tls\n"
        "  labels: {app.kubernetes.io/part-of: edge, team: edge}\n"
        "  annotations: {example.com/owner: edge team on call}\n"
        f"  set:\n    tls.crt: {_sealed(world, 'tls.crt', b'CERT-' + CANARY)}\n"
        f"    tls.key: {_sealed(world, 'tls.key', b'KEY-' + CANARY)}\n",
    )
    _apply(world, controller, number)
    live = _live(world)
    assert live["type"] == "kubernetes.io/tls"
    assert base64.b64decode(live["data"]["tls.key"]) == b"KEY-" + CANARY
    labels = live["metadata"]["labels"]
    assert labels["team"] == "edge"
    assert labels["app.kubernetes.io/part-of"] == "edge"
    assert labels[names.MANAGED_BY] == names.MANAGER
    assert live["metadata"]["annotations"]["example.com/owner"] == "edge team on call"
    summary = [str(c["body"]) for c in world.hub.comments(OWNER, REPO, number)]
    assert any("type `kubernetes.io/tls`" in c for c in summary), summary
    assert not any(CANARY.decode() in c for c in summary)

    # Another tool labels the Secret; then a change removes one of sealgate's labels.
    _label(core, {"backup.example.com/include": "yes"})
    second = _pull(world, "tls-2", "  labels: {team: null, tier: gold}\n")
    _apply(world, controller, second)
    labels = _live(world)["metadata"]["labels"]
    assert "team" not in labels
    assert labels["tier"] == "gold"
    assert labels["app.kubernetes.io/part-of"] == "edge"
    assert labels["backup.example.com/include"] == "yes"
    rolled = world.kube.rollout_count(NS, "Deployment", "api")

    # Someone strips a label by hand: drift repair puts it back, without a restart.
    _label(core, {"tier": None})
    report = controller.reconciler.repair_drift()
    assert any(r.name == TLS for r in report.repaired), report
    assert _live(world)["metadata"]["labels"]["tier"] == "gold"
    assert world.kube.rollout_count(NS, "Deployment", "api") == rolled


def test_a_type_the_cluster_would_refuse_never_merges(world: World, controller: Controller) -> None:
    half = _pull(
        world,
        "tls-half",
        f"  type: kubernetes.io/tls\n  set:\n    tls.crt: {_sealed(world, 'tls.crt', b'C')}\n",
    )
    status = controller.reconciler.handle(FULL, half)
    assert status.status is Status.INVALID
    assert any("lacks tls.key" in m for m in status.messages), status.messages

    docker = _pull(
        world,
        "registry",
        "  type: kubernetes.io/dockerconfigjson\n"
        f"  set:\n    .dockerconfigjson: {_sealed(world, '.dockerconfigjson', CANARY)}\n",
    )
    status = controller.reconciler.handle(FULL, docker)
    assert status.status is Status.INVALID
    assert any("must be JSON" in m for m in status.messages), status.messages
    comments = [str(c["body"]) for c in world.hub.comments(OWNER, REPO, docker)]
    seen = " ".join([*status.messages, *comments])
    assert CANARY.decode() not in seen
    for number in (half, docker):
        assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert world.kube.get("v1", "Secret", NS, TLS) is None


def test_a_stored_secret_keeps_its_type(world: World, controller: Controller) -> None:
    first = _pull(world, "plain", f"  set:\n    token: {_sealed(world, 'token', b'v1')}\n")
    _apply(world, controller, first)
    assert _live(world)["type"] == "Opaque"
    retype = _pull(
        world,
        "retype",
        "  type: kubernetes.io/basic-auth\n"
        f"  set:\n    password: {_sealed(world, 'password', b'v2')}\n",
    )
    status = controller.reconciler.handle(FULL, retype)
    assert status.status is Status.INVALID
    assert any("cannot change a Secret's type" in m for m in status.messages), status.messages
    assert world.hub.pull(OWNER, REPO, retype)["merged"] is False


@pytest.mark.parametrize(
    ("secret_type", "data", "field"),
    [
        ("kubernetes.io/tls", {"tls.crt": "Yw=="}, "data[tls.key]"),
        ("kubernetes.io/basic-auth", {"token": "Yw=="}, "data[username]"),
        ("kubernetes.io/ssh-auth", {"x": "Yw=="}, "data[ssh-privatekey]"),
        (
            "kubernetes.io/dockerconfigjson",
            {".dockerconfigjson": "bm90LWpzb24="},
            "data[.dockerconfigjson]",
        ),
        ("kubernetes.io/service-account-token", {}, "metadata.annotations"),
    ],
)
def test_the_loopback_cluster_refuses_what_the_api_server_refuses(
    core: Any, secret_type: str, data: dict[str, str], field: str
) -> None:
    body = {"metadata": {"name": "typed"}, "type": secret_type, "data": data}
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_secret(NS, body)
    assert caught.value.status == 422
    assert field in str(caught.value.body)
    assert "not-json" not in str(caught.value.body)
