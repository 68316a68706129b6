"""The Kubernetes manifests in ``deploy/``: they render, validate, and are safe to apply.

Every kustomization renders with ``kubectl kustomize``. Every rendered object is checked:
kinds in the official schema subset (``tests/api_specs``) against that schema made strict
(an unknown field is an error, so a misspelt ``readinesProbe`` fails), the kinds the
loopback API server serves also through ``kubectl apply --dry-run=server``, and the other
kinds (ConfigMap, Service, ServiceAccount, PodDisruptionBudget, NetworkPolicy, Ingress,
ServiceMonitor) against structural schemas written here from the Kubernetes API reference.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from controller.sandbox.kube_server import KubeApiServer
from tests.api_specs import problems
from tests.unit.test_deploy_schemas import STRUCTURAL_KINDS, strict_validator

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# What an administrator applies: the default, both overlays, the remote-cluster part, examples.
INSTALLS = (
    "deploy",
    "deploy/overlays/single-cluster",
    "deploy/overlays/multi-cluster",
    "deploy/overlays/multi-cluster/remote",
    "deploy/examples",
)
CONTROLLER_INSTALLS = (
    "deploy",
    "deploy/overlays/single-cluster",
    "deploy/overlays/multi-cluster",
)
KUSTOMIZATIONS = sorted(str(p.parent.relative_to(ROOT)) for p in DEPLOY.rglob("kustomization.yaml"))
SCHEMA_KINDS = {
    ("v1", "Namespace"): "io.k8s.api.core.v1.Namespace",
    ("v1", "Secret"): "io.k8s.api.core.v1.Secret",
    ("v1", "PersistentVolumeClaim"): "io.k8s.api.core.v1.PersistentVolumeClaim",
    ("apps/v1", "Deployment"): "io.k8s.api.apps.v1.Deployment",
    ("rbac.authorization.k8s.io/v1", "Role"): "io.k8s.api.rbac.v1.Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "io.k8s.api.rbac.v1.RoleBinding",
}
# Kinds the loopback API server serves, so kubectl can dry-run them against it.
SERVED_KINDS = {"Namespace", "Secret", "Deployment", "StatefulSet", "DaemonSet", "Lease"}
CREDENTIAL_NAME = re.compile(r"(?i)(token|passw|secret|private|credential|api[_-]?key|kek)")
CREDENTIAL_TEXT = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----|\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_"
    r"|\bAKIA[0-9A-Z]{16}"
)


def kubectl() -> str:
    binary = shutil.which("kubectl")
    assert binary, "these tests need kubectl (with its built-in kustomize) on PATH"
    return binary


@functools.cache
def _render_text(directory: str) -> str:
    result = subprocess.run(
        [kubectl(), "kustomize", str(ROOT / directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {directory}: {result.stderr}"
    return result.stdout


def render(directory: str) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize <directory>`` renders (a fresh copy each call)."""
    return [o for o in yaml.safe_load_all(_render_text(directory)) if o is not None]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [
        o for o in objects if o["kind"] == kind and name in (None, o["metadata"].get("name"))
    ]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def controller_deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return find(objects, "Deployment", "sealgate")


def pod_containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def main_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    (container,) = [c for c in containers if c["name"] == "sealgate"]
    return container


