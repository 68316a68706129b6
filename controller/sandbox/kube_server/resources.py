"""The resource kinds the loopback API server serves, as discovery and routing see them."""

from __future__ import annotations

from dataclasses import dataclass

# The verbs a real API server advertises for ordinary namespaced and cluster resources.
STANDARD_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)


@dataclass(frozen=True)
class Subresource:
    """A subresource answering with another kind than its parent (``serviceaccounts/token``
    takes and returns an ``authentication.k8s.io/v1`` TokenRequest)."""

    name: str
    group: str
    version: str
    kind: str
    verbs: tuple[str, ...]


@dataclass(frozen=True)
class ResourceType:
    """One served resource: where it lives in the API and how it behaves."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # Workloads keep status in a subresource and count spec changes in metadata.generation.
    has_status: bool = False
    tracks_generation: bool = False
    # Access and token reviews only answer a POST: nothing is stored, the answer is the verdict.
    verbs: tuple[str, ...] = STANDARD_VERBS
    subresources: tuple[Subresource, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_version(self) -> tuple[str, str]:
        return (self.group, self.version)


NAMESPACES = ResourceType("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",))
SECRETS = ResourceType("", "v1", "Secret", "secrets", "secret", True)
EVENTS = ResourceType("", "v1", "Event", "events", "event", True, ("ev",))
DEPLOYMENTS = ResourceType(
    "apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",), ("all",),
    has_status=True, tracks_generation=True,
)  # fmt: skip
STATEFULSETS = ResourceType(
    "apps", "v1", "StatefulSet", "statefulsets", "statefulset", True, ("sts",), ("all",),
    has_status=True, tracks_generation=True,
)  # fmt: skip
DAEMONSETS = ResourceType(
    "apps", "v1", "DaemonSet", "daemonsets", "daemonset", True, ("ds",), ("all",),
    has_status=True, tracks_generation=True,
)  # fmt: skip
LEASES = ResourceType("coordination.k8s.io", "v1", "Lease", "leases", "lease", True)
_AUTHN = "authentication.k8s.io"
TOKEN_SUBRESOURCE = Subresource("token", _AUTHN, "v1", "TokenRequest", ("create",))
SERVICEACCOUNTS = ResourceType(
    "", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",),
    subresources=(TOKEN_SUBRESOURCE,),
)  # fmt: skip
# A review is answered, never stored: create is its only verb, as on a real API server.
TOKENREVIEWS = ResourceType(
    _AUTHN, "v1", "TokenReview", "tokenreviews", "tokenreview", False,
    verbs=("create",),
)  # fmt: skip
_RBAC = "rbac.authorization.k8s.io"
ROLES = ResourceType(_RBAC, "v1", "Role", "roles", "role", True)
ROLEBINDINGS = ResourceType(_RBAC, "v1", "RoleBinding", "rolebindings", "rolebinding", True)
CLUSTERROLES = ResourceType(_RBAC, "v1", "ClusterRole", "clusterroles", "clusterrole", False)
CLUSTERROLEBINDINGS = ResourceType(
    _RBAC, "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", False
)
_AUTHZ = "authorization.k8s.io"
_CREATE_ONLY = ("create",)
SUBJECT_ACCESS_REVIEWS = ResourceType(
    _AUTHZ, "v1", "SubjectAccessReview", "subjectaccessreviews", "subjectaccessreview", False,
    verbs=_CREATE_ONLY,
)  # fmt: skip
LOCAL_SUBJECT_ACCESS_REVIEWS = ResourceType(
    _AUTHZ, "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews",
    "localsubjectaccessreview", True, verbs=_CREATE_ONLY,
)  # fmt: skip
SELF_SUBJECT_ACCESS_REVIEWS = ResourceType(
    _AUTHZ, "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
    "selfsubjectaccessreview", False, verbs=_CREATE_ONLY,
)  # fmt: skip
SELF_SUBJECT_RULES_REVIEWS = ResourceType(
    _AUTHZ, "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", "selfsubjectrulesreview",
    False, verbs=_CREATE_ONLY,
)  # fmt: skip
SELF_SUBJECT_REVIEWS = ResourceType(
    _AUTHN, "v1", "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview", False,
    verbs=_CREATE_ONLY,
)  # fmt: skip
REVIEW_TYPES: tuple[ResourceType, ...] = (
    SELF_SUBJECT_REVIEWS,
    LOCAL_SUBJECT_ACCESS_REVIEWS,
    SELF_SUBJECT_ACCESS_REVIEWS,
    SELF_SUBJECT_RULES_REVIEWS,
    SUBJECT_ACCESS_REVIEWS,
)

ALL_TYPES: tuple[ResourceType, ...] = (
    NAMESPACES,
    SECRETS,
    EVENTS,
    DEPLOYMENTS,
    STATEFULSETS,
    DAEMONSETS,
    LEASES,
    ROLES,
    ROLEBINDINGS,
    CLUSTERROLES,
    CLUSTERROLEBINDINGS,
    *REVIEW_TYPES,
    SERVICEACCOUNTS,
    TOKENREVIEWS,
)
WORKLOAD_TYPES: tuple[ResourceType, ...] = (DEPLOYMENTS, STATEFULSETS, DAEMONSETS)

# Group -> its served versions, in preference order, as /apis advertises them.
GROUP_VERSIONS: dict[str, tuple[str, ...]] = {
    "": ("v1",),
    "apps": ("v1",),
    "coordination.k8s.io": ("v1",),
    _RBAC: ("v1",),
    _AUTHN: ("v1",),
    _AUTHZ: ("v1",),
}


def by_path(group: str, version: str, plural: str) -> ResourceType | None:
    """The resource a URL names, or None when this server does not serve it."""
    for rtype in ALL_TYPES:
        if (rtype.group, rtype.version, rtype.plural) == (group, version, plural):
            return rtype
    return None


def by_kind(api_version: str, kind: str) -> ResourceType | None:
    """The resource for an object's apiVersion and kind, or None when not served."""
    for rtype in ALL_TYPES:
        if (rtype.api_version, rtype.kind) == (api_version, kind):
            return rtype
    return None


def in_group_version(group: str, version: str) -> list[ResourceType]:
    return [r for r in ALL_TYPES if r.group_version == (group, version)]


def subresource_verbs(rtype: ResourceType, subresource: str) -> tuple[str, ...] | None:
    """The verbs ``rtype``'s ``subresource`` serves, or None when it has no such subresource."""
    if subresource == "status" and rtype.has_status:
        return ("get", "patch", "update")
    for sub in rtype.subresources:
        if sub.name == subresource:
            return sub.verbs
    return None
