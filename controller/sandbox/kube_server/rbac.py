"""RBAC as a real API server evaluates it, over the Roles and bindings in the object store.

A request is allowed when any rule of a role bound to the user allows it: ClusterRoleBindings
first, then the RoleBindings of the request's namespace (whose roleRef may name a Role of that
namespace or a ClusterRole). Nothing is seeded; only what every real cluster's default
bindings give ``system:authenticated`` is built in (discovery, ``/version``, health, and the
self access reviews), or ``kubectl`` could not even ask what it may do. ``system:masters``
is never restricted, as on a real server.

The wording of reasons (``RBAC: allowed by RoleBinding "ns/name" ...``) and of errors for a
binding to a missing role follows the upstream RBAC authorizer, because reviews and 403
messages carry them to the user.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from controller.sandbox.kube_server.identity import AUTHENTICATED, UNAUTHENTICATED, UserInfo
from controller.sandbox.kube_server.resources import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    ROLEBINDINGS,
    ROLES,
    ResourceType,
)
from controller.sandbox.kube_server.state import ObjectStore

RBAC_GROUP = "rbac.authorization.k8s.io"
ALL = "*"
_DISCOVERY_URLS = (
    "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
    "/readyz", "/version", "/version/",
)  # fmt: skip
_PUBLIC_INFO_URLS = ("/healthz", "/livez", "/readyz", "/version", "/version/")
# Every real cluster binds these default ClusterRoles; "seed nothing" still keeps them.
BUILT_IN_BINDINGS: tuple[tuple[str, tuple[str, ...], tuple[dict[str, Any], ...]], ...] = (
    (
        "system:basic-user",
        (AUTHENTICATED,),
        (
            {
                "apiGroups": ["authorization.k8s.io"],
                "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                "verbs": ["create"],
            },
            {
                "apiGroups": ["authentication.k8s.io"],
                "resources": ["selfsubjectreviews"],
                "verbs": ["create"],
            },
        ),
    ),
    (
        "system:discovery",
        (AUTHENTICATED,),
        ({"nonResourceURLs": list(_DISCOVERY_URLS), "verbs": ["get"]},),
    ),
    (
        "system:public-info-viewer",
        (AUTHENTICATED, UNAUTHENTICATED),
        ({"nonResourceURLs": list(_PUBLIC_INFO_URLS), "verbs": ["get"]},),
    ),
)  # fmt: skip
# What system:masters holds (cluster-admin), for rules reviews.
ADMIN_RULES: tuple[dict[str, Any], ...] = (
    {"apiGroups": [ALL], "resources": [ALL], "verbs": [ALL]},
    {"nonResourceURLs": [ALL], "verbs": [ALL]},
)


@dataclass(frozen=True)
class Attributes:
    """What one request (or one access review) asks to do, as the authorizer sees it."""

    user: UserInfo
    verb: str
    resource_request: bool = True
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""


def _strings(rule: dict[str, Any], key: str) -> list[str]:
    value = rule.get(key) or []
    return [str(item) for item in value] if isinstance(value, list) else []


def _resource_matches(rule: dict[str, Any], combined: str, subresource: str) -> bool:
    for wanted in _strings(rule, "resources"):
        if wanted in (ALL, combined):
            return True
        if subresource and wanted == f"*/{subresource}":
            return True
    return False


def _url_matches(rule: dict[str, Any], path: str) -> bool:
    for wanted in _strings(rule, "nonResourceURLs"):
        if wanted in (ALL, path):
            return True
        if wanted.endswith("*") and path.startswith(wanted.rstrip("*")):
            return True
    return False


def rule_allows(attrs: Attributes, rule: dict[str, Any]) -> bool:
    """One PolicyRule against one request. A rule with resourceNames matches only a request
    that names its object, so it never allows list, watch or create of a whole collection."""
    verbs = _strings(rule, "verbs")
    if ALL not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.resource_request:
        return _url_matches(rule, attrs.path)
    groups = _strings(rule, "apiGroups")
    if ALL not in groups and attrs.api_group not in groups:
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    if not _resource_matches(rule, combined, attrs.subresource):
        return False
    names = _strings(rule, "resourceNames")
    return not names or attrs.name in names


def _subject_applies(subject: dict[str, Any], user: UserInfo, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    name = subject.get("name", "")
    if kind == "User":
        return bool(user.name == name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        # A RoleBinding may name a ServiceAccount of its own namespace without a namespace.
        namespace = subject.get("namespace") or binding_namespace
        return bool(namespace) and user.name == f"system:serviceaccount:{namespace}:{name}"
    return False


def _describe(subject: dict[str, Any], binding_namespace: str) -> str:
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject.get("namespace") or binding_namespace}"'
    return f'{kind} "{name}"'


@dataclass(frozen=True)
class _Source:
    """One applicable binding and the rules of its role (or why they could not be read)."""

    description: str
    rules: tuple[dict[str, Any], ...]
    error: str = ""


class RbacAuthorizer:
    """Decides requests and reviews from the RBAC objects currently stored."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def role_rules(
        self, ref: dict[str, Any], binding_namespace: str
    ) -> tuple[tuple[dict[str, Any], ...], str]:
        """The rules of the role ``ref`` names, or why they cannot be read."""
        kind, name = ref.get("kind"), str(ref.get("name", ""))
        if ref.get("apiGroup", RBAC_GROUP) != RBAC_GROUP or kind not in ("Role", "ClusterRole"):
            return (), f'unsupported role reference kind: "{kind}"'
        if kind == "Role":
            role = self._store.find(ROLES, binding_namespace, name)
        else:
            role = self._store.find(CLUSTERROLES, None, name)
        if role is None:
            return (), f'{str(kind).lower()}.{RBAC_GROUP} "{name}" not found'
        rules = role.get("rules") or []
        return tuple(rule for rule in rules if isinstance(rule, dict)), ""

    def _sources(self, user: UserInfo, namespace: str) -> Iterator[_Source]:
        for role, groups, rules in BUILT_IN_BINDINGS:
            for group in groups:
                if group in user.groups:
                    yield _Source(
                        f'ClusterRoleBinding "{role}" of ClusterRole "{role}" to Group "{group}"',
                        rules,
                    )
                    break
        scopes: list[tuple[ResourceType, str | None]] = [(CLUSTERROLEBINDINGS, None)]
        if namespace:
            scopes.append((ROLEBINDINGS, namespace))
        for rtype, scope in scopes:
            bindings, _ = self._store.list(rtype, scope)
            for binding in bindings:
                binding_namespace = str(binding["metadata"].get("namespace", ""))
                subjects = [s for s in binding.get("subjects") or [] if isinstance(s, dict)]
                subject = next(
                    (s for s in subjects if _subject_applies(s, user, binding_namespace)), None
                )
                if subject is None:
                    continue
                ref = binding.get("roleRef") or {}
                rules, error = self.role_rules(ref, binding_namespace)
                name = str(binding["metadata"]["name"])
                label = f"{name}/{binding_namespace}" if binding_namespace else name
                yield _Source(
                    f'{rtype.kind} "{label}" of {ref.get("kind", "")} "{ref.get("name", "")}" '
                    f"to {_describe(subject, binding_namespace)}",
                    rules,
                    error,
                )

    def authorize(self, attrs: Attributes) -> Verdict:
        if attrs.user.unrestricted:
            return Verdict(True)
        problems = []
        for source in self._sources(attrs.user, attrs.namespace):
            if source.error:
                problems.append(source.error)
            if any(rule_allows(attrs, rule) for rule in source.rules):
                return Verdict(True, f"RBAC: allowed by {source.description}")
        return Verdict(False, f"RBAC: {_aggregate(problems)}" if problems else "")

    def rules(self, user: UserInfo, namespace: str) -> tuple[list[dict[str, Any]], str]:
        """Every rule that applies to ``user`` in ``namespace``, and the errors met reading
        them (a binding to a missing role), for a SelfSubjectRulesReview."""
        if user.unrestricted:
            return [dict(rule) for rule in ADMIN_RULES], ""
        found: list[dict[str, Any]] = []
        problems = []
        for source in self._sources(user, namespace):
            if source.error:
                problems.append(source.error)
            found.extend(source.rules)
        return found, _aggregate(problems) if problems else ""


def _aggregate(problems: list[str]) -> str:
    return problems[0] if len(problems) == 1 else f"[{', '.join(problems)}]"