def controller_config(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The configuration file the Deployment mounts, parsed."""
    deployment = controller_deployment(objects)
    (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if "configMap" in v]
    config_map = find(objects, "ConfigMap", volume["configMap"]["name"])
    args = main_container(deployment)["args"]
    path = Path(args[args.index("--config") + 1])
    mount = mount_for(main_container(deployment), path)
    assert mount["name"] == volume["name"], "--config must point into the config volume"
    parsed = yaml.safe_load(config_map["data"][path.name])
    assert isinstance(parsed, dict)
    return parsed


def mount_for(container: dict[str, Any], path: Path) -> dict[str, Any]:
    """The volume mount ``path`` lies under (the deepest one)."""
    mounts = [
        m for m in container.get("volumeMounts", []) if path.is_relative_to(Path(m["mountPath"]))
    ]
    assert mounts, f"{path} is not under any volume mount of container {container['name']}"
    return max(mounts, key=lambda m: len(m["mountPath"]))


def volume(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    volumes: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["volumes"]
    (found,) = [v for v in volumes if v["name"] == name]
    return found


# ----------------------------------------------------------------------------- rendering


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_every_kustomization_renders(directory: str) -> None:
    objects = render(directory)
    assert objects
    for obj in objects:
        assert obj.get("apiVersion"), obj
        assert obj.get("kind"), obj
        assert obj["metadata"].get("name"), obj


def test_the_kustomizations_found_include_every_install() -> None:
    assert set(INSTALLS) <= set(KUSTOMIZATIONS)
    assert "deploy/rbac/managed-namespace" in KUSTOMIZATIONS


def test_the_deploy_directory_renders_the_single_cluster_installation() -> None:
    assert render("deploy") == render("deploy/overlays/single-cluster")


@pytest.mark.parametrize("directory", CONTROLLER_INSTALLS)
def test_an_installation_has_every_part(directory: str) -> None:
    kinds = sorted(o["kind"] for o in render(directory))
    assert kinds == sorted(
        [
            "Namespace",
            "ServiceAccount",
            "ConfigMap",
            "PersistentVolumeClaim",
            "Deployment",
            "Service",
            "PodDisruptionBudget",
            # Leader election in its own namespace, and the one example managed namespace.
            "Role",
            "RoleBinding",
            "Role",
            "RoleBinding",
        ]
    )


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize("directory", INSTALLS)
def test_every_object_validates_against_the_kubernetes_schemas(directory: str) -> None:
    for obj in render(directory):
        key = (obj["apiVersion"], obj["kind"])
        where = f"{directory}: {obj['kind']} {obj['metadata']['name']}"
        if key in SCHEMA_KINDS:
            assert problems(strict_validator(SCHEMA_KINDS[key]), obj) == [], where
        else:
            assert key in STRUCTURAL_KINDS, f"{where}: no schema to check {key} against"
            assert problems(STRUCTURAL_KINDS[key], obj) == [], where


def test_the_strict_validator_rejects_what_the_api_server_would() -> None:
    deployment = controller_deployment(render("deploy"))
    validator = strict_validator("io.k8s.api.apps.v1.Deployment")
    assert problems(validator, deployment) == []

    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    assert any("readinesProbe" in p for p in problems(validator, misspelt))
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "two"
    assert problems(validator, wrong_type)
    no_selector = copy.deepcopy(deployment)
    del no_selector["spec"]["selector"]
    assert problems(validator, no_selector)

    pdb = find(render("deploy"), "PodDisruptionBudget")
    both = copy.deepcopy(pdb)
    both["spec"]["minAvailable"] = 1
    assert problems(STRUCTURAL_KINDS[("policy/v1", "PodDisruptionBudget")], both)


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KubeApiServer, Path]]:
    with KubeApiServer() as server:
        config = server.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")
        yield server, config


@pytest.mark.parametrize("directory", [d for d in INSTALLS if d != "deploy/examples"])
def test_served_kinds_pass_a_server_side_dry_run(
    directory: str, loopback: tuple[KubeApiServer, Path], tmp_path: Path
) -> None:
    server, config = loopback
    served = [o for o in render(directory) if o["kind"] in SERVED_KINDS]
    assert {o["kind"] for o in served} & {"Deployment", "Secret"}
    for namespace in {o["metadata"].get("namespace") for o in served} - {None}:
        server.create_namespace(namespace)
    result = subprocess.run(
        [kubectl(), "--kubeconfig", str(config), "apply", "--dry-run=server", "-f", "-"],
        input=yaml.safe_dump_all(served),
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("(server dry run)") == len(served), result.stdout
    # A dry run stores nothing.
    assert server.list("apps/v1", "Deployment") == []
    assert server.list("v1", "Secret") == []


# -------------------------------------------------------------------------------- safety


@pytest.mark.parametrize("directory", INSTALLS)
def test_images_are_pinned_to_a_version(directory: str) -> None:
    for obj in render(directory):
        if obj["kind"] != "Deployment":
            continue
        for container in pod_containers(obj):
            image = container["image"]
            name, _, tag = image.partition("@")[0].rpartition(":")
            assert name, f"{image}: no tag"
            assert "/" not in tag, f"{image}: no tag"
            assert tag != "latest", f"{image}: a moving tag"
            assert re.fullmatch(r"v?\d+\.\d+\.\d+([.-][0-9A-Za-z.-]+)?", tag), f"{image}"
            assert container.get("imagePullPolicy") == "IfNotPresent"


@pytest.mark.parametrize("directory", INSTALLS)
def test_no_secret_value_is_written_in_a_manifest(directory: str) -> None:
    text = _render_text(directory)
    assert not CREDENTIAL_TEXT.search(text)
    for obj in render(directory):
        if obj["kind"] == "Secret":
            assert "data" not in obj, obj["metadata"]["name"]
            assert "stringData" not in obj, obj["metadata"]["name"]
            assert obj["type"] == "kubernetes.io/service-account-token"
        if obj["kind"] != "Deployment":
            continue
        for container in pod_containers(obj):
            for env in container.get("env", []):
                if "value" in env:
                    assert not CREDENTIAL_NAME.search(env["name"]), env
                    assert not CREDENTIAL_TEXT.search(env["value"]), env
                else:
                    assert set(env["valueFrom"]) <= {"secretKeyRef", "fieldRef"}, env


def _secret_refs(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ``{fromFile|fromEnv: ...}`` reference in the configuration."""
    if isinstance(node, dict):
        if node and set(node) <= {"fromFile", "fromEnv"}:
            yield path, node
            return
        for key, value in node.items():
            yield from _secret_refs(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _secret_refs(value, f"{path}[{index}]")


@pytest.mark.parametrize("directory", CONTROLLER_INSTALLS)
def test_the_configuration_follows_its_schema_and_holds_no_secret(directory: str) -> None:
    config = controller_config(render(directory))
    schema = json.loads((ROOT / "schemas/config.schema.json").read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(config)]
    assert errors == []
    refs = dict(_secret_refs(config))
    assert set(refs) >= {".github.app.privateKey", ".github.webhookSecret"}
    for path, ref in refs.items():
        # Files mounted from Secrets; never a value, and no other environment variable.
        assert list(ref) == ["fromFile"], path
        assert ref["fromFile"].startswith("/etc/sealgate/"), path
    assert "token" not in config["github"]
    assert not CREDENTIAL_TEXT.search(json.dumps(config))


# ---------------------------------------------------------------------------- Deployment


@pytest.mark.parametrize("directory", CONTROLLER_INSTALLS)
def test_the_deployment_runs_locked_down(directory: str) -> None:
    deployment = controller_deployment(render(directory))
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    pod_security = pod["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] == 10001
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(forbidden)
    assert all("hostPath" not in v for v in pod["volumes"])
    for container in pod_containers(deployment):
        security = container["securityContext"]
        assert security["runAsNonRoot"] is True, container["name"]
        assert security["runAsUser"] == pod_security["runAsUser"], container["name"]
        assert security["allowPrivilegeEscalation"] is False, container["name"]
        assert security["readOnlyRootFilesystem"] is True, container["name"]
        assert security["capabilities"] == {"drop": ["ALL"]}, container["name"]
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, container["name"]
        assert not security.get("privileged"), container["name"]
        for bound in ("requests", "limits"):
            assert set(container["resources"][bound]) == {"cpu", "memory"}, container["name"]
    tmp = mount_for(main_container(deployment), Path("/tmp"))
    assert tmp["mountPath"] == "/tmp"
    assert "emptyDir" in volume(deployment, tmp["name"])


@pytest.mark.parametrize("directory", CONTROLLER_INSTALLS)
def test_probes_and_the_service_use_the_configured_port(directory: str) -> None:
    objects = render(directory)
    deployment = controller_deployment(objects)
    container = main_container(deployment)
    (port,) = container["ports"]
    listen = controller_config(objects)["server"]["listen"]
    assert listen.rsplit(":", 1)[1] == str(port["containerPort"])
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    service = find(objects, "Service", "sealgate")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == [port["name"]]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for selector in (
        service["spec"]["selector"],
        find(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()


@pytest.mark.parametrize("directory", CONTROLLER_INSTALLS)
def test_the_disruption_budget_keeps_a_replica(directory: str) -> None:
    objects = render(directory)
    budget = find(objects, "PodDisruptionBudget")["spec"]
    replicas = controller_deployment(objects)["spec"]["replicas"]
    assert replicas - budget["maxUnavailable"] >= 1


@pytest.mark.parametrize("directory", CONTROLLER_INSTALLS)
def test_every_file_the_configuration_names_is_mounted_from_the_right_place(
    directory: str,
) -> None:
    objects = render(directory)
    config = controller_config(objects)
    deployment = controller_deployment(objects)
    container = main_container(deployment)

    def secret_key_at(path: str) -> tuple[str, str]:
        mount = mount_for(container, Path(path))
        source = volume(deployment, mount["name"])["secret"]
        relative = str(Path(path).relative_to(mount["mountPath"]))
        keys = {i["path"]: i["key"] for i in source.get("items", [])}
        return source["secretName"], keys.get(relative, relative)

    github = config["github"]
    assert secret_key_at(github["app"]["privateKey"]["fromFile"]) == (
        "sealgate-github",
        "private-key.pem",
    )
    assert secret_key_at(github["webhookSecret"]["fromFile"]) == (
        "sealgate-github",
        "webhook-secret",
    )
    for cluster in config["clusters"]:
        if cluster.get("inCluster"):
            continue
        assert secret_key_at(cluster["kubeconfig"]) == (
            "sealgate-clusters",
            f"{cluster['name']}.kubeconfig",
        )

    # The KEK: copied by the init container from the Secret into a memory volume.
    kek = config["keys"]["kek"]
    assert kek["provider"] == "local"
    kek_mount = mount_for(container, Path(kek["file"]))
    assert volume(deployment, kek_mount["name"])["emptyDir"]["medium"] == "Memory"
    (init,) = deployment["spec"]["template"]["spec"]["initContainers"]
    script = " ".join(init["command"])
    source = "/etc/sealgate/kek-source/kek"
    assert f"install -m 0400 {source} {kek['file']}" in script
    source_volume = volume(deployment, mount_for(init, Path(source))["name"])
    assert source_volume["secret"]["secretName"] == "sealgate-kek"
    assert source_volume["secret"]["items"] == [{"key": "kek", "path": "kek"}]
    assert f"ln -sfn {kek['file']} {config['keys']['dir']}/kek.key" in script

    # The store and the keyring are on the claim; nothing else is.
    claim = find(objects, "PersistentVolumeClaim")
    for path in (config["store"]["path"], config["keys"]["dir"]):
        mount = mount_for(container, Path(path))
        assert volume(deployment, mount["name"])["persistentVolumeClaim"] == {
            "claimName": claim["metadata"]["name"]
        }
        assert not mount.get("readOnly")
    env = {e["name"]: e for e in container["env"]}
    assert env["SEALGATE_KEY_DIR"]["value"] == config["keys"]["dir"]
    # The leader identity is the pod's name, so the Lease holder names a pod.
    assert env["SEALGATE_POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    for mount in container["volumeMounts"]:
        writable = mount["name"] in {"data", "tmp"}
        assert bool(mount.get("readOnly")) is not writable, mount


@pytest.mark.parametrize("directory", CONTROLLER_INSTALLS)
def test_leader_election_uses_the_controllers_own_namespace_and_cluster(directory: str) -> None:
    objects = render(directory)
    config = controller_config(objects)
    election = config["leaderElection"]
    assert election["enabled"] is True
    assert election["namespace"] == controller_deployment(objects)["metadata"]["namespace"]
    (home,) = [c for c in config["clusters"] if c.get("inCluster")]
    assert election["cluster"] == home["name"]
    role = find(objects, "Role", "sealgate-leader-election")
    assert role["metadata"]["namespace"] == election["namespace"]
    names = {n for rule in role["rules"] for n in rule.get("resourceNames", [])}
    assert names == {election["leaseName"]}


def test_single_and_multi_cluster_configurations_name_their_clusters() -> None:
    single = controller_config(render("deploy/overlays/single-cluster"))
    multi = controller_config(render("deploy/overlays/multi-cluster"))
    assert [c.get("inCluster") for c in single["clusters"]] == [True]
    assert len(multi["clusters"]) >= 2
    assert sum(bool(c.get("inCluster")) for c in multi["clusters"]) == 1
    for cluster in multi["clusters"]:
        assert set(cluster) in ({"name", "inCluster"}, {"name", "kubeconfig", "context"})


def test_the_multi_cluster_overlay_differs_only_by_clusters() -> None:
    single = controller_deployment(render("deploy/overlays/single-cluster"))
    multi = controller_deployment(render("deploy/overlays/multi-cluster"))
    single_mounts = {m["name"] for m in main_container(single)["volumeMounts"]}
    multi_mounts = {m["name"] for m in main_container(multi)["volumeMounts"]}
    assert multi_mounts - single_mounts == {"clusters"}
    assert single_mounts <= multi_mounts


def test_remote_clusters_get_an_identity_and_no_controller() -> None:
    objects = render("deploy/overlays/multi-cluster/remote")
    assert not [o for o in objects if o["kind"] in ("Deployment", "ConfigMap", "Service")]
    account = find(objects, "ServiceAccount", "sealgate")
    assert account["automountServiceAccountToken"] is False
    token = find(objects, "Secret", "sealgate-token")
    assert token["metadata"]["annotations"] == {"kubernetes.io/service-account.name": "sealgate"}
    assert token["metadata"]["namespace"] == account["metadata"]["namespace"]


# ------------------------------------------------------------------------------ examples


def test_the_examples_reach_the_controller_on_its_port() -> None:
    objects = render("deploy/examples")
    service = find(render("deploy"), "Service", "sealgate")
    deployment = controller_deployment(render("deploy"))
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    port = service["spec"]["ports"][0]

    monitor = find(objects, "ServiceMonitor")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == port["name"]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"

    policy = find(objects, "NetworkPolicy")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    allowed = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    assert allowed == {main_container(deployment)["ports"][0]["containerPort"]}

    # GitHub's public ingress reaches the webhook only; requesters' internal one reaches the
    # open endpoint and the status API only, each over TLS.
    backend = {"name": service["metadata"]["name"], "port": {"name": port["name"]}}
    for name, wanted in (
        ("sealgate-webhooks", [("/webhooks", "Exact")]),
        ("sealgate-open", [("/v1/open", "Exact"), ("/v1/requests", "Prefix")]),
    ):
        ingress = find(objects, "Ingress", name)
        assert ingress["spec"]["tls"], name
        (paths,) = [rule["http"]["paths"] for rule in ingress["spec"]["rules"]]
        assert [(p["path"], p["pathType"]) for p in paths] == wanted
        assert all(p["backend"]["service"] == backend for p in paths)
    assert (
        find(objects, "Ingress", "sealgate-open")["spec"]["ingressClassName"]
        != find(objects, "Ingress", "sealgate-webhooks")["spec"]["ingressClassName"]
    )
    for obj in objects:
        assert obj["metadata"]["namespace"] == deployment["metadata"]["namespace"]


def test_the_guide_says_how_to_create_every_secret_the_deployment_reads() -> None:
    guide = (ROOT / "docs/production.md").read_text()
    names: set[str] = set()
    for directory in CONTROLLER_INSTALLS:
        for container in pod_containers(controller_deployment(render(directory))):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    names.add(ref["name"])
        pod = controller_deployment(render(directory))["spec"]["template"]["spec"]
        names |= {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert names == {"sealgate-github", "sealgate-kek", "sealgate-clusters", "sealgate-smtp"}
    for name in names:
        assert re.search(rf"kubectl .*create secret generic {name}\b", guide), name


def test_rendered_objects_are_json() -> None:
    # kubectl and admission webhooks see JSON: nothing YAML-only (dates, octal) may slip in.
    for directory in INSTALLS:
        for obj in render(directory):
            assert json.loads(json.dumps(obj)) == obj
