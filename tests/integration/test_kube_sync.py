"""The Kubernetes adapter against the loopback API server, through the real client over HTTP."""

from __future__ import annotations

import base64
import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.errors import ClusterError
from controller.kube import (
    ClusterConfig,
    DesiredSecret,
    KubeTargets,
    Provenance,
    RetryPolicy,
    RolloutOutcome,
    SecretOutcome,
    SyncReport,
    template_annotation,
)
from controller.sandbox.kube_server import KubeApiServer

KEY = b"checksum-key-for-tests-0123456789"
PROV = Provenance(store_version=7, change_id="chg-0007", pull_request=42)
FAST = RetryPolicy(attempts=4, initial_s=0.01, max_s=0.05)
WRITES = {"create", "update", "patch", "delete", "deletecollection"}
_names = itertools.count()
PENDING = "sealgate.dev/restart-pending"


@pytest.fixture(scope="module")
def server() -> Iterator[KubeApiServer]:
    srv = KubeApiServer(rollout_seconds=0.2)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def kubeconfig(server: KubeApiServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return server.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")


@pytest.fixture
def targets(kubeconfig: Path) -> Iterator[KubeTargets]:
    t = KubeTargets(
        [ClusterConfig("loop", kubeconfig=kubeconfig, context="loopback")],
        KEY,
        retry=FAST,
        poll_interval_s=0.05,
    )
    yield t
    t.close()


@pytest.fixture
def ns(server: KubeApiServer) -> str:
    name = f"team-{next(_names)}"
    server.create_namespace(name)
    server.clear_faults()
    return name


def workload(
    namespace: str,
    name: str,
    pod_spec: dict[str, Any],
    *,
    kind: str = "Deployment",
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
    }
    if kind != "DaemonSet":
        spec["replicas"] = 2
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": spec,
    }


def container(**extra: Any) -> dict[str, Any]:
    return {"name": "app", "image": "example/app:1", **extra}


def env_ref(secret: str) -> dict[str, Any]:
    return {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}}}


def seed_workloads(server: KubeApiServer, ns: str, secret: str) -> None:
    """One workload per way of using ``secret``, one using another Secret, one opted out."""
    for obj in [
        workload(ns, "by-env", {"containers": [container(env=[env_ref(secret)])]}),
        workload(
            ns, "by-envfrom", {"containers": [container(envFrom=[{"secretRef": {"name": secret}}])]}
        ),
        workload(
            ns,
            "by-volume",
            {
                "containers": [container()],
                "volumes": [{"name": "s", "secret": {"secretName": secret}}],
            },
        ),
        workload(
            ns,
            "by-projected",
            {
                "containers": [container()],
                "volumes": [
                    {
                        "name": "p",
                        "projected": {
                            "sources": [
                                {"configMap": {"name": "settings"}},
                                {"secret": {"name": secret}},
                            ]
                        },
                    }
                ],
            },
        ),
        workload(
            ns,
            "by-init",
            {"initContainers": [container(env=[env_ref(secret)])], "containers": [container()]},
        ),
        workload(
            ns,
            "sts-volume",
            {
                "containers": [container()],
                "volumes": [{"name": "s", "secret": {"secretName": secret}}],
            },
            kind="StatefulSet",
        ),
        workload(
            ns,
            "ds-envfrom",
            {"containers": [container(envFrom=[{"secretRef": {"name": secret}}])]},
            kind="DaemonSet",
        ),
        workload(ns, "other", {"containers": [container(env=[env_ref("other-secret")])]}),
        workload(
            ns,
            "opted-out",
            {"containers": [container(env=[env_ref(secret)])]},
            annotations={"sealgate.dev/restart": "false"},
        ),
    ]:
        server.put(obj)


REFERENCING = {
    ("Deployment", "by-env"),
    ("Deployment", "by-envfrom"),
    ("Deployment", "by-volume"),
    ("Deployment", "by-projected"),
    ("Deployment", "by-init"),
    ("StatefulSet", "sts-volume"),
    ("DaemonSet", "ds-envfrom"),
}


def annotations_of(server: KubeApiServer, ns: str, name: str = "app-secret") -> dict[str, str]:
    secret = server.get("v1", "Secret", ns, name)
    assert secret is not None
    return dict(secret["metadata"]["annotations"])


