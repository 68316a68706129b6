"""Write, remove and find the Roles and RoleBindings that deliver access grants.

Writes follow ``secrets.py``: read, then create or a PUT carrying the resourceVersion read; a
409 re-reads and decides again, a bounded number of times. An object of that name sealgate
did not label as this grant's is refused and left untouched. A RoleBinding's ``roleRef``
cannot change in place (the API server answers 422), so a wrong one is deleted and recreated.
Only objects both labelled and named as a grant's are ever deleted or reported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from controller.errors import ClusterError, ConflictError
from controller.kube import names
from controller.kube.access_rbac import (
    Obj,
    check_grant_id,
    delivers_kubernetes,
    desired_objects,
    owned_by,
    replacement,
    up_to_date,
)
from controller.kube.api import KubeApi
from controller.model import Grant

log = logging.getLogger(__name__)

MAX_CONFLICTS = 5
# Bindings first on the way out: access stops with the first deletion.
_UNBIND_ORDER = ("RoleBinding", "Role")
_KINDS = ("Role", "RoleBinding")


def _refusal(api: KubeApi, kind: str, namespace: str, name: str, grant_id: str) -> ClusterError:
    return ClusterError(
        f"cluster {api.cluster}: a {kind} {namespace}/{name} exists that sealgate does not "
        f"manage for grant {grant_id}: not touching it; delete or rename it to let sealgate "
        "deliver the grant",
        retryable=False,
    )


def write(api: KubeApi, desired: Obj, grant_id: str) -> str:
    """Create or repair one object: ``created``, ``updated``, ``recreated`` or ``unchanged``."""
    kind = str(desired["kind"])
    namespace, name = desired["metadata"]["namespace"], desired["metadata"]["name"]
    current = api.get_rbac(kind, namespace, name)
    for _ in range(MAX_CONFLICTS):
        try:
            if current is None:
                api.create_rbac(kind, namespace, desired)
                log.info("cluster %s: created %s %s/%s", api.cluster, kind, namespace, name)
                return "created"
            if not owned_by(current, grant_id):
                raise _refusal(api, kind, namespace, name, grant_id)
            if up_to_date(current, desired):
                return "unchanged"
            meta = current.get("metadata") or {}
            if kind == "RoleBinding" and current.get("roleRef") != desired["roleRef"]:
                api.delete_rbac(
                    kind,
                    namespace,
                    name,
                    uid=str(meta.get("uid", "")),
                    resource_version=str(meta.get("resourceVersion", "")),
                )
                api.create_rbac(kind, namespace, desired)
                log.info("cluster %s: recreated %s %s/%s", api.cluster, kind, namespace, name)
                return "recreated"
            api.replace_rbac(kind, namespace, name, replacement(current, desired))
            log.info("cluster %s: updated %s %s/%s", api.cluster, kind, namespace, name)
            return "updated"
        except ConflictError:
            # Written, created or deleted in between: read again and decide again.
            current = api.get_rbac(kind, namespace, name)
    raise ClusterError(
        f"cluster {api.cluster}: {kind} {namespace}/{name}: gave up after {MAX_CONFLICTS} "
        "conflicting writes: it keeps changing",
        retryable=True,
    )


def bind(api: KubeApi, grant: Grant) -> dict[str, str]:
    """Deliver ``grant``: ``"<kind> <namespace>/<name>"`` -> what was done. Every namespace
    is tried; failures are raised together afterwards (``ClusterError``)."""
    if not delivers_kubernetes(grant):
        return {}
    if grant.revoked_at is not None or grant.ended_recorded:
        # A safety belt under the reconciler: access that ended is never handed out again.
        raise ClusterError(
            f"grant {grant.id} is revoked or ended: not delivering it", retryable=False
        )
    done: dict[str, str] = {}
    failures: list[ClusterError] = []
    for role, binding in desired_objects(grant):
        try:
            # The Role first, and the binding only once the Role is sealgate's: a binding
            # to a Role someone else made would grant whatever that Role allows.
            for obj in (role, binding):
                where = f"{obj['kind']} {obj['metadata']['namespace']}/{obj['metadata']['name']}"
                done[where] = write(api, obj, grant.id)
        except ClusterError as exc:
            failures.append(exc)
    _raise_all(api, f"grant {grant.id}: not delivered everywhere", failures)
    return done


def _raise_all(api: KubeApi, summary: str, failures: list[ClusterError]) -> None:
    if not failures:
        return
    if len(failures) == 1:
        raise failures[0]
    # Retryable when any part is: a retry finishes those, and meets the others again.
    error = ClusterError(
        f"cluster {api.cluster}: {summary}: " + "; ".join(str(f) for f in failures),
        retryable=any(f.retryable for f in failures),
    )
    raise error from failures[0]


def _scopes(namespaces: Iterable[str] | None) -> list[str | None]:
    return [None] if namespaces is None else list(dict.fromkeys(namespaces))


def unbind(api: KubeApi, grant_id: str, namespaces: Iterable[str] | None = None) -> int:
    """Delete ``grant_id``'s Roles and RoleBindings (in ``namespaces``, or everywhere):
    how many were deleted. Gone already is fine."""
    check_grant_id(grant_id)
    selector = f"{names.SELECTOR},{names.GRANT}={grant_id}"
    deleted = 0
    failures: list[ClusterError] = []
    for scope in _scopes(namespaces):
        for kind in _UNBIND_ORDER:
            try:
                for obj in api.list_rbac(kind, scope, selector):
                    if owned_by(obj, grant_id):
                        deleted += _delete(api, kind, obj, grant_id)
            except ClusterError as exc:
                failures.append(exc)
    _raise_all(api, f"grant {grant_id}: not removed everywhere", failures)
    return deleted


def _delete(api: KubeApi, kind: str, obj: Obj, grant_id: str) -> int:
    meta = obj.get("metadata") or {}
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    current: Obj | None = obj
    for _ in range(MAX_CONFLICTS):
        if current is None or not owned_by(current, grant_id):
            return 0  # gone, or no longer sealgate's: either way not ours to delete
        meta = current.get("metadata") or {}
        try:
            gone = api.delete_rbac(
                kind,
                namespace,
                name,
                uid=str(meta.get("uid", "")),
                resource_version=str(meta.get("resourceVersion", "")),
            )
        except ConflictError:
            current = api.get_rbac(kind, namespace, name)
            continue
        if gone:
            log.info("cluster %s: deleted %s %s/%s", api.cluster, kind, namespace, name)
        return int(gone)
    raise ClusterError(
        f"cluster {api.cluster}: {kind} {namespace}/{name}: gave up deleting after "
        f"{MAX_CONFLICTS} conflicting writes: it keeps changing",
        retryable=True,
    )


def bound(api: KubeApi, namespaces: Iterable[str] | None = None) -> frozenset[str]:
    """Grant ids of every sealgate access Role or RoleBinding (in ``namespaces``, or
    everywhere)."""
    selector = f"{names.SELECTOR},{names.GRANT}"
    found: set[str] = set()
    for scope in _scopes(namespaces):
        for kind in _KINDS:
            for obj in api.list_rbac(kind, scope, selector):
                labels = (obj.get("metadata") or {}).get("labels") or {}
                grant_id = str(labels.get(names.GRANT, ""))
                if grant_id and owned_by(obj, grant_id):
                    found.add(grant_id)
    return frozenset(found)
