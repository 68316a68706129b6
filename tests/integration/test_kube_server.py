"""The loopback Kubernetes API server, driven by the real ``kubernetes`` client over HTTP.

Every response body is checked against the official API description before the client
deserializes it (``call`` and ``failure`` below), so the server cannot drift into shapes a
real cluster would never send.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, dynamic, watch
from kubernetes.client.exceptions import ApiException

from controller.sandbox.kube_server import KubeApiServer
from tests.api_specs import k8s_validator, problems

# Client model name -> the definition in the official description its JSON must match.
DEFINITIONS = {
    "V1Secret": "io.k8s.api.core.v1.Secret",
    "V1SecretList": "io.k8s.api.core.v1.SecretList",
    "V1Namespace": "io.k8s.api.core.v1.Namespace",
    "CoreV1Event": "io.k8s.api.core.v1.Event",
    "V1Deployment": "io.k8s.api.apps.v1.Deployment",
    "V1DeploymentList": "io.k8s.api.apps.v1.DeploymentList",
    "V1StatefulSet": "io.k8s.api.apps.v1.StatefulSet",
    "V1StatefulSetList": "io.k8s.api.apps.v1.StatefulSetList",
    "V1DaemonSet": "io.k8s.api.apps.v1.DaemonSet",
    "V1DaemonSetList": "io.k8s.api.apps.v1.DaemonSetList",
    "V1Lease": "io.k8s.api.coordination.v1.Lease",
    "V1Status": "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
}
# Lists the description lacks: each item is checked against its kind instead.
ITEM_DEFINITIONS = {
    "V1NamespaceList": "V1Namespace",
    "CoreV1EventList": "CoreV1Event",
    "V1LeaseList": "V1Lease",
}
WAIT_LIMIT_SECONDS = 10.0
# The client's loader and watcher carry no annotations; these names give them types.
load_kube_config: Callable[..., None] = config.load_kube_config
new_watch: Callable[[], Any] = watch.Watch
new_dynamic_client: Callable[..., Any] = dynamic.DynamicClient


def assert_valid(model: str, body: Any) -> None:
    if model in ITEM_DEFINITIONS:
        assert body["kind"].endswith("List")
        assert body["metadata"]["resourceVersion"].isdigit()
        for item in body["items"]:
            assert_valid(ITEM_DEFINITIONS[model], item)
        return
    assert problems(k8s_validator(DEFINITIONS[model]), body) == []


def call(api: Any, model: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a client method, validate the raw body, then deserialize it as the client would."""
    response = method(*args, _preload_content=False, **kwargs)
    text = response.data.decode()
    assert_valid(model, json.loads(text))
    return api.deserialize(text, model, "application/json")