def outcomes(report: SyncReport) -> dict[tuple[str, str], RolloutOutcome]:
    return {(w.kind, w.name): w.outcome for w in report.workloads}


def writes(server: KubeApiServer, namespace: str) -> list[Any]:
    return [r for r in server.request_log if r.verb in WRITES and r.namespace == namespace]


def sync(targets: KubeTargets, ns: str, data: dict[str, bytes], **kw: Any) -> SyncReport:
    return targets.sync_secret(["loop"], ns, "app-secret", data, PROV, timeout_s=20, **kw)


# ------------------------------------------------------------------------- first sync


def test_first_sync_creates_the_secret_and_restarts_exactly_its_users(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    seed_workloads(server, ns, "app-secret")
    data = {"password": b"hunter2", "user": b"app"}

    report = sync(targets, ns, data)

    (secret_sync,) = report.secrets
    assert secret_sync.outcome is SecretOutcome.CREATED
    assert (secret_sync.cluster, secret_sync.namespace, secret_sync.name) == (
        "loop",
        ns,
        "app-secret",
    )
    secret = server.get("v1", "Secret", ns, "app-secret")
    assert secret is not None
    assert secret["type"] == "Opaque"
    assert {k: base64.b64decode(v) for k, v in secret["data"].items()} == data
    assert secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "sealgate"
    annotations = secret["metadata"]["annotations"]
    assert annotations["sealgate.dev/store-version"] == "7"
    assert annotations["sealgate.dev/change-id"] == "chg-0007"
    assert annotations["sealgate.dev/pull-request"] == "42"
    assert annotations["sealgate.dev/checksum"] == targets.checksum(data)
    assert annotations["sealgate.dev/checksum"].startswith("hmac-sha256:")

    assert outcomes(report) == {
        **dict.fromkeys(REFERENCING, RolloutOutcome.ROLLED),
        ("Deployment", "opted-out"): RolloutOutcome.SKIPPED,
    }
    assert report.ok
    for kind, name in REFERENCING:
        assert server.rollout_count(ns, kind, name) == 1, (kind, name)
        obj = server.get("apps/v1", kind, ns, name)
        assert obj is not None
        template = obj["spec"]["template"]["metadata"]["annotations"]
        assert template[template_annotation("app-secret")] == targets.checksum(data)
    assert server.rollout_count(ns, "Deployment", "other") == 0
    assert server.rollout_count(ns, "Deployment", "opted-out") == 0
    # Every user carries the checksum or opted out: nothing is left pending.
    assert PENDING not in annotations_of(server, ns)

    events = [
        e
        for e in server.list("v1", "Event", ns)
        if e["involvedObject"]["name"] == "app-secret" and e["reason"] == "SealgateSynced"
    ]
    assert len(events) == 1
    assert "chg-0007" in events[0]["message"]


def test_an_unchanged_resync_makes_no_write_requests(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    seed_workloads(server, ns, "app-secret")
    data = {"password": b"hunter2"}
    sync(targets, ns, data)
    server.reset_request_log()

    report = sync(targets, ns, data)

    assert [s.outcome for s in report.secrets] == [SecretOutcome.UNCHANGED]
    assert set(outcomes(report).values()) == {RolloutOutcome.UNCHANGED}
    assert server.request_log, "the resync must have read the cluster"
    assert writes(server, ns) == []
    for kind, name in REFERENCING:
        assert server.rollout_count(ns, kind, name) == 1


def test_a_changed_key_restarts_each_user_once(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    seed_workloads(server, ns, "app-secret")
    sync(targets, ns, {"password": b"one"})

    report = sync(targets, ns, {"password": b"two"})
    again = sync(targets, ns, {"password": b"two"})

    assert [s.outcome for s in report.secrets] == [SecretOutcome.UPDATED]
    assert outcomes(report) == {
        **dict.fromkeys(REFERENCING, RolloutOutcome.ROLLED),
        ("Deployment", "opted-out"): RolloutOutcome.SKIPPED,
    }
    assert [s.outcome for s in again.secrets] == [SecretOutcome.UNCHANGED]
    for kind, name in REFERENCING:
        assert server.rollout_count(ns, kind, name) == 2, (kind, name)
    secret = server.get("v1", "Secret", ns, "app-secret")
    assert secret is not None
    assert base64.b64decode(secret["data"]["password"]) == b"two"


def test_a_hand_edit_of_the_data_is_repaired_and_its_users_restarted(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    seed_workloads(server, ns, "app-secret")
    sync(targets, ns, {"password": b"right"})
    secret = server.get("v1", "Secret", ns, "app-secret")
    assert secret is not None
    secret["data"]["password"] = base64.b64encode(b"wrong").decode()
    server.put(secret)

    report = sync(targets, ns, {"password": b"right"})
    again = sync(targets, ns, {"password": b"right"})

    (result,) = report.secrets
    assert result.outcome is SecretOutcome.UPDATED
    assert "edited outside sealgate" in result.message
    repaired = server.get("v1", "Secret", ns, "app-secret")
    assert repaired is not None
    assert base64.b64decode(repaired["data"]["password"]) == b"right"
    assert set(outcomes(report).values()) == {RolloutOutcome.ROLLED, RolloutOutcome.SKIPPED}
    assert [s.outcome for s in again.secrets] == [SecretOutcome.UNCHANGED]
    for kind, name in REFERENCING:
        assert server.rollout_count(ns, kind, name) == 2, (kind, name)


def test_a_repair_whose_restarts_were_cut_short_restarts_the_users_on_the_next_sync(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    """The restored Secret keeps asking for a restart its users' checksum alone cannot show."""
    server.put(workload(ns, "api", {"containers": [container(env=[env_ref("app-secret")])]}))
    sync(targets, ns, {"password": b"right"})
    secret = server.get("v1", "Secret", ns, "app-secret")
    assert secret is not None
    secret["data"]["password"] = base64.b64encode(b"wrong").decode()
    server.put(secret)
    server.forbid("patch", "deployments", ns)

    cut = sync(targets, ns, {"password": b"right"})

    assert "edited outside sealgate" in cut.secrets[0].message
    assert outcomes(cut) == {("Deployment", "api"): RolloutOutcome.FAILED}
    assert "restartedAt=" in annotations_of(server, ns)[PENDING]
    server.clear_faults()
    later = sync(targets, ns, {"password": b"right"})
    again = sync(targets, ns, {"password": b"right"})

    assert [s.outcome for s in later.secrets] == [SecretOutcome.UNCHANGED]
    assert outcomes(later) == {("Deployment", "api"): RolloutOutcome.ROLLED}
    assert outcomes(again) == {("Deployment", "api"): RolloutOutcome.UNCHANGED}
    assert server.rollout_count(ns, "Deployment", "api") == 2
    assert PENDING not in annotations_of(server, ns)


def test_a_workload_restarted_by_an_interrupted_sync_is_finished_not_restarted_again(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    seed_workloads(server, ns, "app-secret")
    sync(targets, ns, {"password": b"one"}, wait=False)
    report = sync(targets, ns, {"password": b"one"})

    assert [s.outcome for s in report.secrets] == [SecretOutcome.UNCHANGED]
    for kind, name in REFERENCING:
        assert server.rollout_count(ns, kind, name) == 1, (kind, name)
    assert set(outcomes(report).values()) <= {RolloutOutcome.ROLLED, RolloutOutcome.UNCHANGED}


def test_without_waiting_restarts_are_reported_as_restarted(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    seed_workloads(server, ns, "app-secret")
    report = sync(targets, ns, {"password": b"x"}, wait=False)
    assert outcomes(report) == {
        **dict.fromkeys(REFERENCING, RolloutOutcome.RESTARTED),
        ("Deployment", "opted-out"): RolloutOutcome.SKIPPED,
    }


def test_a_workload_using_several_changed_secrets_restarts_once(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    server.put(
        workload(
            ns,
            "api",
            {
                "containers": [
                    container(env=[env_ref("db")], envFrom=[{"secretRef": {"name": "queue"}}])
                ]
            },
        )
    )
    report = targets.sync_many(
        "loop",
        [DesiredSecret(ns, "db", {"k": b"1"}, PROV), DesiredSecret(ns, "queue", {"k": b"2"}, PROV)],
        timeout_s=20,
    )
    (result,) = report.workloads
    assert (result.outcome, result.secrets) == (RolloutOutcome.ROLLED, ("db", "queue"))
    assert server.rollout_count(ns, "Deployment", "api") == 1


def test_an_on_delete_statefulset_is_patched_but_not_watched(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    sts = workload(
        ns, "db", {"containers": [container(env=[env_ref("app-secret")])]}, kind="StatefulSet"
    )
    sts["spec"]["updateStrategy"] = {"type": "OnDelete"}
    server.put(sts)
    report = sync(targets, ns, {"password": b"x"})
    (result,) = report.workloads
    assert result.outcome is RolloutOutcome.RESTARTED
    assert "OnDelete" in result.message
    patched = server.get("apps/v1", "StatefulSet", ns, "db")
    assert patched is not None
    assert (
        template_annotation("app-secret") in patched["spec"]["template"]["metadata"]["annotations"]
    )


@pytest.mark.parametrize("status", [None, 500, 503], ids=["dropped", "500", "503"])
@pytest.mark.parametrize("verb", ["create", "update"])
def test_a_committed_write_whose_answer_is_lost_still_restarts_each_user_exactly_once(
    server: KubeApiServer, targets: KubeTargets, ns: str, verb: str, status: int | None
) -> None:
    """The server stores the Secret, the answer never arrives, the retry is told 409 and the
    re-read finds it unchanged: the marker written with the data still restarts the user."""
    if verb == "update":
        sync(targets, ns, {"password": b"one"})
    # Created after the Secret (or before it exists) and never restarted: no annotation.
    server.put(workload(ns, "api", {"containers": [container(env=[env_ref("app-secret")])]}))
    server.lose_answers(verb=verb, resource="secrets", status=status)
    server.reset_request_log()

    report = sync(targets, ns, {"password": b"two"})

    answers = [r.status for r in server.request_log if r.resource == "secrets" and r.verb == verb]
    assert answers[:2] == [status or 0, 409], answers
    secret = server.get("v1", "Secret", ns, "app-secret")
    assert secret is not None
    assert base64.b64decode(secret["data"]["password"]) == b"two"
    assert outcomes(report) == {("Deployment", "api"): RolloutOutcome.ROLLED}
    assert report.ok
    assert server.rollout_count(ns, "Deployment", "api") == 1
    assert PENDING not in annotations_of(server, ns)

    server.reset_request_log()
    again = sync(targets, ns, {"password": b"two"})
    assert set(outcomes(again).values()) == {RolloutOutcome.UNCHANGED}
    assert writes(server, ns) == []
    assert server.rollout_count(ns, "Deployment", "api") == 1


def test_a_restart_that_could_not_be_made_stays_pending_until_a_later_sync_makes_it(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    server.put(workload(ns, "api", {"containers": [container(env=[env_ref("app-secret")])]}))
    server.put(workload(ns, "worker", {"containers": [container(env=[env_ref("app-secret")])]}))
    server.forbid("patch", "deployments", ns)

    first = sync(targets, ns, {"password": b"one"})

    assert set(outcomes(first).values()) == {RolloutOutcome.FAILED}
    assert PENDING in annotations_of(server, ns)
    server.clear_faults()
    later = sync(targets, ns, {"password": b"one"})
    assert [s.outcome for s in later.secrets] == [SecretOutcome.UNCHANGED]
    assert outcomes(later) == {
        ("Deployment", "api"): RolloutOutcome.ROLLED,
        ("Deployment", "worker"): RolloutOutcome.ROLLED,
    }
    assert all("earlier sync left pending" in w.message for w in later.workloads)
    assert PENDING not in annotations_of(server, ns)
    for name in ("api", "worker"):
        assert server.rollout_count(ns, "Deployment", name) == 1
    # A workload created now started after the Secret: it is left alone.
    server.put(workload(ns, "late", {"containers": [container(env=[env_ref("app-secret")])]}))
    quiet = sync(targets, ns, {"password": b"one"})
    assert outcomes(quiet)[("Deployment", "late")] is RolloutOutcome.UNCHANGED
    assert server.rollout_count(ns, "Deployment", "late") == 0


# ----------------------------------------------------------------------- concurrency


def test_a_stale_resource_version_conflict_is_retried(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    sync(targets, ns, {"password": b"one"})
    server.inject_faults(status=409, count=1, verb="update", resource="secrets")
    server.reset_request_log()

    report = sync(targets, ns, {"password": b"two"})

    assert [s.outcome for s in report.secrets] == [SecretOutcome.UPDATED]
    updates = [r.status for r in server.request_log if r.verb == "update"]
    # The last update drops the restart marker: no workload uses the Secret.
    assert updates == [409, 200, 200]
    secret = server.get("v1", "Secret", ns, "app-secret")
    assert secret is not None
    assert base64.b64decode(secret["data"]["password"]) == b"two"


def test_a_concurrent_edit_is_never_silently_overwritten(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    """Someone takes the Secret away from sealgate between its read and its write."""
    sync(targets, ns, {"password": b"one"})
    server.inject_faults(status=409, count=1, verb="update", resource="secrets")
    stolen = server.get("v1", "Secret", ns, "app-secret")
    assert stolen is not None
    stolen["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "someone-else"}
    stolen["data"] = {"password": base64.b64encode(b"theirs").decode()}
    server.put(stolen)

    report = sync(targets, ns, {"password": b"two"})

    assert [s.outcome for s in report.secrets] == [SecretOutcome.REFUSED]
    kept = server.get("v1", "Secret", ns, "app-secret")
    assert kept is not None
    assert base64.b64decode(kept["data"]["password"]) == b"theirs"


def test_a_not_found_on_update_is_re_read_like_a_conflict(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    sync(targets, ns, {"password": b"one"})
    server.inject_faults(status=404, count=1, verb="update", resource="secrets")
    server.reset_request_log()
    report = sync(targets, ns, {"password": b"two"})
    assert [s.outcome for s in report.secrets] == [SecretOutcome.UPDATED]
    assert [(r.verb, r.status) for r in writes(server, ns) if r.resource == "secrets"] == [
        ("update", 404),
        ("update", 200),
        ("update", 200),  # the restart marker dropped
    ]


def test_server_errors_are_retried_with_backoff(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    server.inject_faults(status=503, count=2, verb="get", resource="secrets")
    report = sync(targets, ns, {"password": b"x"})
    assert [s.outcome for s in report.secrets] == [SecretOutcome.CREATED]


def test_throttling_is_retried_after_the_servers_retry_after(
    server: KubeApiServer, kubeconfig: Path, ns: str
) -> None:
    slept: list[float] = []
    t = KubeTargets(
        [ClusterConfig("loop", kubeconfig=kubeconfig, context="loopback")],
        KEY,
        retry=FAST,
        sleep=slept.append,
    )
    server.inject_faults(status=429, count=1, verb="get", resource="secrets")
    report = t.sync_secret(["loop"], ns, "s", {"k": b"v"}, PROV)
    t.close()
    assert [s.outcome for s in report.secrets] == [SecretOutcome.CREATED]
    assert [r.status for r in server.request_log if r.verb == "get" and r.namespace == ns] == [
        429,
        404,
    ]
    # The server asked for 1 s; the policy's own back-off here is at most 0.05 s.
    assert slept == [1.0]


def test_server_errors_that_persist_fail_as_retryable(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    server.inject_faults(status=500, count=10, verb="create", resource="secrets")
    report = sync(targets, ns, {"password": b"x"})
    server.clear_faults()
    (result,) = report.secrets
    assert result.outcome is SecretOutcome.FAILED
    assert result.retryable
    assert report.retryable
    assert "HTTP 500" in result.message


# ---------------------------------------------------------------------- ownership


def test_an_unmanaged_secret_is_left_untouched_and_reported(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    seed_workloads(server, ns, "app-secret")
    server.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "app-secret", "namespace": ns, "labels": {"team": "db"}},
            "type": "Opaque",
            "data": {"password": base64.b64encode(b"theirs").decode()},
        }
    )
    before = server.get("v1", "Secret", ns, "app-secret")
    server.reset_request_log()

    report = sync(targets, ns, {"password": b"ours"})

    (result,) = report.secrets
    assert result.outcome is SecretOutcome.REFUSED
    assert "not manage" in result.message
    assert "sealgate.dev/adopt=true" in result.message
    assert not report.ok
    assert server.get("v1", "Secret", ns, "app-secret") == before
    assert writes(server, ns) == []
    assert report.workloads == ()
    for kind, name in REFERENCING:
        assert server.rollout_count(ns, kind, name) == 0


def test_an_unmanaged_secret_found_by_the_batch_path_is_refused_without_writes(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    server.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "taken", "namespace": ns},
            "type": "Opaque",
            "data": {},
        }
    )
    server.reset_request_log()
    report = targets.sync_many(
        "loop",
        [
            DesiredSecret(ns, "taken", {"k": b"v"}, PROV),
            DesiredSecret(ns, "free", {"k": b"v"}, PROV),
        ],
    )
    assert [(s.name, s.outcome) for s in report.secrets] == [
        ("taken", SecretOutcome.REFUSED),
        ("free", SecretOutcome.CREATED),
    ]
    # A create names no object in its path: the one write is the free Secret's, created
    # without a restart marker since no workload uses it.
    assert [(r.verb, r.name) for r in writes(server, ns) if r.resource == "secrets"] == [
        ("create", None),
    ]
    taken = server.get("v1", "Secret", ns, "taken")
    assert taken is not None
    assert "labels" not in taken["metadata"] or not taken["metadata"]["labels"]


def test_adoption_by_annotation(server: KubeApiServer, targets: KubeTargets, ns: str) -> None:
    server.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "app-secret",
                "namespace": ns,
                "labels": {"team": "db"},
                "annotations": {
                    "sealgate.dev/adopt": "true",
                    "owner": "db-team",
                    "kubectl.kubernetes.io/last-applied-configuration": '{"data":{}}',
                },
            },
            "type": "Opaque",
            "data": {"password": base64.b64encode(b"theirs").decode()},
        }
    )

    report = sync(targets, ns, {"password": b"ours"})

    (result,) = report.secrets
    assert result.outcome is SecretOutcome.UPDATED
    assert "adopted" in result.message
    secret = server.get("v1", "Secret", ns, "app-secret")
    assert secret is not None
    assert base64.b64decode(secret["data"]["password"]) == b"ours"
    meta = secret["metadata"]
    assert meta["labels"] == {"team": "db", "app.kubernetes.io/managed-by": "sealgate"}
    assert meta["annotations"]["owner"] == "db-team"
    assert "sealgate.dev/adopt" not in meta["annotations"]
    assert "kubectl.kubernetes.io/last-applied-configuration" not in meta["annotations"]
    assert [s.outcome for s in sync(targets, ns, {"password": b"ours"}).secrets] == [
        SecretOutcome.UNCHANGED
    ]


def test_a_secret_of_another_type_is_refused_even_when_adoptable(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    server.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "app-secret",
                "namespace": ns,
                "annotations": {"sealgate.dev/adopt": "true"},
            },
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "", "tls.key": ""},
        }
    )
    (result,) = sync(targets, ns, {"password": b"x"}).secrets
    assert result.outcome is SecretOutcome.REFUSED
    assert "kubernetes.io/tls" in result.message


# -------------------------------------------------------------------------- failures


def test_a_failing_rollout_is_reported_with_the_reason(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    server.put(workload(ns, "api", {"containers": [container(env=[env_ref("app-secret")])]}))
    sync(targets, ns, {"password": b"one"})
    server.fail_rollouts(ns, "Deployment", "api", message="image pull backoff on api-7d9")

    report = sync(targets, ns, {"password": b"two"})

    (result,) = report.workloads
    assert result.outcome is RolloutOutcome.FAILED
    assert "image pull backoff on api-7d9" in result.message
    assert not report.ok


def test_a_rollout_that_does_not_finish_in_time_is_reported_as_timeout(
    kubeconfig: Path, tmp_path: Path
) -> None:
    with KubeApiServer(rollout_seconds=60) as slow:
        config = slow.write_kubeconfig(tmp_path / "config")
        slow.create_namespace("apps")
        slow.put(workload("apps", "api", {"containers": [container(env=[env_ref("s")])]}))
        t = KubeTargets([ClusterConfig("slow", kubeconfig=config)], KEY, poll_interval_s=0.05)
        report = t.sync_secret(["slow"], "apps", "s", {"k": b"v"}, PROV, timeout_s=0.3)
        t.close()
    (result,) = report.workloads
    assert result.outcome is RolloutOutcome.TIMEOUT
    assert report.retryable


def test_forbidden_is_reported_clearly(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    sync(targets, ns, {"password": b"one"})
    server.forbid("update", "secrets", ns)
    try:
        report = sync(targets, ns, {"password": b"two"})
    finally:
        server.clear_faults()
    (result,) = report.secrets
    assert result.outcome is SecretOutcome.FAILED
    assert not result.retryable
    assert "forbidden" in result.message
    assert "update secrets in namespace " + ns in result.message


def test_forbidden_reads_raise_a_cluster_error_naming_the_permission(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    server.forbid("get", "secrets", ns)
    try:
        with pytest.raises(ClusterError) as caught:
            targets.read_checksum("loop", ns, "app-secret")
    finally:
        server.clear_faults()
    assert not caught.value.retryable
    assert f"cannot get secrets in namespace {ns}" in str(caught.value)


def test_a_missing_namespace_fails_without_retry(targets: KubeTargets) -> None:
    report = targets.sync_secret(["loop"], "no-such-namespace", "s", {"k": b"v"}, PROV)
    (result,) = report.secrets
    assert result.outcome is SecretOutcome.FAILED
    assert not result.retryable


def test_an_unknown_cluster_is_reported_per_secret(targets: KubeTargets, ns: str) -> None:
    report = targets.sync_secret(["loop", "mars"], ns, "s", {"k": b"v"}, PROV)
    by_cluster = {s.cluster: s for s in report.secrets}
    assert by_cluster["loop"].outcome is SecretOutcome.CREATED
    assert by_cluster["mars"].outcome is SecretOutcome.FAILED
    assert "mars is not configured" in by_cluster["mars"].message


def test_a_server_that_does_not_answer_in_time_fails_as_retryable(
    server: KubeApiServer, kubeconfig: Path, ns: str
) -> None:
    impatient = KubeTargets(
        [ClusterConfig("loop", kubeconfig=kubeconfig, context="loopback", request_timeout_s=0.2)],
        KEY,
        retry=FAST,
    )
    server.inject_faults(status=200, count=4, verb="get", resource="secrets", delay_seconds=0.6)
    try:
        report = impatient.sync_secret(["loop"], ns, "s", {"k": b"v"}, PROV)
    finally:
        server.clear_faults()
        impatient.close()
    (result,) = report.secrets
    assert result.outcome is SecretOutcome.FAILED
    assert result.retryable
    assert "no answer" in result.message


def test_cluster_configuration_errors_are_reported(kubeconfig: Path, ns: str) -> None:
    broken = KubeTargets(
        [
            ClusterConfig("wrong-context", kubeconfig=kubeconfig, context="no-such-context"),
            ClusterConfig("no-pod", in_cluster=True),
        ],
        KEY,
    )
    report = broken.sync_secret(["wrong-context", "no-pod"], ns, "s", {"k": b"v"}, PROV)
    messages = {s.cluster: s.message for s in report.secrets}
    assert {s.outcome for s in report.secrets} == {SecretOutcome.FAILED}
    assert not report.retryable
    assert "context no-such-context" in messages["wrong-context"]
    assert "in-cluster service account" in messages["no-pod"]


# --------------------------------------------------------------------- drift repair


def test_read_checksum_and_delete_only_touch_managed_secrets(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    data = {"k": b"v"}
    sync(targets, ns, data)
    server.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "theirs", "namespace": ns},
            "type": "Opaque",
        }
    )
    assert targets.read_checksum("loop", ns, "app-secret") == targets.checksum(data)
    assert targets.read_checksum("loop", ns, "theirs") is None
    assert targets.read_checksum("loop", ns, "absent") is None

    with pytest.raises(ClusterError):
        targets.delete_secret("loop", ns, "theirs")
    assert server.get("v1", "Secret", ns, "theirs") is not None
    assert targets.delete_secret("loop", ns, "app-secret") is True
    assert server.get("v1", "Secret", ns, "app-secret") is None
    assert targets.delete_secret("loop", ns, "app-secret") is False


def test_the_batch_path_lists_each_namespace_once(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    other = f"{ns}-b"
    server.create_namespace(other)
    desired = [
        DesiredSecret(n, f"s{i}", {"k": str(i).encode()}, PROV)
        for n in (ns, other)
        for i in range(5)
    ]
    first = targets.sync_many("loop", desired)
    assert {s.outcome for s in first.secrets} == {SecretOutcome.CREATED}
    server.reset_request_log()

    again = targets.sync_many("loop", desired)

    assert {s.outcome for s in again.secrets} == {SecretOutcome.UNCHANGED}
    # Filtered by namespace: a slow answer to an earlier test may still land in the log.
    mine = [r for r in server.request_log if r.namespace in (ns, other)]
    secret_reads = [(r.verb, r.namespace) for r in mine if r.resource == "secrets"]
    assert sorted(secret_reads) == sorted([("list", ns), ("list", other)])
    assert [r for r in mine if r.verb in WRITES] == []


# ---------------------------------------------------------------------------- canary


def test_a_secret_value_never_leaves_the_secret_data(
    server: KubeApiServer, targets: KubeTargets, ns: str, caplog: pytest.LogCaptureFixture
) -> None:
    canary = b"CANARY-7f3a9c-do-not-leak"
    encoded = base64.b64encode(canary).decode()
    caplog.set_level(logging.DEBUG)
    seed_workloads(server, ns, "app-secret")
    texts: list[str] = []

    reports = [sync(targets, ns, {"password": canary})]
    reports.append(sync(targets, ns, {"password": canary, "second": canary}))
    server.inject_faults(status=409, count=1, verb="update", resource="secrets")
    reports.append(sync(targets, ns, {"password": b"other" + canary}))
    server.forbid("update", "secrets", ns)
    reports.append(sync(targets, ns, {"password": canary}))
    server.clear_faults()
    server.inject_faults(status=422, count=1, verb="update", resource="secrets")
    reports.append(sync(targets, ns, {"password": canary + b"!"}))
    server.clear_faults()
    server.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "foreign", "namespace": ns},
            "type": "Opaque",
        }
    )
    reports.append(targets.sync_secret(["loop"], ns, "foreign", {"password": canary}, PROV))
    desired = DesiredSecret(ns, "batch", {"password": canary}, PROV)
    reports.append(targets.sync_many("loop", [desired]))
    texts.append(repr(desired))
    server.forbid("get", "secrets", ns)
    try:
        targets.read_checksum("loop", ns, "app-secret")
    except ClusterError as exc:
        chain: BaseException | None = exc
        while chain is not None:
            texts.append(str(chain))
            texts.append(repr(chain))
            chain = chain.__cause__
    finally:
        server.clear_faults()

    assert {s.outcome for r in reports for s in r.secrets} >= {
        SecretOutcome.CREATED,
        SecretOutcome.UPDATED,
        SecretOutcome.FAILED,
        SecretOutcome.REFUSED,
    }
    texts.extend(repr(r) for r in reports)
    texts.append(caplog.text)
    for kind in ("Secret", "Event"):
        for obj in server.list("v1", kind, ns):
            texts.append(repr(obj.get("metadata", {}).get("annotations")))
            texts.append(repr(obj.get("metadata", {}).get("labels")))
            texts.append(repr(obj.get("message")))
    for kind in ("Deployment", "StatefulSet", "DaemonSet"):
        texts.extend(repr(obj) for obj in server.list("apps/v1", kind, ns))
    blob = "\n".join(texts)
    assert "CANARY" not in blob
    assert encoded not in blob
    assert "SealgateSynced" in repr(server.list("v1", "Event", ns))


def test_a_new_secret_nothing_uses_is_one_write_without_marker_or_event(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    server.reset_request_log()
    report = sync(targets, ns, {"k": b"v"})
    assert [s.outcome for s in report.secrets] == [SecretOutcome.CREATED]
    assert [(r.verb, r.resource) for r in writes(server, ns)] == [("create", "secrets")]
    assert PENDING not in annotations_of(server, ns)
    assert not [e for e in server.list("v1", "Event", ns) if e["reason"] == "SealgateSynced"]


def test_a_new_secret_a_workload_already_uses_keeps_its_marker_and_event_until_restarted(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    seed_workloads(server, ns, "app-secret")
    server.reset_request_log()
    report = sync(targets, ns, {"k": b"v"})
    created = [r for r in writes(server, ns) if r.verb == "create" and r.resource == "secrets"]
    assert len(created) == 1
    assert all(o is RolloutOutcome.ROLLED for k, o in outcomes(report).items() if k in REFERENCING)
    events = [e for e in server.list("v1", "Event", ns) if e["reason"] == "SealgateSynced"]
    assert len(events) == 1


def test_an_update_of_a_secret_nothing_uses_still_records_an_event(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    sync(targets, ns, {"k": b"v1"})
    sync(targets, ns, {"k": b"v2"})
    events = [e for e in server.list("v1", "Event", ns) if e["reason"] == "SealgateSynced"]
    assert [e["message"].split(" by ")[0] for e in events] == ["Secret updated"]
