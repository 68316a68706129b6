"""The adapter's pure decisions: references, rollout status, checksums and Secret plans."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.kube.checksum import secret_checksum, template_annotation
from controller.kube.results import DesiredSecret, Provenance
from controller.kube.rollout import rollout_status
from controller.kube.secrets import Action, pending_of, plan
from controller.kube.workloads import referenced_secrets, restart_disabled

KEY = b"k" * 32


def _workload(pod_spec: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": pod_spec}}}


def test_every_way_of_using_a_secret_is_found() -> None:
    pod_spec = {
        "initContainers": [
            {"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "init-env"}}}]},
            {"envFrom": [{"secretRef": {"name": "init-envfrom"}}]},
        ],
        "containers": [
            {
                "env": [
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "env"}}},
                    {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "not-a-secret"}}},
                    {"name": "D", "value": "plain"},
                ],
                "envFrom": [{"secretRef": {"name": "envfrom"}}, {"configMapRef": {"name": "cm"}}],
            }
        ],
        "volumes": [
            {"name": "v", "secret": {"secretName": "volume"}},
            {"name": "c", "configMap": {"name": "cm-volume"}},
            {
                "name": "p",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"path": "token"}},
                        {"secret": {"name": "projected"}},
                    ]
                },
            },
        ],
    }
    assert referenced_secrets(_workload(pod_spec)) == {
        "init-env",
        "init-envfrom",
        "env",
        "envfrom",
        "volume",
        "projected",
    }


def test_a_workload_without_a_template_uses_nothing() -> None:
    assert referenced_secrets({}) == frozenset()
    assert referenced_secrets(_workload({"containers": [{"env": None}]})) == frozenset()


@pytest.mark.parametrize(("value", "disabled"), [("false", True), ("False", True), ("true", False)])
def test_restart_opt_out(value: str, disabled: bool) -> None:
    obj = {"metadata": {"annotations": {"sealgate.dev/restart": value}}}
    assert restart_disabled(obj) is disabled
    assert restart_disabled({}) is False


def _deployment(
    status: dict[str, Any], *, generation: int = 2, replicas: int = 3
) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": status,
    }


DONE = {
    "observedGeneration": 2,
    "replicas": 3,
    "updatedReplicas": 3,
    "availableReplicas": 3,
}


@pytest.mark.parametrize(
    ("status", "done", "failed"),
    [
        (DONE, True, False),
        ({**DONE, "observedGeneration": 1}, False, False),
        ({**DONE, "updatedReplicas": 2}, False, False),
        ({**DONE, "replicas": 4}, False, False),
        ({**DONE, "availableReplicas": 2}, False, False),
        (
            {
                **DONE,
                "updatedReplicas": 1,
                "conditions": [
                    {
                        "type": "Progressing",
                        "status": "False",
                        "reason": "ProgressDeadlineExceeded",
                        "message": 'ReplicaSet "api-5f" has timed out progressing.',
                    }
                ],
            },
            False,
            True,
        ),
    ],
)
def test_deployment_rollout_status_follows_kubectl(
    status: dict[str, Any], done: bool, failed: bool
) -> None:
    result = rollout_status("Deployment", _deployment(status))
    assert (result.done, result.failed) == (done, failed)
    if failed:
        assert "timed out progressing" in result.message


def test_statefulset_rollout_status() -> None:
    base: dict[str, Any] = {
        "metadata": {"generation": 4},
        "spec": {"replicas": 2},
        "status": {
            "observedGeneration": 4,
            "readyReplicas": 2,
            "updatedReplicas": 2,
            "currentRevision": "r2",
            "updateRevision": "r2",
        },
    }
    assert rollout_status("StatefulSet", base).done
    moving = {**base, "status": {**base["status"], "currentRevision": "r1"}}
    assert not rollout_status("StatefulSet", moving).done
    on_delete = {**base, "spec": {"replicas": 2, "updateStrategy": {"type": "OnDelete"}}}
    assert not rollout_status("StatefulSet", on_delete).watchable
    partitioned = {
        **moving,
        "spec": {
            "replicas": 2,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
        },
        "status": {**moving["status"], "updatedReplicas": 1},
    }
    assert rollout_status("StatefulSet", partitioned).done


def test_daemonset_rollout_status() -> None:
    obj = {
        "metadata": {"generation": 1},
        "spec": {},
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": 3,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }
    assert not rollout_status("DaemonSet", obj).done
    obj["status"]["numberAvailable"] = 3
    assert rollout_status("DaemonSet", obj).done


# -------------------------------------------------------------------------- checksum


def test_the_checksum_is_keyed_and_not_a_plain_hash() -> None:
    data = {"password": b"hunter2"}
    assert secret_checksum(KEY, data) != secret_checksum(b"other-key", data)
    assert hashlib.sha256(b"hunter2").hexdigest() not in secret_checksum(KEY, data)
    assert secret_checksum(KEY, {"a": b"1", "b": b"2"}) == secret_checksum(
        KEY, {"b": b"2", "a": b"1"}
    )
    with pytest.raises(ValueError, match="empty"):
        secret_checksum(b"", data)


def test_the_encoding_keeps_key_and_value_boundaries() -> None:
    assert secret_checksum(KEY, {"ab": b"c"}) != secret_checksum(KEY, {"a": b"bc"})
    assert secret_checksum(KEY, {"a": b""}) != secret_checksum(KEY, {})


@given(
    st.dictionaries(st.text(min_size=1, max_size=5), st.binary(max_size=8), max_size=4),
    st.dictionaries(st.text(min_size=1, max_size=5), st.binary(max_size=8), max_size=4),
)
def test_different_data_has_different_checksums(a: dict[str, bytes], b: dict[str, bytes]) -> None:
    assert (secret_checksum(KEY, a) == secret_checksum(KEY, b)) == (a == b)


def test_template_annotation_names_stay_valid_for_long_secret_names() -> None:
    assert template_annotation("db") == "sealgate.dev/checksum-db"
    long_a, long_b = "a" * 200 + "-one", "a" * 200 + "-two"
    for name in (long_a, long_b):
        part = template_annotation(name).split("/", 1)[1]
        assert len(part) <= 63
        assert part[-1].isalnum()
    assert template_annotation(long_a) != template_annotation(long_b)


# ------------------------------------------------------------------------------ plan


def _secret(labels: dict[str, str], annotations: dict[str, str], data: dict[str, bytes]) -> Any:
    return {
        "metadata": {"name": "s", "namespace": "n", "labels": labels, "annotations": annotations},
        "type": "Opaque",
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


DESIRED = DesiredSecret("n", "s", {"k": b"v"}, Provenance(3, "c3", 9))
SUM = secret_checksum(KEY, {"k": b"v"})
MANAGED = {"app.kubernetes.io/managed-by": "sealgate"}


def test_plans() -> None:
    assert plan(None, DESIRED, SUM, KEY).action is Action.CREATE
    current = _secret(MANAGED, {"sealgate.dev/checksum": SUM}, {"k": b"v"})
    assert plan(current, DESIRED, SUM, KEY).action is Action.UNCHANGED
    edited = _secret(MANAGED, {"sealgate.dev/checksum": SUM}, {"k": b"edited"})
    assert plan(edited, DESIRED, SUM, KEY).action is Action.UPDATE
    foreign = _secret({}, {}, {"k": b"v"})
    assert plan(foreign, DESIRED, SUM, KEY).action is Action.REFUSE
    adoptable = _secret({}, {"sealgate.dev/adopt": "true"}, {"k": b"v"})
    adopt = plan(adoptable, DESIRED, SUM, KEY)
    assert (adopt.action, adopt.adopting) == (Action.UPDATE, True)
    immutable = {**current, "immutable": True, "data": {}}
    assert plan(immutable, DESIRED, SUM, KEY).action is Action.REFUSE


def test_every_write_carries_the_restart_it_asks_for() -> None:
    created = plan(None, DESIRED, SUM, KEY, "2026-01-01T00:00:00.000000Z")
    assert created.body is not None
    assert created.body["metadata"]["annotations"]["sealgate.dev/restart-pending"] == SUM
    marker = pending_of(created.body)
    assert marker is not None
    assert (marker.checksum, marker.restarted_at) == (SUM, None)
    # A repair asks for a fresh restartedAt too: the users' checksum already matches.
    edited = _secret(MANAGED, {"sealgate.dev/checksum": SUM}, {"k": b"edited"})
    repair = plan(edited, DESIRED, SUM, KEY, "2026-01-01T00:00:00.000000Z")
    assert repair.body is not None
    marker = pending_of(repair.body)
    assert marker is not None
    assert (marker.checksum, marker.restarted_at) == (SUM, "2026-01-01T00:00:00.000000Z")
    # Only sealgate's own Secrets ask anything of their users.
    foreign = _secret({}, {"sealgate.dev/restart-pending": SUM}, {"k": b"v"})
    assert pending_of(foreign) is None


def test_a_plan_never_shows_values() -> None:
    step = plan(None, DESIRED, SUM, KEY)
    assert "dg==" not in repr(step)  # base64 of b"v"
    assert "data" not in repr(DESIRED)
