"""An access grant as Kubernetes RBAC, decided without I/O: what to write, what is ours.

For a grant delivered ``kubernetes``, each namespace its secrets live in gets a Role
``sealgate-access-<grant id>`` allowing ``get`` on exactly those Secrets (``resourceNames``)
and a RoleBinding of the same name to the grant's subject. Both carry sealgate's label and the
grant id, and are annotated with the end of the grant, its requester and pull request.
``controller.kube.access_sync`` writes them. No kubernetes import here: the reconciler and
the CLI may use these functions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from controller.errors import ClusterError
from controller.kube import names
from controller.model import AccessDelivery, Grant, KubernetesSubject

Obj = dict[str, Any]
RBAC_GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("User", "Group", "ServiceAccount")
_KEPT_METADATA = ("name", "namespace", "uid", "resourceVersion", "ownerReferences", "finalizers")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_MAX_NAME = 253
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def delivers_kubernetes(grant: Grant) -> bool:
    return AccessDelivery.KUBERNETES in grant.deliver


def reveals_whole_secret(grant: Grant) -> bool:
    """Whether Kubernetes delivery gives more than was granted: RBAC cannot restrict a
    Secret's keys, so a ``kubernetes`` grant of some keys of a Secret reveals all of them."""
    return delivers_kubernetes(grant) and any(item.keys for item in grant.secrets)


def check_grant_id(grant_id: str) -> None:
    """The id labels the grant's objects and selects them: it must be a label value, or a
    selector built from it could match other objects (``a,b=c``)."""
    if not _LABEL_VALUE.fullmatch(grant_id):
        raise ClusterError(
            f"grant id {grant_id!r} is not a Kubernetes label value (at most 63 ASCII letters, "
            "digits, '-', '_' or '.', starting and ending with a letter or digit): it cannot "
            "be delivered to kubernetes; rename the access request file",
            retryable=False,
        )


def access_name(grant_id: str) -> str:
    """``sealgate-access-<grant id>``; an id that is no valid object name (``_``, ``-.``)
    is cleaned and given a digest, so two grants never share a name."""
    name = names.ACCESS_PREFIX + grant_id
    if _DNS_SUBDOMAIN.match(name) and len(name) <= _MAX_NAME:
        return name
    clean = re.sub(r"[^a-z0-9]+", "-", grant_id.lower()).strip("-")[:200]
    digest = hashlib.sha256(grant_id.encode()).hexdigest()[:10]
    return f"{names.ACCESS_PREFIX}{clean + '-' if clean else ''}{digest}"


def secret_names(grant: Grant) -> dict[str, tuple[str, ...]]:
    """Namespace -> the names of the grant's Secrets there, sorted. A store secret
    ``<namespace>/<name>`` is the Secret ``<name>`` in ``<namespace>``, as synced."""
    found: dict[str, set[str]] = {}
    for item in grant.secrets:
        namespace, _, name = item.secret.partition("/")
        if not namespace or not name:
            raise ClusterError(
                f"grant {grant.id}: secret {item.secret!r} is not <namespace>/<name>: "
                "fix the access request's secrets",
                retryable=False,
            )
        found.setdefault(namespace, set()).add(name)
    return {ns: tuple(sorted(found[ns])) for ns in sorted(found)}


def access_namespaces(grants: Iterable[Grant]) -> tuple[str, ...]:
    """Every namespace the ``kubernetes`` grants among ``grants`` deliver into, sorted: the
    ``namespaces`` to give ``KubeTargets.unbind_access`` and ``bound_grants``."""
    found: set[str] = set()
    for grant in grants:
        if delivers_kubernetes(grant):
            found.update(item.secret.partition("/")[0] for item in grant.secrets)
    return tuple(sorted(ns for ns in found if ns))