def failure(code: int, method: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call a client method that must fail; returns the validated ``Status`` body."""
    with pytest.raises(ApiException) as caught:
        method(*args, _preload_content=False, **kwargs)
    assert caught.value.status == code
    assert caught.value.body is not None
    body: dict[str, Any] = json.loads(caught.value.body)
    assert_valid("V1Status", body)
    assert body["kind"] == "Status"
    assert body["status"] == "Failure"
    assert body["code"] == code
    return body


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer(rollout_seconds=0.3) as srv:
        yield srv


@pytest.fixture
def api(server: KubeApiServer, tmp_path: Path) -> Iterator[Any]:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", namespace="apps")
    configuration = client.Configuration()
    load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api_client:
        yield api_client


@pytest.fixture
def core(api: Any, server: KubeApiServer) -> Any:
    server.create_namespace("apps")
    return client.CoreV1Api(api)


@pytest.fixture
def apps(api: Any, server: KubeApiServer) -> Any:
    server.create_namespace("apps")
    return client.AppsV1Api(api)


def secret(name: str, labels: dict[str, str] | None = None, **data: str) -> Any:
    return client.V1Secret(metadata=client.V1ObjectMeta(name=name, labels=labels), string_data=data)


def pod_template(app: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "registry.example/app:1",
                    "ports": [{"containerPort": 80}],
                },
                {"name": "sidecar", "image": "registry.example/proxy:1"},
            ]
        },
    }


def workload(kind: str, name: str, replicas: int = 3) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": pod_template(name),
    }
    if kind != "DaemonSet":
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "apps"},
        "spec": spec,
    }


def rv(obj: Any) -> int:
    return int(obj.metadata.resource_version)


# --- Secrets: the full life cycle ------------------------------------------------------


def test_secret_create_read_replace_list_delete(core: Any, api: Any) -> None:
    created = call(
        api, "V1Secret", core.create_namespaced_secret, "apps", secret("db", password="hunter2")
    )
    assert created.type == "Opaque"
    assert created.string_data is None
    assert base64.b64decode(created.data["password"]) == b"hunter2"
    assert created.metadata.uid
    assert created.metadata.creation_timestamp is not None
    assert created.metadata.namespace == "apps"

    read = call(api, "V1Secret", core.read_namespaced_secret, "db", "apps")
    assert read.metadata.resource_version == created.metadata.resource_version

    read.data["user"] = base64.b64encode(b"admin").decode()
    replaced = call(api, "V1Secret", core.replace_namespaced_secret, "db", "apps", read)
    assert rv(replaced) > rv(created)
    assert set(replaced.data) == {"password", "user"}
    assert replaced.metadata.uid == created.metadata.uid

    listed = call(api, "V1SecretList", core.list_namespaced_secret, "apps")
    assert [s.metadata.name for s in listed.items] == ["db"]
    assert int(listed.metadata.resource_version) >= rv(replaced)

    deleted = call(api, "V1Status", core.delete_namespaced_secret, "db", "apps")
    assert deleted.status == "Success"
    gone = failure(404, core.read_namespaced_secret, "db", "apps")
    assert gone["reason"] == "NotFound"
    assert gone["message"] == 'secrets "db" not found'
    assert gone["details"] == {"name": "db", "kind": "secrets"}


def test_creating_an_existing_secret_is_already_exists(core: Any, api: Any) -> None:
    call(api, "V1Secret", core.create_namespaced_secret, "apps", secret("db", a="1"))
    status = failure(409, core.create_namespaced_secret, "apps", secret("db", a="2"))
    assert status["reason"] == "AlreadyExists"


def test_a_stale_resource_version_is_a_conflict(core: Any, api: Any) -> None:
    first = call(api, "V1Secret", core.create_namespaced_secret, "apps", secret("db", a="1"))
    fresh = call(api, "V1Secret", core.read_namespaced_secret, "db", "apps")
    fresh.data = {"a": base64.b64encode(b"2").decode()}
    call(api, "V1Secret", core.replace_namespaced_secret, "db", "apps", fresh)

    first.data = {"a": base64.b64encode(b"3").decode()}
    status = failure(409, core.replace_namespaced_secret, "db", "apps", first)
    assert status["reason"] == "Conflict"
    assert "the object has been modified" in status["message"]

    # Without a resourceVersion the update is unconditional, as for real Secrets.
    first.metadata.resource_version = None
    last = call(api, "V1Secret", core.replace_namespaced_secret, "db", "apps", first)
    assert base64.b64decode(last.data["a"]) == b"3"


def test_resource_versions_rise_across_kinds_and_namespaces(
    core: Any, apps: Any, api: Any, server: KubeApiServer
) -> None:
    server.create_namespace("other")
    versions = [
        rv(call(api, "V1Secret", core.create_namespaced_secret, "apps", secret("a", k="v"))),
        rv(call(api, "V1Deployment", apps.create_namespaced_deployment, "apps",
                client.V1Deployment.from_dict(workload("Deployment", "web")))),
        rv(call(api, "V1Secret", core.create_namespaced_secret, "other", secret("b", k="v"))),
    ]  # fmt: skip
    assert versions == sorted(versions)
    assert len(set(versions)) == 3


def test_secret_data_must_be_base64_and_type_is_immutable(core: Any, api: Any) -> None:
    bad = client.V1Secret(metadata=client.V1ObjectMeta(name="bad"), data={"k": "not base64!"})
    status = failure(422, core.create_namespaced_secret, "apps", bad)
    assert status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "data[k]"

    created = call(api, "V1Secret", core.create_namespaced_secret, "apps", secret("tls", k="v"))
    created.type = "kubernetes.io/tls"
    assert failure(422, core.replace_namespaced_secret, "tls", "apps", created)["reason"] == (
        "Invalid"
    )


def test_objects_need_an_existing_namespace_and_a_valid_name(core: Any) -> None:
    status = failure(404, core.create_namespaced_secret, "nowhere", secret("db", k="v"))
    assert status["message"] == 'namespaces "nowhere" not found'
    assert (
        failure(422, core.create_namespaced_secret, "apps", secret("Not_Valid", k="v"))["details"][
            "causes"
        ][0]["field"]
        == "metadata.name"
    )


# --- lists and selectors ---------------------------------------------------------------


def test_label_and_field_selectors(core: Any, api: Any) -> None:
    for name, labels in {
        "a": {"tier": "critical", "team": "pay"},
        "b": {"tier": "standard", "team": "pay"},
        "c": {"tier": "sensitive"},
        "d": {},
    }.items():
        call(api, "V1Secret", core.create_namespaced_secret, "apps", secret(name, labels, k="v"))

    def names(**selectors: str) -> list[str]:
        listed = call(api, "V1SecretList", core.list_namespaced_secret, "apps", **selectors)
        return [item.metadata.name for item in listed.items]

    assert names(label_selector="team=pay") == ["a", "b"]
    assert names(label_selector="team==pay,tier!=critical") == ["b"]
    assert names(label_selector="tier in (critical, sensitive)") == ["a", "c"]
    assert names(label_selector="tier notin (critical,sensitive)") == ["b", "d"]
    assert names(label_selector="team") == ["a", "b"]
    assert names(label_selector="!team") == ["c", "d"]
    assert names(label_selector="team=pay,tier in (standard)") == ["b"]
    assert names(field_selector="metadata.name=c") == ["c"]
    assert names(field_selector="metadata.name!=c,type=Opaque") == ["a", "b", "d"]
    status = failure(400, core.list_namespaced_secret, "apps", label_selector="tier in (a")
    assert status["reason"] == "BadRequest"


def test_cluster_wide_lists_and_pages(core: Any, api: Any, server: KubeApiServer) -> None:
    for namespace in ("apps", "batch"):
        server.create_namespace(namespace)
        for index in range(3):
            core.create_namespaced_secret(namespace, secret(f"s{index}", k="v"))
    everything = call(api, "V1SecretList", core.list_secret_for_all_namespaces)
    assert [(s.metadata.namespace, s.metadata.name) for s in everything.items] == [
        (ns, f"s{i}") for ns in ("apps", "batch") for i in range(3)
    ]
    seen: list[str] = []
    token = None
    while True:
        page = call(
            api, "V1SecretList", core.list_secret_for_all_namespaces, limit=4, _continue=token
        )
        seen += [f"{s.metadata.namespace}/{s.metadata.name}" for s in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert len(seen) == 6
    assert len(set(seen)) == 6


# --- workloads: generation, patches, rollouts ------------------------------------------


def test_generation_counts_spec_changes_only(apps: Any, api: Any) -> None:
    body = client.V1Deployment.from_dict(workload("Deployment", "web"))
    created = call(api, "V1Deployment", apps.create_namespaced_deployment, "apps", body)
    assert created.metadata.generation == 1
    assert created.status.observed_generation == 1

    labelled = call(
        api, "V1Deployment", apps.patch_namespaced_deployment, "web", "apps",
        {"metadata": {"labels": {"owner": "pay"}}},
        _content_type="application/merge-patch+json",
    )  # fmt: skip
    assert labelled.metadata.generation == 1

    status_only = call(
        api, "V1Deployment", apps.patch_namespaced_deployment_status, "web", "apps",
        {"status": {"collisionCount": 1}},
        _content_type="application/merge-patch+json",
    )  # fmt: skip
    assert status_only.metadata.generation == 1
    assert status_only.status.collision_count == 1

    scaled = call(
        api, "V1Deployment", apps.patch_namespaced_deployment, "web", "apps",
        {"spec": {"replicas": 5}},
        _content_type="application/merge-patch+json",
    )  # fmt: skip
    assert scaled.metadata.generation == 2
    assert scaled.status.observed_generation == 2


def test_main_resource_writes_cannot_change_status(apps: Any, api: Any) -> None:
    created = call(
        api, "V1Deployment", apps.create_namespaced_deployment, "apps",
        client.V1Deployment.from_dict(workload("Deployment", "web")),
    )  # fmt: skip
    created.status.replicas = 99
    replaced = call(api, "V1Deployment", apps.replace_namespaced_deployment, "web", "apps", created)
    assert replaced.status.replicas == 3


def test_strategic_merge_patch_merges_containers_by_name(apps: Any, api: Any) -> None:
    apps.create_namespaced_deployment(
        "apps", client.V1Deployment.from_dict(workload("Deployment", "web"))
    )
    patched = call(
        api, "V1Deployment", apps.patch_namespaced_deployment, "web", "apps",
        {"spec": {"template": {
            "metadata": {"annotations": {"sealgate.dev/checksum": "abc"}},
            "spec": {"containers": [{"name": "sidecar", "image": "registry.example/proxy:2"}]},
        }}},
        _content_type="application/strategic-merge-patch+json",
    )  # fmt: skip
    template = patched.spec.template
    assert template.metadata.annotations == {"sealgate.dev/checksum": "abc"}
    assert template.metadata.labels == {"app": "web"}
    assert [(c.name, c.image) for c in template.spec.containers] == [
        ("main", "registry.example/app:1"),
        ("sidecar", "registry.example/proxy:2"),
    ]
    assert patched.metadata.generation == 2

    # A JSON merge patch replaces the list instead.
    merged = call(
        api, "V1Deployment", apps.patch_namespaced_deployment, "web", "apps",
        {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x:1"}]}}}},
        _content_type="application/merge-patch+json",
    )  # fmt: skip
    assert [c.name for c in merged.spec.template.spec.containers] == ["only"]

    annotated = call(
        api, "V1Deployment", apps.patch_namespaced_deployment, "web", "apps",
        [{"op": "add", "path": "/metadata/annotations", "value": {"note": "json patch"}}],
        _content_type="application/json-patch+json",
    )  # fmt: skip
    assert annotated.metadata.annotations == {"note": "json patch"}

    status = failure(
        422, apps.patch_namespaced_deployment, "web", "apps",
        [{"op": "remove", "path": "/metadata/labels/missing"}],
        _content_type="application/json-patch+json",
    )  # fmt: skip
    assert status["reason"] == "Invalid"


def wait_for(read: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    """Read until ``done``; fails the test after a generous limit instead of hanging."""
    give_up = time.monotonic() + WAIT_LIMIT_SECONDS
    while True:
        current = read()
        if done(current):
            return current
        assert time.monotonic() < give_up, f"never reached the expected state: {current}"
        time.sleep(0.03)


def deployment_rolled_out(deployment: Any) -> bool:
    status = deployment.status
    progressing = {c.type: c for c in status.conditions or []}.get("Progressing")
    return bool(
        status.observed_generation == deployment.metadata.generation
        and status.updated_replicas == deployment.spec.replicas
        and status.ready_replicas == deployment.spec.replicas
        and status.available_replicas == deployment.spec.replicas
        and status.replicas == deployment.spec.replicas
        and progressing is not None
        and progressing.reason == "NewReplicaSetAvailable"
    )


def restart_patch() -> dict[str, Any]:
    return {
        "spec": {"template": {"metadata": {"annotations": {"sealgate.dev/restartedAt": "now"}}}}
    }


def test_a_template_patch_rolls_a_deployment_out(
    apps: Any, api: Any, server: KubeApiServer
) -> None:
    created = call(
        api, "V1Deployment", apps.create_namespaced_deployment, "apps",
        client.V1Deployment.from_dict(workload("Deployment", "web")),
    )  # fmt: skip
    assert deployment_rolled_out(created)
    assert server.rollout_count("apps", "Deployment", "web") == 0

    patched = call(
        api, "V1Deployment", apps.patch_namespaced_deployment, "web", "apps", restart_patch(),
        _content_type="application/strategic-merge-patch+json",
    )  # fmt: skip
    assert patched.metadata.generation == 2
    assert not deployment_rolled_out(patched)
    assert patched.status.updated_replicas < 3

    seen_updated = {patched.status.updated_replicas}

    def read() -> Any:
        current = call(api, "V1Deployment", apps.read_namespaced_deployment, "web", "apps")
        seen_updated.add(current.status.updated_replicas or 0)
        return current

    done = wait_for(read, deployment_rolled_out)
    assert done.status.observed_generation == 2
    assert len(seen_updated) >= 2, "the rollout should pass through intermediate steps"
    assert server.rollout_count("apps", "Deployment", "web") == 1

    # Re-applying the same template is no rollout.
    call(
        api, "V1Deployment", apps.patch_namespaced_deployment, "web", "apps", restart_patch(),
        _content_type="application/strategic-merge-patch+json",
    )  # fmt: skip
    assert server.rollout_count("apps", "Deployment", "web") == 1


def test_statefulsets_and_daemonsets_roll_out(apps: Any, api: Any, server: KubeApiServer) -> None:
    call(
        api, "V1StatefulSet", apps.create_namespaced_stateful_set, "apps",
        client.V1StatefulSet.from_dict(workload("StatefulSet", "db")),
    )  # fmt: skip
    call(
        api, "V1DaemonSet", apps.create_namespaced_daemon_set, "apps",
        client.V1DaemonSet.from_dict(workload("DaemonSet", "agent")),
    )  # fmt: skip
    sts = call(
        api, "V1StatefulSet", apps.patch_namespaced_stateful_set, "db", "apps", restart_patch(),
        _content_type="application/strategic-merge-patch+json",
    )  # fmt: skip
    assert sts.status.update_revision != sts.status.current_revision
    ds = call(
        api, "V1DaemonSet", apps.patch_namespaced_daemon_set, "agent", "apps", restart_patch(),
        _content_type="application/strategic-merge-patch+json",
    )  # fmt: skip
    assert (ds.status.updated_number_scheduled or 0) < ds.status.desired_number_scheduled

    def sts_done(s: Any) -> bool:
        return bool(
            s.status.observed_generation == s.metadata.generation
            and s.status.updated_replicas == s.status.ready_replicas == s.spec.replicas
            and s.status.current_revision == s.status.update_revision
        )

    def ds_done(d: Any) -> bool:
        return bool(
            d.status.observed_generation == d.metadata.generation
            and d.status.updated_number_scheduled
            == d.status.number_available
            == d.status.desired_number_scheduled
        )

    wait_for(lambda: call(api, "V1StatefulSet", apps.read_namespaced_stateful_set, "db", "apps"),
             sts_done)  # fmt: skip
    wait_for(lambda: call(api, "V1DaemonSet", apps.read_namespaced_daemon_set, "agent", "apps"),
             ds_done)  # fmt: skip
    assert server.rollout_count("apps", "StatefulSet", "db") == 1
    assert server.rollout_count("apps", "DaemonSet", "agent") == 1
    listed = call(api, "V1StatefulSetList", apps.list_namespaced_stateful_set, "apps")
    assert [s.metadata.name for s in listed.items] == ["db"]
    listed_ds = call(api, "V1DaemonSetList", apps.list_daemon_set_for_all_namespaces)
    assert [d.metadata.name for d in listed_ds.items] == ["agent"]


def test_a_failing_rollout_exceeds_its_progress_deadline(
    apps: Any, api: Any, server: KubeApiServer
) -> None:
    server.put(workload("Deployment", "web"))
    server.fail_rollouts("apps", "Deployment", "web", message="image pull back-off")
    apps.patch_namespaced_deployment(
        "web", "apps", restart_patch(), _content_type="application/strategic-merge-patch+json"
    )

    def stuck(deployment: Any) -> bool:
        progressing = {c.type: c for c in deployment.status.conditions}["Progressing"]
        return bool(progressing.status == "False")

    failed = wait_for(
        lambda: call(api, "V1Deployment", apps.read_namespaced_deployment, "web", "apps"), stuck
    )
    progressing = {c.type: c for c in failed.status.conditions}["Progressing"]
    assert progressing.reason == "ProgressDeadlineExceeded"
    assert progressing.message == "image pull back-off"
    assert failed.status.updated_replicas < failed.spec.replicas
    assert not deployment_rolled_out(failed)

    server.heal_rollouts("apps", "Deployment", "web")
    wait_for(
        lambda: call(api, "V1Deployment", apps.read_namespaced_deployment, "web", "apps"),
        deployment_rolled_out,
    )


def test_deployment_list_and_delete(apps: Any, api: Any, server: KubeApiServer) -> None:
    server.put(workload("Deployment", "web"))
    server.put(workload("Deployment", "worker"))
    listed = call(api, "V1DeploymentList", apps.list_deployment_for_all_namespaces)
    assert [d.metadata.name for d in listed.items] == ["web", "worker"]
    call(api, "V1Status", apps.delete_namespaced_deployment, "web", "apps")
    assert server.get("apps/v1", "Deployment", "apps", "web") is None
    assert failure(404, apps.read_namespaced_deployment, "web", "apps")["details"] == {
        "name": "web",
        "group": "apps",
        "kind": "deployments",
    }


# --- leases, events, namespaces ----------------------------------------------------------


def test_lease_updates_conflict_when_stale(api: Any, server: KubeApiServer) -> None:
    server.create_namespace("apps")
    coordination = client.CoordinationV1Api(api)
    lease = client.V1Lease(
        metadata=client.V1ObjectMeta(name="sealgate-leader"),
        spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15),
    )
    created = call(api, "V1Lease", coordination.create_namespaced_lease, "apps", lease)
    taken = call(api, "V1Lease", coordination.read_namespaced_lease, "sealgate-leader", "apps")
    taken.spec.holder_identity = "b"
    call(api, "V1Lease", coordination.replace_namespaced_lease, "sealgate-leader", "apps", taken)
    created.spec.holder_identity = "c"
    failure(409, coordination.replace_namespaced_lease, "sealgate-leader", "apps", created)
    listed = call(api, "V1LeaseList", coordination.list_namespaced_lease, "apps")
    assert [item.spec.holder_identity for item in listed.items] == ["b"]


def test_events_are_creatable_and_found_by_involved_object(core: Any, api: Any) -> None:
    for target in ("db", "cache"):
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{target}."),
            involved_object=client.V1ObjectReference(
                kind="Secret", name=target, namespace="apps", api_version="v1"
            ),
            reason="Synced",
            message="synced by sealgate",
            type="Normal",
        )
        created = call(api, "CoreV1Event", core.create_namespaced_event, "apps", event)
        assert created.metadata.name.startswith(f"{target}.")
    found = call(
        api, "CoreV1EventList", core.list_namespaced_event, "apps",
        field_selector="involvedObject.name=db,involvedObject.kind=Secret",
    )  # fmt: skip
    assert [e.involved_object.name for e in found.items] == ["db"]


def test_namespaces_list_and_cascade_delete(core: Any, api: Any, server: KubeApiServer) -> None:
    created = call(
        api, "V1Namespace", core.create_namespace,
        client.V1Namespace(metadata=client.V1ObjectMeta(name="team-a")),
    )  # fmt: skip
    assert created.status.phase == "Active"
    core.create_namespaced_secret("team-a", secret("db", k="v"))
    names = [n.metadata.name for n in call(api, "V1NamespaceList", core.list_namespace).items]
    assert {"default", "kube-system", "apps", "team-a"} <= set(names)
    call(api, "V1Status", core.delete_namespace, "team-a")
    assert server.list("v1", "Secret", "team-a") == []
    assert failure(403, core.delete_namespace, "default")["reason"] == "Forbidden"


# --- watches -----------------------------------------------------------------------------


def test_watch_streams_changes_from_a_resource_version(core: Any, api: Any) -> None:
    start = call(api, "V1SecretList", core.list_namespaced_secret, "apps")
    core.create_namespaced_secret("apps", secret("db", k="1"))
    core.patch_namespaced_secret(
        "db", "apps", {"stringData": {"k": "2"}}, _content_type="application/merge-patch+json"
    )
    core.delete_namespaced_secret("db", "apps")
    seen = []
    watcher = new_watch()
    for event in watcher.stream(
        core.list_namespaced_secret,
        "apps",
        resource_version=start.metadata.resource_version,
        timeout_seconds=5,
        _preload_content=False,
    ):
        assert_valid("V1Secret", event["raw_object"])
        seen.append((event["type"], event["raw_object"]["metadata"]["name"]))
        if len(seen) == 3:
            watcher.stop()
    assert seen == [("ADDED", "db"), ("MODIFIED", "db"), ("DELETED", "db")]


# --- faults ----------------------------------------------------------------------------


def test_forbidden_is_per_verb_resource_and_namespace(
    core: Any, api: Any, server: KubeApiServer
) -> None:
    server.create_namespace("other")
    server.forbid("get", "secrets", "apps")
    call(api, "V1Secret", core.create_namespaced_secret, "apps", secret("db", k="v"))
    call(api, "V1Secret", core.create_namespaced_secret, "other", secret("db", k="v"))
    status = failure(403, core.read_namespaced_secret, "db", "apps")
    assert status["reason"] == "Forbidden"
    assert (
        'cannot get resource "secrets" in API group "" in the namespace "apps"'
        in (status["message"])
    )
    call(api, "V1Secret", core.read_namespaced_secret, "db", "other")
    call(api, "V1SecretList", core.list_namespaced_secret, "apps")
    server.clear_faults()
    call(api, "V1Secret", core.read_namespaced_secret, "db", "apps")


def test_injected_server_errors_are_spent_then_normal_service_resumes(
    core: Any, api: Any, server: KubeApiServer
) -> None:
    server.inject_faults(status=503, count=2, verb="list", resource="secrets")
    assert failure(503, core.list_namespaced_secret, "apps")["reason"] == "ServiceUnavailable"
    call(api, "V1Secret", core.create_namespaced_secret, "apps", secret("db", k="v"))
    assert failure(503, core.list_namespaced_secret, "apps")["reason"] == "ServiceUnavailable"
    call(api, "V1SecretList", core.list_namespaced_secret, "apps")

    server.inject_faults(status=500, count=1)
    assert failure(500, core.read_namespaced_secret, "db", "apps")["reason"] == "InternalError"

    server.inject_faults(status=429, count=1, verb="create")
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret("apps", secret("other", k="v"))
    assert caught.value.status == 429
    assert caught.value.headers is not None
    assert caught.value.headers["Retry-After"] == "1"
    assert caught.value.body is not None
    assert_valid("V1Status", json.loads(caught.value.body))

    server.inject_faults(status=409, count=1, verb="update", resource="secrets")
    current = core.read_namespaced_secret("db", "apps")
    assert failure(409, core.replace_namespaced_secret, "db", "apps", current)["reason"] == (
        "Conflict"
    )
    call(api, "V1Secret", core.replace_namespaced_secret, "db", "apps", current)


def test_delay_only_faults_are_spent_like_others_but_answer_normally(
    core: Any, api: Any, server: KubeApiServer
) -> None:
    # Faults are used in the order given: the slow answer comes first, then the error.
    server.inject_faults(status=200, count=1, verb="list", delay_seconds=0.05)
    server.inject_faults(status=503, count=1, verb="list", delay_seconds=0.01)
    call(api, "V1SecretList", core.list_namespaced_secret, "apps")
    failure(503, core.list_namespaced_secret, "apps")
    call(api, "V1SecretList", core.list_namespaced_secret, "apps")
    assert [r.status for r in server.request_log[-3:]] == [200, 503, 200]


def test_the_request_log_names_kubernetes_verbs(core: Any, api: Any, server: KubeApiServer) -> None:
    server.reset_request_log()
    core.create_namespaced_secret("apps", secret("db", k="v"))
    core.read_namespaced_secret("db", "apps")
    core.list_namespaced_secret("apps")
    core.patch_namespaced_secret(
        "db", "apps", {"metadata": {"labels": {"a": "b"}}},
        _content_type="application/merge-patch+json",
    )  # fmt: skip
    core.replace_namespaced_secret("db", "apps", core.read_namespaced_secret("db", "apps"))
    core.delete_namespaced_secret("db", "apps")
    verbs = [(r.verb, r.resource, r.namespace, r.name, r.status) for r in server.request_log]
    assert verbs == [
        ("create", "secrets", "apps", None, 201),
        ("get", "secrets", "apps", "db", 200),
        ("list", "secrets", "apps", None, 200),
        ("patch", "secrets", "apps", "db", 200),
        ("get", "secrets", "apps", "db", 200),
        ("update", "secrets", "apps", "db", 200),
        ("delete", "secrets", "apps", "db", 200),
    ]
    assert all(r.user_agent for r in server.request_log)


# --- semantics controllers lean on -------------------------------------------------------


def test_an_unchanged_write_keeps_its_resource_version(core: Any, api: Any) -> None:
    created = call(api, "V1Secret", core.create_namespaced_secret, "apps", secret("db", k="v"))
    created.metadata.resource_version = None
    again = call(api, "V1Secret", core.replace_namespaced_secret, "db", "apps", created)
    assert again.metadata.resource_version == created_rv(core)
    patched = call(
        api, "V1Secret", core.patch_namespaced_secret, "db", "apps", {"type": "Opaque"},
        _content_type="application/merge-patch+json",
    )  # fmt: skip
    assert patched.metadata.resource_version == again.metadata.resource_version


def created_rv(core: Any) -> str:
    return str(core.read_namespaced_secret("db", "apps").metadata.resource_version)


def test_dry_run_checks_everything_and_stores_nothing(
    core: Any, api: Any, server: KubeApiServer
) -> None:
    dry = call(
        api, "V1Secret", core.create_namespaced_secret, "apps", secret("db", k="v"), dry_run="All"
    )
    assert dry.metadata.uid
    assert server.get("v1", "Secret", "apps", "db") is None
    call(api, "V1Secret", core.create_namespaced_secret, "apps", secret("db", k="v"))
    before = server.get("v1", "Secret", "apps", "db")
    call(
        api, "V1Secret", core.patch_namespaced_secret, "db", "apps", {"stringData": {"k": "w"}},
        dry_run="All", _content_type="application/merge-patch+json",
    )  # fmt: skip
    call(api, "V1Status", core.delete_namespaced_secret, "db", "apps", dry_run="All")
    assert server.get("v1", "Secret", "apps", "db") == before
    failure(409, core.create_namespaced_secret, "apps", secret("db", k="v"), dry_run="All")


def test_delete_preconditions_and_delete_collection(
    core: Any, api: Any, server: KubeApiServer
) -> None:
    for name in ("a", "b", "c"):
        core.create_namespaced_secret("apps", secret(name, {"batch": "1" if name < "c" else "2"}))
    wrong = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="not-the-uid"))
    status = failure(409, core.delete_namespaced_secret, "a", "apps", body=wrong)
    assert "Precondition failed" in status["message"]
    call(
        api, "V1Status", core.delete_collection_namespaced_secret, "apps", label_selector="batch=1"
    )
    assert [s["metadata"]["name"] for s in server.list("v1", "Secret", "apps")] == ["c"]


def test_concurrent_writers_see_conflicts_and_lose_no_update(
    core: Any, server: KubeApiServer
) -> None:
    """Read-modify-write with retry on 409, from several threads: every increment lands."""
    server.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "counter", "namespace": "apps", "annotations": {"n": "0"}},
        }
    )
    conflicts: list[int] = []

    def increment(times: int) -> None:
        for _ in range(times):
            while True:
                current = core.read_namespaced_secret("counter", "apps")
                current.metadata.annotations["n"] = str(int(current.metadata.annotations["n"]) + 1)
                try:
                    core.replace_namespaced_secret("counter", "apps", current)
                    break
                except ApiException as exc:
                    conflicts.append(exc.status)

    threads = [threading.Thread(target=increment, args=(10,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = server.get("v1", "Secret", "apps", "counter")
    assert stored is not None
    assert stored["metadata"]["annotations"]["n"] == "40"
    assert set(conflicts) <= {409}
    assert sum(r.status == 409 for r in server.request_log) == len(conflicts)


def test_lease_times_come_back_in_canonical_form(api: Any, server: KubeApiServer) -> None:
    server.create_namespace("apps")
    coordination = client.CoordinationV1Api(api)
    renewed = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    lease = client.V1Lease(
        metadata=client.V1ObjectMeta(name="leader"),
        spec=client.V1LeaseSpec(holder_identity="a", renew_time=renewed, acquire_time=renewed),
    )
    created = call(api, "V1Lease", coordination.create_namespaced_lease, "apps", lease)
    assert created.spec.renew_time == renewed
    stored = server.get("coordination.k8s.io/v1", "Lease", "apps", "leader")
    assert stored is not None
    assert stored["spec"]["renewTime"] == "2030-01-02T03:04:05.678901Z"


def test_a_watch_without_a_resource_version_starts_with_the_current_state(
    core: Any, api: Any
) -> None:
    core.create_namespaced_secret("apps", secret("a", {"team": "pay"}, k="v"))
    core.create_namespaced_secret("apps", secret("b", {"team": "search"}, k="v"))
    watcher = new_watch()
    seen = []
    for event in watcher.stream(
        core.list_namespaced_secret,
        "apps",
        label_selector="team=pay",
        timeout_seconds=5,
        _preload_content=False,
    ):
        seen.append((event["type"], event["raw_object"]["metadata"]["name"]))
        if len(seen) == 1:
            core.create_namespaced_secret("apps", secret("c", {"team": "search"}, k="v"))
            core.create_namespaced_secret("apps", secret("d", {"team": "pay"}, k="v"))
        if len(seen) == 2:
            watcher.stop()
    assert seen == [("ADDED", "a"), ("ADDED", "d")]


def test_discovery_serves_the_dynamic_client_and_version(api: Any, tmp_path: Path) -> None:
    dynamic_client = new_dynamic_client(api, cache_file=str(tmp_path / "discovery.json"))
    deployments = dynamic_client.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.namespaced
    assert "status" in deployments.subresources
    leases = dynamic_client.resources.get(api_version="coordination.k8s.io/v1", kind="Lease")
    assert leases.name == "leases"
    namespaces = dynamic_client.resources.get(api_version="v1", kind="Namespace")
    assert not namespaces.namespaced
    assert "default" in [n.metadata.name for n in namespaces.get().items]
    assert client.VersionApi(api).get_code().major == "1"


def test_a_selector_watch_sees_objects_enter_and_leave_its_selection(core: Any, api: Any) -> None:
    start = call(api, "V1SecretList", core.list_namespaced_secret, "apps")
    core.create_namespaced_secret("apps", secret("db", {"team": "search"}, k="v"))

    def relabel(team: str) -> None:
        core.patch_namespaced_secret(
            "db", "apps", {"metadata": {"labels": {"team": team}}},
            _content_type="application/merge-patch+json",
        )  # fmt: skip

    relabel("pay")
    relabel("pay-too")
    relabel("search")
    watcher = new_watch()
    seen = []
    for event in watcher.stream(
        core.list_namespaced_secret,
        "apps",
        label_selector="team in (pay, pay-too)",
        resource_version=start.metadata.resource_version,
        timeout_seconds=5,
        _preload_content=False,
    ):
        seen.append(event["type"])
        if len(seen) == 3:
            watcher.stop()
    assert seen == ["ADDED", "MODIFIED", "DELETED"]


# --- server-side apply ---------------------------------------------------------------------


def applied_secret(**data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "labels": {"app.kubernetes.io/managed-by": "sealgate"}},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def test_server_side_apply_creates_prunes_and_guards_other_managers_fields(
    core: Any, api: Any, server: KubeApiServer
) -> None:
    def apply(manager: str, body: dict[str, Any], **options: Any) -> Any:
        return call(
            api, "V1Secret", core.patch_namespaced_secret, "db", "apps", body,
            field_manager=manager, _content_type="application/apply-patch+yaml", **options,
        )  # fmt: skip

    created = apply("sealgate", applied_secret(a="1", b="2"))
    assert set(created.data) == {"a", "b"}
    assert [(m.manager, m.operation) for m in created.metadata.managed_fields] == [
        ("sealgate", "Apply")
    ]
    assert apply("sealgate", applied_secret(a="1", b="2")).metadata.resource_version == (
        created.metadata.resource_version
    )

    pruned = apply("sealgate", applied_secret(a="1"))
    assert set(pruned.data) == {"a"}, "a field the manager stopped applying is removed"

    status = failure(
        409, core.patch_namespaced_secret, "db", "apps", applied_secret(a="other"),
        field_manager="operator", _content_type="application/apply-patch+yaml",
    )  # fmt: skip
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "sealgate"',
            "field": ".data.a",
        }
    ]
    # Applying the same value is shared ownership, not a conflict.
    apply("operator", applied_secret(a="1"))
    forced = apply("operator", applied_secret(a="forced"), force=True)
    assert base64.b64decode(forced.data["a"]) == b"forced"

    # sealgate no longer owns data.a, so leaving it out does not remove it.
    kept = apply("sealgate", {**applied_secret(), "data": {}})
    assert base64.b64decode(kept.data["a"]) == b"forced"
    assert kept.metadata.labels == {"app.kubernetes.io/managed-by": "sealgate"}

    assert failure(
        400, core.patch_namespaced_secret, "db", "apps", applied_secret(a="1"),
        _content_type="application/apply-patch+yaml",
    )["reason"] == "BadRequest"  # fmt: skip
    stored = server.get("v1", "Secret", "apps", "db")
    assert stored is not None
    assert {m["manager"] for m in stored["metadata"]["managedFields"]} == {"sealgate", "operator"}


def test_a_watch_from_forgotten_history_gets_410_expired(tmp_path: Path) -> None:
    with KubeApiServer(watch_history=5) as small:
        small.create_namespace("apps")
        configuration = client.Configuration()
        load_kube_config(
            config_file=str(small.write_kubeconfig(tmp_path / "kubeconfig")),
            client_configuration=configuration,
        )
        with client.ApiClient(configuration) as api_client:
            core: Any = client.CoreV1Api(api_client)
            first = core.list_namespaced_secret("apps").metadata.resource_version
            for index in range(10):
                core.create_namespaced_secret("apps", secret(f"s{index}", k="v"))
            with pytest.raises(ApiException) as caught:
                for _ in new_watch().stream(
                    core.list_namespaced_secret, "apps", resource_version=first, timeout_seconds=5
                ):
                    pass
            assert caught.value.status == 410
            assert "too old resource version" in str(caught.value.reason)


# --- the control API -----------------------------------------------------------------------


def test_put_seeds_state_and_replaces_what_cannot_change_in_place(tmp_path: Path) -> None:
    with KubeApiServer() as seeded:
        first = seeded.put(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "tls", "namespace": "edge"},
                "stringData": {"tls.crt": "x", "tls.key": "y"},
            }
        )
        assert base64.b64decode(first["data"]["tls.crt"]) == b"x"
        assert seeded.get("v1", "Namespace", None, "edge") is not None
        retyped = seeded.put({**first, "type": "kubernetes.io/tls"})
        assert retyped["type"] == "kubernetes.io/tls"
        assert retyped["metadata"]["uid"] != first["metadata"]["uid"]

        stalled = workload("Deployment", "web")
        stalled["status"] = {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 1}
        stored = seeded.put(stalled)
        assert stored["status"] == stalled["status"]
        assert seeded.list("apps/v1", "Deployment", "apps") == [stored]
        assert seeded.list("apps/v1", "Deployment", "edge") == []
        with pytest.raises(ValueError, match="does not serve"):
            seeded.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})

        kubeconfig = seeded.write_kubeconfig(tmp_path / "kubeconfig", context="ci")
        text = kubeconfig.read_text()
        assert seeded.url in text
        assert "current-context: ci" in text


def test_a_restarted_server_keeps_its_state(tmp_path: Path) -> None:
    restarted = KubeApiServer()
    restarted.start()
    try:
        restarted.put(workload("Deployment", "web"))
        restarted.stop()
        second_url = restarted.start()
        assert second_url.startswith("http://127.0.0.1:")
        configuration = client.Configuration()
        load_kube_config(
            config_file=str(restarted.write_kubeconfig(tmp_path / "kubeconfig")),
            client_configuration=configuration,
        )
        with client.ApiClient(configuration) as api_client:
            apps: Any = client.AppsV1Api(api_client)
            apps.patch_namespaced_deployment("web", "apps", restart_patch())
            wait_for(lambda: apps.read_namespaced_deployment("web", "apps"), deployment_rolled_out)
        assert restarted.rollout_count("apps", "Deployment", "web") == 1
        assert restarted.url == second_url
    finally:
        restarted.stop()


def test_two_servers_are_two_contexts_of_one_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    with KubeApiServer() as east, KubeApiServer() as west:
        east.write_kubeconfig(kubeconfig, context="east")
        west.write_kubeconfig(kubeconfig, context="west", namespace="payments")
        west.create_namespace("payments")
        configuration = client.Configuration()
        load_kube_config(
            config_file=str(kubeconfig), context="west", client_configuration=configuration
        )
        with client.ApiClient(configuration) as api_client:
            client.CoreV1Api(api_client).create_namespaced_secret("payments", secret("db", k="v"))
        assert west.get("v1", "Secret", "payments", "db") is not None
        assert east.get("v1", "Namespace", None, "payments") is None
        assert "current-context: east" in kubeconfig.read_text()


@pytest.mark.parametrize(
    ("image", "pull_policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("registry.local:5000/team/app", "Always"),
        ("registry.local:5000/team/app:2.1", "IfNotPresent"),
        ("app@sha256:" + "a" * 64, "IfNotPresent"),
    ],
)
def test_pod_template_defaults_are_filled_in_as_a_real_server_does(
    apps: Any, api: Any, image: str, pull_policy: str
) -> None:
    body = workload("Deployment", "web")
    body["spec"]["template"]["spec"]["containers"][0]["image"] = image
    created = call(api, "V1Deployment", apps.create_namespaced_deployment, "apps", body)
    pod = created.spec.template.spec
    assert (pod.restart_policy, pod.dns_policy) == ("Always", "ClusterFirst")
    assert pod.termination_grace_period_seconds == 30
    assert pod.scheduler_name == "default-scheduler"
    assert pod.security_context.to_dict() == client.V1PodSecurityContext().to_dict()
    container = pod.containers[0]
    assert container.image_pull_policy == pull_policy
    assert container.termination_message_path == "/dev/termination-log"
    assert container.termination_message_policy == "File"
    assert created.spec.revision_history_limit == 10
    assert created.spec.progress_deadline_seconds == 600
    assert created.spec.strategy.type == "RollingUpdate"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"..data": "eA=="}, "must not start with '..'"),
        ({"a b": "eA=="}, "a valid config key"),
        ({"big": base64.b64encode(b"x" * (1024 * 1024)).decode()}, "Too long"),
    ],
)
def test_secrets_the_api_server_refuses_are_refused(
    core: Any, data: dict[str, str], message: str
) -> None:
    """Keys kubelet's volume layout would clash with, and Secrets over MaxSecretSize (keys
    and values together), are refused with 422 as a real API server does."""
    body = {"metadata": {"name": "refused"}, "data": data}
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret("apps", body)
    assert caught.value.status == 422
    assert message in str(caught.value.body)
