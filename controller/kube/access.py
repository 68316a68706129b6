"""Probe one cluster before the controller relies on it (``sealgate run --check --online``).

The API must answer, each namespace sealgate writes must exist, and its credentials must
allow what it does there. Permissions are proven by requests that change nothing: a
dry-run create of a Secret (which also proves the namespace exists: a missing one answers
404 even to a dry run) and small lists of Secrets and workloads; for the Lease, a read of it
and a dry-run create. Verbs no harmless request can prove (update, patch, delete) are said
to be unchecked rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.errors import ClusterError
from controller.kube.clusters import ClusterConfig, connect

PROBE_NAME = "sealgate-preflight-probe"
UNCHECKED = (
    "update and delete of Secrets and patch of workloads are not checked (no request proves "
    "them without changing something): compare the credentials' RBAC with deploy/rbac/"
)


@dataclass
class ClusterAccess:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def probe_cluster(
    cluster: ClusterConfig,
    namespaces: Sequence[str],
    *,
    lease: tuple[str, str] | None = None,
) -> ClusterAccess:
    """What stops sealgate from working in ``namespaces`` of ``cluster`` (and, for
    ``lease = (namespace, name)``, from holding its leader Lease there)."""
    found = ClusterAccess()
    try:
        api = connect(cluster)
    except ClusterError as exc:
        found.problems.append(str(exc))
        return found
    try:
        timeout = (min(5.0, cluster.request_timeout_s), cluster.request_timeout_s)
        raw = api.api_client
        host = raw.configuration.host
        try:
            client.VersionApi(raw).get_code(_request_timeout=timeout)
        except ApiException as exc:
            if exc.status in (401, 403):
                found.problems.append(
                    f"cluster {cluster.name}: {host} refuses the credentials (HTTP "
                    f"{exc.status}): renew the token or certificate in the kubeconfig"
                )
                return found
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            found.problems.append(
                f"cluster {cluster.name}: the API at {host} does not answer "
                f"({type(exc).__name__}): check the address, the network and the cluster"
            )
            return found
        core, apps = client.CoreV1Api(raw), client.AppsV1Api(raw)
        for namespace in namespaces:
            _namespace(
                found,
                cluster=cluster.name,
                namespace=namespace,
                core=core,
                apps=apps,
                timeout=timeout,
            )
        if lease is not None:
            _lease(found, cluster.name, lease, client.CoordinationV1Api(raw), timeout)
        if namespaces:
            found.notes.append(f"cluster {cluster.name}: {UNCHECKED}")
    finally:
        api.close()
    return found


def _namespace(
    found: ClusterAccess,
    *,
    cluster: str,
    namespace: str,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    timeout: tuple[float, float],
) -> None:
    probe = client.V1Secret(metadata=client.V1ObjectMeta(name=PROBE_NAME), type="Opaque")
    where = f"cluster {cluster}: namespace {namespace}"

    def create() -> Any:
        return core.create_namespaced_secret(
            namespace, probe, dry_run="All", _request_timeout=timeout
        )

    status = _status(create)
    if status == 404:
        found.problems.append(
            f"{where} does not exist: create it, or remove it from the environment's namespaces"
        )
        return
    _require(found, where, "create Secrets", status, ok=(409,))
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("list Secrets", lambda: core.list_namespaced_secret(
            namespace, limit=1, _request_timeout=timeout)),
        ("list Deployments", lambda: apps.list_namespaced_deployment(
            namespace, limit=1, _request_timeout=timeout)),
        ("list StatefulSets", lambda: apps.list_namespaced_stateful_set(
            namespace, limit=1, _request_timeout=timeout)),
        ("list DaemonSets", lambda: apps.list_namespaced_daemon_set(
            namespace, limit=1, _request_timeout=timeout)),
    ]  # fmt: skip
    for what, call in calls:
        _require(found, where, what, _status(call))


def _lease(
    found: ClusterAccess,
    cluster: str,
    lease: tuple[str, str],
    coordination: client.CoordinationV1Api,
    timeout: tuple[float, float],
) -> None:
    namespace, name = lease
    where = f"cluster {cluster}: leader Lease {namespace}/{name}"
    status = _status(
        lambda: coordination.read_namespaced_lease(name, namespace, _request_timeout=timeout)
    )
    _require(found, where, "get the Lease", status, ok=(404,))
    body = client.V1Lease(metadata=client.V1ObjectMeta(name=name))
    status = _status(
        lambda: coordination.create_namespaced_lease(
            namespace, body, dry_run="All", _request_timeout=timeout
        )
    )
    if status == 404:
        found.problems.append(
            f"{where}: namespace {namespace} does not exist: create it or fix "
            "leaderElection.namespace"
        )
        return
    _require(found, where, "create the Lease", status, ok=(409,))


def _status(call: Callable[[], Any]) -> int | str:
    """200 when the call succeeded, the HTTP status it failed with, or the error's type."""
    try:
        call()
    except ApiException as exc:
        return int(exc.status or 0)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return type(exc).__name__
    return 200


def _require(
    found: ClusterAccess, where: str, what: str, status: int | str, ok: tuple[int, ...] = ()
) -> None:
    if status == 200 or status in ok:
        return
    if status in (401, 403):
        found.problems.append(
            f"{where}: may not {what} (HTTP {status}): grant it (see deploy/rbac/)"
        )
    else:
        found.problems.append(f"{where}: could not {what} ({status}): check the cluster")
