"""The narrow facade the reconciler calls: sync Secrets into named clusters and report."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from controller.errors import ClusterError
from controller.kube import access_sync, names
from controller.kube.api import KubeApi, RetryPolicy
from controller.kube.checksum import secret_checksum
from controller.kube.clusters import ClusterConfig, connect
from controller.kube.leader import LeaderElector
from controller.kube.results import (
    DesiredSecret,
    Provenance,
    SecretOutcome,
    SecretSync,
    SyncReport,
)
from controller.kube.secrets import is_managed
from controller.kube.sync import ClusterSync
from controller.model import Grant


class KubeTargets:
    """Every configured cluster, each with one client, connected on first use."""

    def __init__(
        self,
        clusters: Sequence[ClusterConfig],
        checksum_key: bytes,
        *,
        retry: RetryPolicy | None = None,
        poll_interval_s: float = 1.0,
        events: bool = True,
        workers: int = 4,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not checksum_key:
            raise ValueError("the checksum key must not be empty")
        self._configs = {c.name: c for c in clusters}
        if len(self._configs) != len(clusters):
            raise ValueError("cluster names must be unique")
        self._key = checksum_key
        self._retry = retry
        self._poll = poll_interval_s
        self._events = events
        self._workers = workers
        self._clock = clock
        self._sleep = sleep
        self._apis: dict[str, KubeApi] = {}
        self._lock = threading.Lock()

    @property
    def clusters(self) -> tuple[str, ...]:
        return tuple(self._configs)

    def api(self, cluster: str) -> KubeApi:
        with self._lock:
            if cluster not in self._apis:
                config = self._configs.get(cluster)
                if config is None:
                    raise ClusterError(
                        f"cluster {cluster} is not configured: add it to the controller's clusters",
                        retryable=False,
                    )
                self._apis[cluster] = connect(config, retry=self._retry, sleep=self._sleep)
            return self._apis[cluster]

    def close(self) -> None:
        with self._lock:
            for api in self._apis.values():
                api.close()
            self._apis.clear()

    def checksum(self, data: Mapping[str, bytes]) -> str:
        """The keyed checksum sealgate writes for ``data`` (compare with :meth:`read_checksum`)."""
        return secret_checksum(self._key, data)

    def _syncer(self, cluster: str) -> ClusterSync:
        return ClusterSync(
            self.api(cluster),
            self._key,
            poll_interval_s=self._poll,
            events=self._events,
            workers=self._workers,
            clock=self._clock,
            sleep=self._sleep,
        )

    # -------------------------------------------------------------------- sync

    def sync_many(
        self,
        cluster: str,
        secrets: Sequence[DesiredSecret],
        *,
        wait: bool = True,
        timeout_s: float = 300.0,
        on_written: Callable[[], None] | None = None,
    ) -> SyncReport:
        """Sync a batch into one cluster, listing each namespace's Secrets once;
        ``on_written`` as for :meth:`ClusterSync.sync`."""
        try:
            syncer = self._syncer(cluster)
        except ClusterError as exc:
            return _all_failed(cluster, secrets, exc)
        return syncer.sync(
            secrets, wait=wait, timeout_s=timeout_s, batch=True, on_written=on_written
        )

    def sync_secret(
        self,
        env_clusters: Sequence[str],
        namespace: str,
        name: str,
        data: Mapping[str, bytes],
        provenance: Provenance,
        *,
        wait: bool = True,
        timeout_s: float = 300.0,
    ) -> SyncReport:
        """Sync one Secret into every cluster of an environment, in parallel."""
        desired = DesiredSecret(namespace, name, data, provenance)

        def one(cluster: str) -> SyncReport:
            try:
                syncer = self._syncer(cluster)
            except ClusterError as exc:
                return _all_failed(cluster, [desired], exc)
            return syncer.sync([desired], wait=wait, timeout_s=timeout_s, batch=False)

        clusters = list(dict.fromkeys(env_clusters))
        if len(clusters) <= 1:
            reports = [one(c) for c in clusters]
        else:
            with ThreadPoolExecutor(max_workers=len(clusters), thread_name_prefix="sync") as pool:
                reports = list(pool.map(one, clusters))
        report = SyncReport()
        for r in reports:
            report = report.merge(r)
        return report

    # ------------------------------------------------------------- drift repair

    def read_checksum(self, cluster: str, namespace: str, name: str) -> str | None:
        """The checksum annotation of a Secret sealgate manages; None if absent or not ours."""
        secret = self.api(cluster).get_secret(namespace, name)
        if secret is None or not is_managed(secret):
            return None
        annotations = (secret.get("metadata") or {}).get("annotations") or {}
        value = annotations.get(names.CHECKSUM)
        return str(value) if value else None

    def delete_secret(self, cluster: str, namespace: str, name: str) -> bool:
        """Delete a Secret sealgate manages. False if already gone; refuses any other Secret."""
        api = self.api(cluster)
        secret = api.get_secret(namespace, name)
        if secret is None:
            return False
        if not is_managed(secret):
            raise ClusterError(
                f"cluster {cluster}: Secret {namespace}/{name} is not managed by sealgate: "
                "not deleting it",
                retryable=False,
            )
        meta = secret.get("metadata") or {}
        return api.delete_secret(
            namespace,
            name,
            uid=str(meta.get("uid", "")),
            resource_version=str(meta.get("resourceVersion", "")),
        )

    # ---------------------------------------------------------------- access

    def bind_access(self, cluster: str, grant: Grant) -> None:
        """Create or repair the grant's Role and RoleBinding in each of its namespaces
        (nothing for a grant not delivered ``kubernetes``); ``ClusterError`` on failure."""
        access_sync.bind(self.api(cluster), grant)

    def unbind_access(
        self, cluster: str, grant_id: str, *, namespaces: Iterable[str] | None = None
    ) -> None:
        """Delete the grant's Roles and RoleBindings in ``namespaces``; None: in every
        namespace, which needs ``list`` on them cluster-wide (not in ``deploy/rbac``)."""
        access_sync.unbind(self.api(cluster), grant_id, namespaces)

    def bound_grants(
        self, cluster: str, *, namespaces: Iterable[str] | None = None
    ) -> frozenset[str]:
        """Grant ids of sealgate's access Roles and RoleBindings in ``namespaces`` (None:
        every namespace, as for :meth:`unbind_access`)."""
        return access_sync.bound(self.api(cluster), namespaces)

    # ------------------------------------------------------------ leadership

    def leader_elector(
        self,
        cluster: str,
        namespace: str,
        name: str,
        identity: str,
        *,
        lease_duration_s: float = 15.0,
        renew_deadline_s: float = 10.0,
        retry_period_s: float = 2.0,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
    ) -> LeaderElector:
        return LeaderElector(
            self.api(cluster),
            namespace,
            name,
            identity,
            lease_duration_s=lease_duration_s,
            renew_deadline_s=renew_deadline_s,
            retry_period_s=retry_period_s,
            on_started_leading=on_started_leading,
            on_stopped_leading=on_stopped_leading,
        )


def _all_failed(cluster: str, secrets: Sequence[DesiredSecret], exc: ClusterError) -> SyncReport:
    return SyncReport(
        tuple(
            SecretSync(
                cluster,
                s.namespace,
                s.name,
                SecretOutcome.FAILED,
                str(exc),
                retryable=exc.retryable,
            )
            for s in secrets
        )
    )
