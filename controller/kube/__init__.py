"""The Kubernetes adapter: the only module that imports the `kubernetes` client.

:class:`KubeTargets` is what the reconciler uses: it upserts Secrets with provenance
annotations and a keyed checksum, refuses Secrets sealgate does not manage (unless annotated
``sealgate.dev/adopt: "true"``), restarts the Deployments, StatefulSets and DaemonSets that use
a changed Secret by patching ``sealgate.dev/checksum-<secret>`` on their pod template, watches
the rollouts, and reports per Secret and per workload. :class:`LeaderElector` keeps one replica
active through a Lease.
"""

from controller.kube.api import KubeApi, RetryPolicy
from controller.kube.checksum import secret_checksum, template_annotation
from controller.kube.clusters import ClusterConfig, connect
from controller.kube.leader import LeaderElector
from controller.kube.results import (
    DesiredSecret,
    Provenance,
    RolloutOutcome,
    SecretOutcome,
    SecretSync,
    SyncReport,
    WorkloadOutcome,
)
from controller.kube.sync import ClusterSync
from controller.kube.targets import KubeTargets
from controller.kube.tokens import review_token

__all__ = [
    "ClusterConfig",
    "ClusterSync",
    "DesiredSecret",
    "KubeApi",
    "KubeTargets",
    "LeaderElector",
    "Provenance",
    "RetryPolicy",
    "RolloutOutcome",
    "SecretOutcome",
    "SecretSync",
    "SyncReport",
    "WorkloadOutcome",
    "connect",
    "review_token",
    "secret_checksum",
    "template_annotation",
]