def ends_at_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _subject(grant: Grant) -> Obj:
    subject: KubernetesSubject | None = grant.kubernetes_subject
    if subject is None or subject.kind not in SUBJECT_KINDS or not subject.name:
        raise ClusterError(
            f"grant {grant.id}: delivered to kubernetes without a valid kubernetesSubject "
            f"(kind one of {', '.join(SUBJECT_KINDS)}, and a name): fix the access request",
            retryable=False,
        )
    if subject.kind == "ServiceAccount":
        if not subject.namespace:
            # An empty namespace would bind a ServiceAccount of that name in every namespace
            # the grant reaches: never guess whose account is meant.
            raise ClusterError(
                f"grant {grant.id}: kubernetesSubject ServiceAccount {subject.name} has no "
                "namespace: add kubernetesSubject.namespace to the access request",
                retryable=False,
            )
        return {"kind": "ServiceAccount", "name": subject.name, "namespace": subject.namespace}
    return {"kind": subject.kind, "name": subject.name, "apiGroup": RBAC_GROUP}


def _metadata(grant: Grant, namespace: str, name: str) -> Obj:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {names.MANAGED_BY: names.MANAGER, names.GRANT: grant.id},
        "annotations": {
            names.ENDS_AT: ends_at_text(grant.ends_at),
            names.REQUESTER: grant.requester,
            names.PULL_REQUEST: f"{grant.repo}#{grant.pull_request}",
        },
    }


def desired_objects(grant: Grant) -> list[tuple[Obj, Obj]]:
    """The Role and the RoleBinding ``grant`` needs in each of its namespaces (pure)."""
    check_grant_id(grant.id)
    subject = _subject(grant)
    name = access_name(grant.id)
    out: list[tuple[Obj, Obj]] = []
    for namespace, secrets in secret_names(grant).items():
        rule = {
            "apiGroups": [""],
            "resources": ["secrets"],
            "verbs": ["get"],
            "resourceNames": list(secrets),
        }
        role = {
            "apiVersion": f"{RBAC_GROUP}/v1",
            "kind": "Role",
            "metadata": _metadata(grant, namespace, name),
            "rules": [rule],
        }
        binding = {
            "apiVersion": f"{RBAC_GROUP}/v1",
            "kind": "RoleBinding",
            "metadata": _metadata(grant, namespace, name),
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": name},
            "subjects": [dict(subject)],
        }
        out.append((role, binding))
    return out


def owned_by(obj: Mapping[str, Any], grant_id: str) -> bool:
    """Labelled by sealgate as ``grant_id``'s, and named as that grant's objects are."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    return (
        labels.get(names.MANAGED_BY) == names.MANAGER
        and labels.get(names.GRANT) == grant_id
        and meta.get("name") == access_name(grant_id)
    )


def _normal_subjects(subjects: Any) -> list[dict[str, str]]:
    # A server omits empty fields and defaults User/Group apiGroup: compare what matters.
    return [{k: str(v) for k, v in s.items() if v} for s in subjects or [] if isinstance(s, dict)]


def _spec_of(obj: Mapping[str, Any]) -> Obj:
    if obj.get("kind") == "Role":
        return {"rules": obj.get("rules") or []}
    return {"roleRef": obj.get("roleRef"), "subjects": _normal_subjects(obj.get("subjects"))}


def up_to_date(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    meta, want = current.get("metadata") or {}, desired["metadata"]
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    return (
        all(labels.get(k) == v for k, v in want["labels"].items())
        and all(annotations.get(k) == v for k, v in want["annotations"].items())
        and _spec_of(current) == _spec_of(desired)
    )


def replacement(current: Mapping[str, Any], desired: Obj) -> Obj:
    """``desired`` over ``current``: labels and annotations other tools added stay."""
    old = current.get("metadata") or {}
    body = dict(desired)
    body["metadata"] = {
        **{k: old[k] for k in _KEPT_METADATA if k in old},
        "labels": {**(old.get("labels") or {}), **desired["metadata"]["labels"]},
        "annotations": {**(old.get("annotations") or {}), **desired["metadata"]["annotations"]},
    }
    return body
