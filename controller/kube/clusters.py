"""Where the clusters are: kubeconfig contexts or the pod's own service account."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from controller.errors import ClusterError
from controller.kube.api import KubeApi, RetryPolicy

USER_AGENT = "sealgate"


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    name: str
    kubeconfig: Path | None = None
    """None: the client's default (``$KUBECONFIG`` or ``~/.kube/config``)."""
    context: str | None = None
    """None: the kubeconfig's current context."""
    in_cluster: bool = False
    """Use the service account of the pod sealgate runs in; kubeconfig and context are ignored."""
    request_timeout_s: float = 30.0


def connect(
    cluster: ClusterConfig,
    *,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> KubeApi:
    """One ``ApiClient`` for one cluster. Reads configuration only; no request is made."""
    configuration = client.Configuration()
    # Retries belong to KubeApi, which knows which calls are safe to repeat and backs off.
    configuration.retries = False
    try:
        if cluster.in_cluster:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(cluster.kubeconfig) if cluster.kubeconfig else None,
                context=cluster.context,
                client_configuration=configuration,
                persist_config=False,
            )
    except (ConfigException, OSError, ValueError) as exc:
        if cluster.in_cluster:
            source = "the in-cluster service account"
        else:
            where = cluster.kubeconfig or "(default)"
            source = f"kubeconfig {where} context {cluster.context or '(current)'}"

        raise ClusterError(
            f"cluster {cluster.name}: cannot load {source}: {type(exc).__name__}",
            retryable=False,
        ) from exc
    api_client = client.ApiClient(configuration)
    api_client.user_agent = USER_AGENT
    return KubeApi(
        api_client,
        cluster.name,
        retry=retry,
        request_timeout_s=cluster.request_timeout_s,
        sleep=sleep,
    )
