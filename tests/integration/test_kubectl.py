"""kubectl, an independent client, against the loopback Kubernetes API server.

kubectl does its own discovery, table printing, watching and client-side apply; if the
server's answers were not believable it would say so.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from controller.sandbox.kube_server import KubeApiServer
from tests.api_specs import k8s_validator, problems

SECRET_VALUE = "canary-7f3c9e"


class Kubectl(Protocol):
    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer(rollout_seconds=0.3) as srv:
        yield srv


@pytest.fixture
def kubectl(server: KubeApiServer, tmp_path: Path) -> Kubectl:
    binary = shutil.which("kubectl")
    assert binary, "these tests need kubectl on PATH"
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    # A private HOME keeps kubectl's discovery cache out of the user's and per test.
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


def deployment(name: str, namespace: str, replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.example/app:1",
                            "envFrom": [{"secretRef": {"name": "db"}}],
                        }
                    ]
                },
            },
        },
    }


def seed_secret(server: KubeApiServer, namespace: str, name: str) -> None:
    server.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": {"password": SECRET_VALUE},
        }
    )


def test_get_secrets_and_deployments_in_all_namespaces(
    server: KubeApiServer, kubectl: Kubectl
) -> None:
    seed_secret(server, "payments", "db")
    seed_secret(server, "search", "index-key")
    server.put(deployment("api", "payments"))

    result = kubectl("get", "secrets,deployments", "-A")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.strip()]
    # The server prints tables as a real one does, so kubectl shows the usual columns.
    assert rows[0] == ["NAMESPACE", "NAME", "TYPE", "DATA", "AGE"]
    assert rows[1][2:4] == ["Opaque", "1"]
    assert ["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"] in rows
    assert ["payments", "deployment.apps/api", "2/2", "2", "2"] in [row[:5] for row in rows]
    assert rows[1][:2] == ["payments", "secret/db"]
    assert rows[2][:2] == ["search", "secret/index-key"]

    as_json = kubectl("get", "secret", "db", "-n", "payments", "-o", "json")
    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    assert problems(k8s_validator("io.k8s.api.core.v1.Secret"), body) == []
    assert base64.b64decode(body["data"]["password"]).decode() == SECRET_VALUE


def test_describe_secret_shows_keys_not_values(server: KubeApiServer, kubectl: Kubectl) -> None:
    seed_secret(server, "payments", "db")
    result = kubectl("describe", "secret", "db", "-n", "payments")
    assert result.returncode == 0, result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "Name: db" in lines
    assert "Namespace: payments" in lines
    assert "Type: Opaque" in lines
    assert f"password: {len(SECRET_VALUE)} bytes" in lines
    assert SECRET_VALUE not in result.stdout


def test_rollout_status_follows_a_template_patch(server: KubeApiServer, kubectl: Kubectl) -> None:
    server.put(deployment("api", "payments", replicas=3))
    patch = '{"spec":{"template":{"metadata":{"annotations":{"sealgate.dev/checksum":"abc"}}}}}'
    patched = kubectl("patch", "deployment", "api", "-n", "payments", "-p", patch)
    assert patched.returncode == 0, patched.stderr

    status = kubectl("rollout", "status", "deployment/api", "-n", "payments", "--timeout=20s")
    assert status.returncode == 0, status.stderr
    assert 'deployment "api" successfully rolled out' in status.stdout
    assert server.rollout_count("payments", "Deployment", "api") == 1
    stored = server.get("apps/v1", "Deployment", "payments", "api")
    assert stored is not None
    assert stored["status"]["updatedReplicas"] == stored["status"]["availableReplicas"] == 3


def test_rollout_status_reports_a_failing_deployment(
    server: KubeApiServer, kubectl: Kubectl
) -> None:
    server.put(deployment("api", "payments"))
    server.fail_rollouts("payments", "Deployment", "api")
    restart = kubectl("rollout", "restart", "deployment/api", "-n", "payments")
    assert restart.returncode == 0, restart.stderr

    status = kubectl("rollout", "status", "deployment/api", "-n", "payments", "--timeout=20s")
    assert status.returncode != 0
    assert 'deployment "api" exceeded its progress deadline' in status.stderr


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
def test_rollout_status_of_statefulsets_and_daemonsets(
    server: KubeApiServer, kubectl: Kubectl, kind: str
) -> None:
    workload = deployment("store", "payments")
    workload["kind"] = kind
    if kind == "DaemonSet":
        del workload["spec"]["replicas"]
    server.put(workload)
    restart = kubectl("rollout", "restart", f"{kind.lower()}/store", "-n", "payments")
    assert restart.returncode == 0, restart.stderr
    status = kubectl(
        "rollout", "status", f"{kind.lower()}/store", "-n", "payments", "--timeout=20s"
    )
    assert status.returncode == 0, status.stderr
    assert server.rollout_count("payments", kind, "store") == 1


def write_manifest(path: Path, name: str, value: str) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "payments"},
        "type": "Opaque",
        "data": {"token": base64.b64encode(value.encode()).decode()},
    }
    path.write_text(json.dumps(manifest))


def test_apply_creates_then_updates_only_what_changed(
    server: KubeApiServer, kubectl: Kubectl, tmp_path: Path
) -> None:
    server.create_namespace("payments")
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    for index in range(3):
        write_manifest(manifests / f"s{index}.json", f"app-{index}", f"value-{index}")
    (manifests / "deploy.json").write_text(json.dumps(deployment("api", "payments")))

    first = kubectl("apply", "-f", str(manifests))
    assert first.returncode == 0, first.stderr
    assert "secret/app-1 created" in first.stdout
    assert "deployment.apps/api created" in first.stdout

    write_manifest(manifests / "s1.json", "app-1", "changed")
    server.reset_request_log()
    second = kubectl("apply", "-f", str(manifests))
    assert second.returncode == 0, second.stderr
    assert "secret/app-0 unchanged" in second.stdout
    assert "secret/app-1 configured" in second.stdout
    assert "deployment.apps/api unchanged" in second.stdout
    patches = [(r.resource, r.name) for r in server.request_log if r.verb == "patch"]
    assert patches == [("secrets", "app-1")]

    stored = server.get("v1", "Secret", "payments", "app-1")
    assert stored is not None
    assert base64.b64decode(stored["data"]["token"]) == b"changed"
    last_applied = stored["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"
    ]
    assert json.loads(last_applied)["data"] == stored["data"]


def test_server_side_apply_and_its_conflicts(
    server: KubeApiServer, kubectl: Kubectl, tmp_path: Path
) -> None:
    server.create_namespace("payments")
    manifest = tmp_path / "secret.json"
    write_manifest(manifest, "app", "one")
    created = kubectl("apply", "--server-side", "-f", str(manifest))
    assert created.returncode == 0, created.stderr
    assert "secret/app serverside-applied" in created.stdout

    write_manifest(manifest, "app", "two")
    clash = kubectl("apply", "--server-side", "--field-manager=intruder", "-f", str(manifest))
    assert clash.returncode != 0
    assert 'conflict with "kubectl"' in clash.stderr
    forced = kubectl(
        "apply", "--server-side", "--field-manager=intruder", "--force-conflicts", "-f",
        str(manifest),
    )  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    stored = server.get("v1", "Secret", "payments", "app")
    assert stored is not None
    assert base64.b64decode(stored["data"]["token"]) == b"two"


def test_a_client_side_applied_secret_moves_to_server_side_apply_without_conflicts(
    server: KubeApiServer, kubectl: Kubectl, tmp_path: Path
) -> None:
    def managers() -> set[tuple[str, str]]:
        stored = server.get("v1", "Secret", "payments", "app")
        assert stored is not None
        return {(e["manager"], e["operation"]) for e in stored["metadata"]["managedFields"]}

    server.create_namespace("payments")
    manifest = tmp_path / "secret.json"
    write_manifest(manifest, "app", "one")
    assert kubectl("apply", "-f", str(manifest)).returncode == 0
    assert managers() == {("kubectl-client-side-apply", "Update")}

    # kubectl hands the client-side manager's fields to itself by writing managedFields,
    # which the server takes as the new record, as a real one does.
    moved = kubectl("apply", "--server-side", "-f", str(manifest))
    assert moved.returncode == 0, moved.stderr
    assert ("kubectl-client-side-apply", "Update") not in managers()
    assert ("kubectl", "Apply") in managers()

    write_manifest(manifest, "app", "two")
    changed = kubectl("apply", "--server-side", "-f", str(manifest))
    assert changed.returncode == 0, changed.stderr
    stored = server.get("v1", "Secret", "payments", "app")
    assert stored is not None
    assert base64.b64decode(stored["data"]["token"]) == b"two"
