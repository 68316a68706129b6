"""Validation of Roles, ClusterRoles and their bindings, as a real API server refuses them.

What matters to tests of access grants: a binding's roleRef cannot change once stored (a
grant must be replaced, not edited), a roleRef and each subject must name a valid kind, a
ClusterRoleBinding's ServiceAccount needs a namespace, and a rule must say what it allows
(a Role's rules cannot name non-resource URLs). Messages follow upstream's field errors.
"""

from __future__ import annotations

import json
from typing import Any

from controller.sandbox.kube_server.errors import ApiError
from controller.sandbox.kube_server.resources import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    ROLEBINDINGS,
    ROLES,
    ResourceType,
)

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_TYPES = (ROLES, CLUSTERROLES, ROLEBINDINGS, CLUSTERROLEBINDINGS)
_Problem = tuple[str, str]


def _invalid(rtype: ResourceType, name: str, problems: list[_Problem]) -> ApiError:
    listed = [f"{field}: {why}" for field, why in problems]
    joined = listed[0] if len(listed) == 1 else f"[{', '.join(listed)}]"
    return ApiError(
        422,
        f'{rtype.kind}.{rtype.group} "{name}" is invalid: {joined}',
        details={
            "name": name,
            "group": rtype.group,
            "kind": rtype.kind,
            "causes": [
                {"reason": "FieldValueInvalid", "message": why, "field": field}
                for field, why in problems
            ],
        },
    )


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _go_strings(values: list[str]) -> str:
    return "[]string{" + ", ".join(json.dumps(v) for v in values) + "}"


def _rule_problems(rtype: ResourceType, index: int, rule: Any) -> list[_Problem]:
    at = f"rules[{index}]"
    if not isinstance(rule, dict):
        return [(at, "Invalid value: a rule must be an object")]
    problems: list[_Problem] = []
    if not _strings(rule.get("verbs")):
        problems.append((f"{at}.verbs", "Required value: verbs must contain at least one value"))
    urls = _strings(rule.get("nonResourceURLs"))
    if urls:
        if rtype is ROLES:
            problems.append(
                (f"{at}.nonResourceURLs",
                 f"Invalid value: {_go_strings(urls)}: namespaced rules cannot apply to "
                 "non-resource URLs")
            )  # fmt: skip
        if rule.get("apiGroups") or rule.get("resources"):
            problems.append(
                (f"{at}.nonResourceURLs",
                 f"Invalid value: {_go_strings(urls)}: rules cannot apply to both regular "
                 "resources and non-resource URLs")
            )  # fmt: skip
        return problems
    if not _strings(rule.get("apiGroups")):
        problems.append(
            (f"{at}.apiGroups", "Required value: resource rules must supply at least one api group")
        )
    if not _strings(rule.get("resources")):
        problems.append(
            (f"{at}.resources", "Required value: resource rules must supply at least one resource")
        )
    return problems


def _go_ref(ref: dict[str, Any]) -> str:
    return (
        f"rbac.RoleRef{{APIGroup:{json.dumps(ref.get('apiGroup', ''))}, "
        f"Kind:{json.dumps(ref.get('kind', ''))}, Name:{json.dumps(ref.get('name', ''))}}}"
    )


def _ref_problems(rtype: ResourceType, ref: Any) -> list[_Problem]:
    if not isinstance(ref, dict):
        return [("roleRef", "Required value")]
    problems: list[_Problem] = []
    kinds = ("Role", "ClusterRole") if rtype is ROLEBINDINGS else ("ClusterRole",)
    if ref.get("apiGroup") != RBAC_GROUP:
        problems.append(
            ("roleRef.apiGroup",
             f'Unsupported value: {json.dumps(ref.get("apiGroup", ""))}: supported values: '
             f'"{RBAC_GROUP}"')
        )  # fmt: skip
    if ref.get("kind") not in kinds:
        supported = ", ".join(json.dumps(k) for k in kinds)
        problems.append(
            ("roleRef.kind",
             f"Unsupported value: {json.dumps(ref.get('kind', ''))}: supported values: {supported}")
        )  # fmt: skip
    if not ref.get("name"):
        problems.append(("roleRef.name", "Required value"))
    return problems


def _subject_problems(rtype: ResourceType, index: int, subject: Any) -> list[_Problem]:
    at = f"subjects[{index}]"
    if not isinstance(subject, dict):
        return [(at, "Invalid value: a subject must be an object")]
    problems: list[_Problem] = []
    kind = subject.get("kind")
    if not subject.get("name"):
        problems.append((f"{at}.name", "Required value"))
    if kind == "ServiceAccount":
        if subject.get("apiGroup"):
            problems.append(
                (f"{at}.apiGroup", f'Unsupported value: {json.dumps(subject["apiGroup"])}: '
                 'supported values: ""')
            )  # fmt: skip
        if rtype is CLUSTERROLEBINDINGS and not subject.get("namespace"):
            problems.append((f"{at}.namespace", "Required value"))
    elif kind in ("User", "Group"):
        if subject.get("apiGroup") != RBAC_GROUP:
            problems.append(
                (f"{at}.apiGroup",
                 f'Unsupported value: {json.dumps(subject.get("apiGroup", ""))}: supported '
                 f'values: "{RBAC_GROUP}"')
            )  # fmt: skip
    else:
        problems.append(
            (f"{at}.kind",
             f'Unsupported value: {json.dumps(kind or "")}: supported values: '
             '"ServiceAccount", "User", "Group"')
        )  # fmt: skip
    return problems


def _default(body: dict[str, Any]) -> None:
    """Upstream's defaults: a roleRef, User and Group are in the RBAC group unless named."""
    ref = body.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = RBAC_GROUP
    subjects = body.get("subjects")
    for subject in subjects if isinstance(subjects, list) else []:
        named = isinstance(subject, dict) and subject.get("kind") in ("User", "Group")
        if named and not subject.get("apiGroup"):
            subject["apiGroup"] = RBAC_GROUP


def validate(rtype: ResourceType, body: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """Default ``body`` as upstream does, then raise the 422 a real server answers for an
    invalid RBAC object (or a changed roleRef)."""
    _default(body)
    name = str(body.get("metadata", {}).get("name", ""))
    problems: list[_Problem] = []
    if rtype in (ROLES, CLUSTERROLES):
        rules = body.get("rules") or []
        if not isinstance(rules, list):
            problems.append(("rules", "Invalid value: rules must be a list"))
        else:
            for index, rule in enumerate(rules):
                problems.extend(_rule_problems(rtype, index, rule))
    else:
        ref = body.get("roleRef")
        problems.extend(_ref_problems(rtype, ref))
        if existing is not None and existing.get("roleRef") != ref:
            shown = _go_ref(ref) if isinstance(ref, dict) else "null"
            problems.append(("roleRef", f"Invalid value: {shown}: cannot change roleRef"))
        subjects = body.get("subjects") or []
        for index, subject in enumerate(subjects if isinstance(subjects, list) else [None]):
            problems.extend(_subject_problems(rtype, index, subject))
    if problems:
        raise _invalid(rtype, name, problems)
