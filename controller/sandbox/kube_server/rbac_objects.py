"""What the API server checks of RBAC objects on their way into storage.

The parts of ``ValidateRole``, ``ValidateRoleBinding`` (and their cluster variants) and
``SetDefaults_Subject`` a client can run into: rules need verbs and, for resources, API
groups and resources; a namespaced Role cannot name non-resource URLs; a binding needs a
``roleRef`` of a kind it may bind and subjects of the three known kinds; and a binding's
``roleRef`` never changes once created: an update changing it answers 422.
"""

from __future__ import annotations

from typing import Any

from controller.sandbox.kube_server import errors
from controller.sandbox.kube_server.resources import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    ROLEBINDINGS,
    ROLES,
    ResourceType,
)

RBAC_GROUP = "rbac.authorization.k8s.io"
ROLE_TYPES = (ROLES, CLUSTERROLES)
BINDING_TYPES = (ROLEBINDINGS, CLUSTERROLEBINDINGS)


def prepare_rbac(
    rtype: ResourceType, body: dict[str, Any], existing: dict[str, Any] | None
) -> None:
    """Default and check ``body`` in place; raises the ``ApiError`` a real server would."""
    if rtype in ROLE_TYPES:
        _check_rules(rtype, body)
    elif rtype in BINDING_TYPES:
        _check_binding(rtype, body, existing)


def _list_of_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_rules(rtype: ResourceType, body: dict[str, Any]) -> None:
    name = body["metadata"]["name"]
    rules = body.get("rules") or []
    if not isinstance(rules, list):
        raise errors.invalid(rtype, name, "rules", "Invalid value: must be a list")
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if not isinstance(rule, dict):
            raise errors.invalid(rtype, name, where, "Invalid value: must be an object")
        for field in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"):
            if field in rule and rule[field] is not None and not _list_of_strings(rule[field]):
                raise errors.invalid(
                    rtype, name, f"{where}.{field}", "Invalid value: must be a list of strings"
                )
        if not rule.get("verbs"):
            raise errors.invalid(
                rtype,
                name,
                f"{where}.verbs",
                "Required value: verbs must contain at least one value",
            )
        if rule.get("nonResourceURLs"):
            if rtype is ROLES:
                raise errors.invalid(
                    rtype,
                    name,
                    f"{where}.nonResourceURLs",
                    "Invalid value: namespaced rules cannot apply to non-resource URLs",
                )
            if rule.get("apiGroups") or rule.get("resources"):
                raise errors.invalid(
                    rtype,
                    name,
                    f"{where}.nonResourceURLs",
                    "Invalid value: rules cannot apply to both regular resources and "
                    "non-resource URLs",
                )
            continue
        if not rule.get("apiGroups"):
            raise errors.invalid(
                rtype,
                name,
                f"{where}.apiGroups",
                "Required value: resource rules must supply at least one api group",
            )
        if not rule.get("resources"):
            raise errors.invalid(
                rtype,
                name,
                f"{where}.resources",
                "Required value: resource rules must supply at least one resource",
            )


def _check_binding(
    rtype: ResourceType, body: dict[str, Any], existing: dict[str, Any] | None
) -> None:
    name = body["metadata"]["name"]
    ref = body.get("roleRef")
    if not isinstance(ref, dict):
        raise errors.invalid(rtype, name, "roleRef", "Required value")
    if ref.get("apiGroup") != RBAC_GROUP:
        raise errors.invalid(
            rtype,
            name,
            "roleRef.apiGroup",
            f'Unsupported value: "{ref.get("apiGroup", "")}": supported values: "{RBAC_GROUP}"',
        )
    kinds = ("Role", "ClusterRole") if rtype is ROLEBINDINGS else ("ClusterRole",)
    if ref.get("kind") not in kinds:
        supported = ", ".join(f'"{k}"' for k in kinds)
        raise errors.invalid(
            rtype,
            name,
            "roleRef.kind",
            f'Unsupported value: "{ref.get("kind", "")}": supported values: {supported}',
        )
    if not ref.get("name"):
        raise errors.invalid(rtype, name, "roleRef.name", "Required value")
    subjects = body.get("subjects") or []
    if not isinstance(subjects, list):
        raise errors.invalid(rtype, name, "subjects", "Invalid value: must be a list")
    for index, subject in enumerate(subjects):
        _check_subject(rtype, name, f"subjects[{index}]", subject)
    if existing is not None and existing.get("roleRef") != ref:
        raise errors.invalid(rtype, name, "roleRef", "Invalid value: cannot change roleRef")


def _check_subject(rtype: ResourceType, name: str, where: str, subject: Any) -> None:
    if not isinstance(subject, dict):
        raise errors.invalid(rtype, name, where, "Invalid value: must be an object")
    if not subject.get("name"):
        raise errors.invalid(rtype, name, f"{where}.name", "Required value")
    kind = subject.get("kind")
    if kind in ("User", "Group"):
        # SetDefaults_Subject: users and groups belong to the RBAC API group.
        subject.setdefault("apiGroup", RBAC_GROUP)
        if subject["apiGroup"] != RBAC_GROUP:
            raise errors.invalid(
                rtype,
                name,
                f"{where}.apiGroup",
                f'Unsupported value: "{subject["apiGroup"]}": supported values: "{RBAC_GROUP}"',
            )
    elif kind == "ServiceAccount":
        if subject.get("apiGroup"):
            raise errors.invalid(
                rtype,
                name,
                f"{where}.apiGroup",
                f'Unsupported value: "{subject["apiGroup"]}": supported values: ""',
            )
        if rtype is CLUSTERROLEBINDINGS and not subject.get("namespace"):
            raise errors.invalid(rtype, name, f"{where}.namespace", "Required value")
    else:
        raise errors.invalid(
            rtype,
            name,
            f"{where}.kind",
            f'Unsupported value: "{kind or ""}": supported values: "ServiceAccount", "User", '
            '"Group"',
        )
