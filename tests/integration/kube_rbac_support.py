"""Shared pieces for the loopback Kubernetes RBAC tests: RBAC objects, the admin client,
impersonating clients, and a real server's wording of a refusal."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from controller.sandbox.kube_server import KubeApiServer
from tests.api_specs import k8s_validator, problems

# The generated client types every field as optional; tests read answers they just
# checked, so they use the client untyped.
kube: Any = client

RBAC = "rbac.authorization.k8s.io"
DEV = "dev1@acme.example"
CANARY = "canary-rbac-5d1e77"
load_kube_config: Callable[..., None] = config.load_kube_config
Impersonate = Callable[..., Any]


def role(name: str, namespace: str | None, *rules: dict[str, Any]) -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    kind = "Role" if namespace else "ClusterRole"
    return {"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": metadata, "rules": list(rules)}


def binding(
    name: str, namespace: str | None, role_kind: str, role_name: str, *subjects: dict[str, Any]
) -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": metadata,
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role_name},
        "subjects": list(subjects),
    }


def user(name: str) -> dict[str, Any]:
    return {"kind": "User", "apiGroup": RBAC, "name": name}


def group(name: str) -> dict[str, Any]:
    return {"kind": "Group", "apiGroup": RBAC, "name": name}


def rule(resources: list[str], verbs: list[str], *names: str, group: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {"apiGroups": [group], "resources": resources, "verbs": verbs}
    if names:
        found["resourceNames"] = list(names)
    return found


def secret(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"key": CANARY},
    }


def error_body(error: ApiException) -> dict[str, Any]:
    """The JSON body of a failed call (the client keeps it as text)."""
    assert error.body is not None
    body: dict[str, Any] = json.loads(error.body)
    return body


def refused(method: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """Call a client method that RBAC must refuse; returns the validated Status message."""
    with pytest.raises(ApiException) as caught:
        method(*args, _preload_content=False, **kwargs)
    assert caught.value.status == 403
    body = error_body(caught.value)
    assert problems(k8s_validator("io.k8s.apimachinery.pkg.apis.meta.v1.Status"), body) == []
    assert (body["status"], body["reason"], body["code"]) == ("Failure", "Forbidden", 403)
    assert CANARY not in json.dumps(body)
    message: str = body["message"]
    return message


def denial(verb: str, resource: str, namespace: str | None, name: str = "", group: str = "") -> str:
    """A real API server's wording of an RBAC refusal."""
    plural = resource.split("/", maxsplit=1)[0]
    qualified = f"{plural}.{group}" if group else plural
    subject = f'{qualified} "{name}"' if name else qualified
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return (
        f'{subject} is forbidden: User "{DEV}" cannot {verb} resource "{resource}" '
        f'in API group "{group}" {scope}'
    )


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer(rollout_seconds=0.3) as srv:
        srv.put(secret("payments", "stripe"))
        srv.put(secret("payments", "other"))
        srv.put(secret("billing", "stripe"))
        yield srv


@pytest.fixture
def configuration(server: KubeApiServer, tmp_path: Path) -> kube.Configuration:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", namespace="payments")
    configuration = kube.Configuration()
    load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return configuration


@pytest.fixture
def admin(configuration: kube.Configuration) -> Iterator[kube.ApiClient]:
    with kube.ApiClient(configuration) as api_client:
        yield api_client


@pytest.fixture
def impersonate(configuration: kube.Configuration) -> Iterator[Impersonate]:
    """``impersonate(name, group=None)``: an ApiClient acting as that user (the client's
    own default headers carry the impersonation, as ``kubectl --as`` does)."""
    opened: list[kube.ApiClient] = []

    def make(name: str, group: str | None = None) -> kube.ApiClient:
        api_client = kube.ApiClient(configuration)
        api_client.set_default_header("Impersonate-User", name)
        if group is not None:
            api_client.set_default_header("Impersonate-Group", group)
        opened.append(api_client)
        return api_client

    yield make
    for api_client in opened:
        api_client.close()


def stripe_reader(server: KubeApiServer, *subjects: dict[str, Any]) -> None:
    reads = rule(["secrets"], ["get", "list", "watch"], "stripe")
    server.put(role("stripe-reader", "payments", reads))
    server.put(binding("stripe", "payments", "Role", "stripe-reader", *(subjects or (user(DEV),))))
