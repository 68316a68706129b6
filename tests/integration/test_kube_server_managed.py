"""The loopback API server's managedFields: ``Update`` writers own fields an apply must respect.

Driven by the real ``kubernetes`` client over HTTP; bodies are validated against the official
API description (``call`` / ``failure``), and every managedFields entry against
``ManagedFieldsEntry`` itself.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from controller.kube import (
    ClusterConfig,
    KubeTargets,
    Provenance,
    RetryPolicy,
    template_annotation,
)
from controller.sandbox.kube_server import KubeApiServer
from tests.api_specs import k8s_validator, problems
from tests.integration.test_kube_server import (
    call,
    failure,
    load_kube_config,
    rv,
    secret,
    workload,
)

APPLY = "application/apply-patch+yaml"


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer(rollout_seconds=0.3) as srv:
        srv.create_namespace("apps")
        yield srv


@pytest.fixture
def api(server: KubeApiServer, tmp_path: Path) -> Iterator[Any]:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", namespace="apps")
    configuration = client.Configuration()
    load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api_client:
        yield api_client


@pytest.fixture
def core(api: Any) -> Any:
    return client.CoreV1Api(api)


@pytest.fixture
def apps(api: Any) -> Any:
    return client.AppsV1Api(api)


def entries(server: KubeApiServer, kind: str, name: str) -> list[dict[str, Any]]:
    """The stored managedFields, each checked against the official ``ManagedFieldsEntry``."""
    api_version = "v1" if kind == "Secret" else "apps/v1"
    stored = server.get(api_version, kind, "apps", name)
    assert stored is not None
    found: list[dict[str, Any]] = stored["metadata"].get("managedFields", [])
    validator = k8s_validator("io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry")
    for entry in found:
        assert problems(validator, entry) == []
        assert entry["fieldsType"] == "FieldsV1"
        assert entry["apiVersion"] == api_version
        assert entry["time"].endswith("Z")
    return found


def owners(server: KubeApiServer, name: str) -> dict[tuple[str, str], set[str]]:
    """(manager, operation) -> the data keys of Secret ``name`` it owns."""
    return {
        (e["manager"], e["operation"]): {
            key[2:] for key in e["fieldsV1"].get("f:data", {}) if key.startswith("f:")
        }
        for e in entries(server, "Secret", name)
    }


def applied(**data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def apply_secret(api: Any, core: Any, manager: str, body: dict[str, Any], **options: Any) -> Any:
    return call(
        api, "V1Secret", core.patch_namespaced_secret, "db", "apps", body,
        field_manager=manager, _content_type=APPLY, **options,
    )  # fmt: skip


def test_an_apply_changing_a_field_an_update_wrote_conflicts_until_forced(
    core: Any, api: Any, server: KubeApiServer
) -> None:
    created = call(
        api, "V1Secret", core.create_namespaced_secret, "apps", secret("db", a="1", b="2"),
        field_manager="deployer",
    )  # fmt: skip
    assert [(m.manager, m.operation) for m in created.metadata.managed_fields] == [
        ("deployer", "Update")
    ]
    assert owners(server, "db") == {("deployer", "Update"): {"a", "b"}}

    status = failure(
        409, core.patch_namespaced_secret, "db", "apps", applied(a="other"),
        field_manager="sealgate", _content_type=APPLY,
    )  # fmt: skip
    assert status["reason"] == "Conflict"
    assert (
        status["message"]
        == 'Apply failed with 1 conflict: conflict with "deployer" using v1: .data.a'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "deployer" using v1',
            "field": ".data.a",
        }
    ]
    unchanged = server.get("v1", "Secret", "apps", "db")
    assert unchanged is not None
    assert unchanged["metadata"]["resourceVersion"] == created.metadata.resource_version

    # The same value is shared ownership; the forced change moves the field.
    apply_secret(api, core, "sealgate", applied(b="2"))
    forced = apply_secret(api, core, "sealgate", applied(a="forced", b="2"), force=True)
    assert base64.b64decode(forced.data["a"]) == b"forced"
    assert owners(server, "db") == {
        ("deployer", "Update"): {"b"},
        ("sealgate", "Apply"): {"a", "b"},
    }

    # A plain write takes the field it changes back, and an apply meets the conflict again.
    taken = client.V1Secret(metadata=client.V1ObjectMeta(name="db"), string_data={"a": "mine"})
    call(api, "V1Secret", core.patch_namespaced_secret, "db", "apps", taken,
         field_manager="deployer")  # fmt: skip
    assert owners(server, "db") == {
        ("deployer", "Update"): {"a", "b"},
        ("sealgate", "Apply"): {"b"},
    }
    again = failure(
        409, core.patch_namespaced_secret, "db", "apps", applied(a="forced", b="2"),
        field_manager="sealgate", _content_type=APPLY,
    )  # fmt: skip
    assert [c["field"] for c in again["details"]["causes"]] == [".data.a"]


def test_conflicts_with_several_fields_are_listed_by_manager(
    core: Any, api: Any, server: KubeApiServer
) -> None:
    call(api, "V1Secret", core.create_namespaced_secret, "apps", secret("db", a="1", b="2"),
         field_manager="deployer")  # fmt: skip
    status = failure(
        409, core.patch_namespaced_secret, "db", "apps", applied(a="x", b="y"),
        field_manager="sealgate", _content_type=APPLY,
    )  # fmt: skip
    assert status["message"] == (
        'Apply failed with 2 conflicts: conflicts with "deployer" using v1:\n- .data.a\n- .data.b'
    )


def test_a_field_a_write_removes_leaves_every_manager(
    core: Any, api: Any, server: KubeApiServer
) -> None:
    call(api, "V1Secret", core.create_namespaced_secret, "apps", secret("db", a="1", b="2"),
         field_manager="deployer")  # fmt: skip
    apply_secret(api, core, "sealgate", applied(a="1", b="2"))
    read = core.read_namespaced_secret("db", "apps")
    del read.data["b"]
    call(api, "V1Secret", core.replace_namespaced_secret, "db", "apps", read,
         field_manager="deployer")  # fmt: skip
    assert owners(server, "db") == {
        ("deployer", "Update"): {"a"},
        ("sealgate", "Apply"): {"a"},
    }
    # Nobody owns b any more, so setting it again is no conflict.
    again = apply_secret(api, core, "sealgate", applied(a="1", b="new"))
    assert base64.b64decode(again.data["b"]) == b"new"


def test_managers_are_named_by_field_manager_or_the_user_agent_product(
    core: Any, api: Any, server: KubeApiServer
) -> None:
    call(api, "V1Secret", core.create_namespaced_secret, "apps", secret("db", a="1"))
    default_agent = api.user_agent.split("/")[0]
    assert default_agent
    assert [e["manager"] for e in entries(server, "Secret", "db")] == [default_agent]

    api.user_agent = "release-bot/2.1.0 (linux/amd64) build/abc"
    patch = {"metadata": {"labels": {"team": "pay"}}}
    call(api, "V1Secret", core.patch_namespaced_secret, "db", "apps", patch)
    patch = {"metadata": {"labels": {"team": "pay", "tier": "db"}}}
    call(api, "V1Secret", core.patch_namespaced_secret, "db", "apps", patch)
    call(api, "V1Secret", core.patch_namespaced_secret, "db", "apps", {"data": {"c": "Yw=="}},
         field_manager="rotator")  # fmt: skip

    found = entries(server, "Secret", "db")
    # One entry per manager: a manager's later writes join its earlier ones.
    assert [(e["manager"], e["operation"]) for e in found] == [
        (default_agent, "Update"),
        ("release-bot", "Update"),
        ("rotator", "Update"),
    ]
    by_name = {e["manager"]: e["fieldsV1"] for e in found}
    assert by_name["release-bot"] == {"f:metadata": {"f:labels": {"f:team": {}, "f:tier": {}}}}
    assert by_name["rotator"] == {"f:data": {"f:c": {}}}
    assert by_name[default_agent] == {"f:data": {"f:a": {}}, "f:type": {}}


def test_a_no_op_write_keeps_resource_version_and_managed_fields(
    core: Any, api: Any, server: KubeApiServer
) -> None:
    created = call(
        api, "V1Secret", core.create_namespaced_secret, "apps", secret("db", a="1"),
        field_manager="deployer",
    )  # fmt: skip
    before = entries(server, "Secret", "db")
    read = core.read_namespaced_secret("db", "apps")
    replaced = call(api, "V1Secret", core.replace_namespaced_secret, "db", "apps", read,
                    field_manager="someone-else")  # fmt: skip
    patched = call(api, "V1Secret", core.patch_namespaced_secret, "db", "apps",
                   {"data": {"a": "MQ=="}}, field_manager="another")  # fmt: skip
    assert rv(replaced) == rv(patched) == rv(created)
    assert entries(server, "Secret", "db") == before


def test_status_writes_are_their_own_subresource_entry(
    apps: Any, api: Any, server: KubeApiServer
) -> None:
    call(api, "V1Deployment", apps.create_namespaced_deployment, "apps",
         workload("Deployment", "web"), field_manager="deployer")  # fmt: skip
    status = {"status": {"conditions": [{"type": "Audited", "status": "True"}]}}
    call(api, "V1Deployment", apps.patch_namespaced_deployment_status, "web", "apps", status,
         field_manager="deployer")  # fmt: skip
    found = {
        (e["manager"], e.get("subresource", "")): e for e in entries(server, "Deployment", "web")
    }
    assert set(found) == {("deployer", ""), ("deployer", "status")}
    main, on_status = found[("deployer", "")]["fieldsV1"], found[("deployer", "status")]["fieldsV1"]
    assert "f:status" not in main
    assert set(on_status) == {"f:status"}
    assert 'k:{"type":"Audited"}' in on_status["f:status"]["f:conditions"]
    # The defaults the server filled in on create are the creator's, as in a real cluster.
    container = main["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"main"}']
    assert "." in container
    assert "f:imagePullPolicy" in container

    # Status sent to the main resource is reset, so it is neither owned nor a conflict.
    with_status = workload("Deployment", "web")
    with_status["status"] = {"conditions": [{"type": "Audited", "status": "False"}]}
    call(api, "V1Deployment", apps.patch_namespaced_deployment, "web", "apps", with_status,
         field_manager="sealgate", _content_type=APPLY)  # fmt: skip
    after = {
        (e["manager"], e.get("subresource", "")): e for e in entries(server, "Deployment", "web")
    }
    assert "f:status" not in after[("sealgate", "")]["fieldsV1"]
    assert after[("deployer", "status")]["fieldsV1"] == on_status

    changed = workload("Deployment", "web")
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/app:2"
    conflict = failure(
        409, apps.patch_namespaced_deployment, "web", "apps", changed,
        field_manager="sealgate", _content_type=APPLY,
    )  # fmt: skip
    assert conflict["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "deployer" using apps/v1',
            "field": '.spec.template.spec.containers[name="main"].image',
        }
    ]
    forced = call(api, "V1Deployment", apps.patch_namespaced_deployment, "web", "apps", changed,
                  field_manager="sealgate", _content_type=APPLY, force=True)  # fmt: skip
    assert forced.spec.template.spec.containers[0].image == "registry.example/app:2"


def test_managed_fields_a_client_writes_replace_the_record_and_bad_ones_are_refused(
    core: Any, api: Any, server: KubeApiServer
) -> None:
    call(api, "V1Secret", core.create_namespaced_secret, "apps", secret("db", a="1"),
         field_manager="deployer")  # fmt: skip
    echoed = core.read_namespaced_secret("db", "apps")
    same = call(api, "V1Secret", core.replace_namespaced_secret, "db", "apps", echoed)
    assert rv(same) == rv(echoed), "echoing the entries read back changes nothing"

    bad = failure(
        422, core.patch_namespaced_secret, "db", "apps",
        {"metadata": {"managedFields": [{"manager": "x", "operation": "Steal"}]}},
    )  # fmt: skip
    assert bad["details"]["causes"][0]["field"] == "metadata.managedFields[0].operation"

    cleared: dict[str, Any] = {"metadata": {"managedFields": [{}]}}
    call(api, "V1Secret", core.patch_namespaced_secret, "db", "apps", cleared)
    assert entries(server, "Secret", "db") == []
    # With no owner left, an apply may change the value without force.
    moved = apply_secret(api, core, "sealgate", applied(a="2"))
    assert base64.b64decode(moved.data["a"]) == b"2"


# --- sealgate's own writes -----------------------------------------------------------------


def test_sealgate_is_the_update_manager_of_what_it_writes_and_appliers_meet_it(
    server: KubeApiServer, core: Any, api: Any, tmp_path: Path
) -> None:
    user = workload("Deployment", "web")
    user["spec"]["template"]["spec"]["volumes"] = [{"name": "s", "secret": {"secretName": "db"}}]
    server.put(user)
    targets = KubeTargets(
        [ClusterConfig("loop", kubeconfig=server.write_kubeconfig(tmp_path / "sg"))],
        b"checksum-key-for-tests-0123456789",
        retry=RetryPolicy(attempts=3, initial_s=0.01, max_s=0.05),
        poll_interval_s=0.05,
    )
    try:
        report = targets.sync_secret(
            ["loop"], "apps", "db", {"a": b"1"}, Provenance(7, "chg-0007", 42), timeout_s=20
        )
    finally:
        targets.close()
    assert report.ok

    (written,) = entries(server, "Secret", "db")
    assert (written["manager"], written["operation"]) == ("sealgate", "Update")
    assert set(written["fieldsV1"]["f:data"]) == {"f:a"}
    assert "f:annotations" in written["fieldsV1"]["f:metadata"]
    by_key = {
        (e["manager"], e.get("subresource", "")): e for e in entries(server, "Deployment", "web")
    }
    assert ("kube-controller-manager", "status") in by_key
    restarted = by_key[("sealgate", "")]["fieldsV1"]["f:spec"]["f:template"]["f:metadata"]
    assert f"f:{template_annotation('db')}" in restarted["f:annotations"]

    # A GitOps tool applying the same Secret cannot silently take the value sealgate wrote.
    status = failure(
        409, core.patch_namespaced_secret, "db", "apps", applied(a="2"),
        field_manager="gitops", _content_type=APPLY,
    )  # fmt: skip
    assert (
        status["message"]
        == 'Apply failed with 1 conflict: conflict with "sealgate" using v1: .data.a'
    )
    # The conflict names the field, never the value either side holds.
    assert "MQ==" not in json.dumps(status)
    assert "Mg==" not in json.dumps(status)
