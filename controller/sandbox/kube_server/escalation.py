"""RBAC's escalation check: nobody grants through a Role or binding what they do not hold.

A real API server refuses to store a Role (ClusterRole) whose rules its author does not
already hold, unless the author may ``escalate`` roles, and a RoleBinding
(ClusterRoleBinding) to a role whose rules its author does not hold, unless the author may
``bind`` that role. Without this, ``create rolebindings`` alone would make anyone an admin.
Unchanged rules (or an unchanged roleRef) on update are let through, as upstream does.
The wording of the refusal, listing the missing rules, is the upstream one.
"""

from __future__ import annotations

import json
from typing import Any

from controller.sandbox.kube_server.errors import ApiError
from controller.sandbox.kube_server.identity import UserInfo
from controller.sandbox.kube_server.rbac import ALL, RBAC_GROUP, Attributes, RbacAuthorizer
from controller.sandbox.kube_server.resources import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    ROLEBINDINGS,
    ROLES,
    ResourceType,
)

ROLE_TYPES = (ROLES, CLUSTERROLES)
BINDING_TYPES = (ROLEBINDINGS, CLUSTERROLEBINDINGS)
WRITE_VERBS = frozenset({"create", "update", "patch"})
_Rule = dict[str, list[str]]


def guarded(rtype: ResourceType, user: UserInfo | None, verb: str) -> bool:
    """Whether this write must pass the escalation check."""
    return (
        user is not None
        and not user.unrestricted
        and rtype in (*ROLE_TYPES, *BINDING_TYPES)
        and verb in WRITE_VERBS
    )


def _list(rule: dict[str, Any], key: str) -> list[str]:
    value = rule.get(key) or []
    return [str(v) for v in value] if isinstance(value, list) else []


def _breakdown(rule: dict[str, Any]) -> list[_Rule]:
    simple: list[_Rule] = []
    verbs = _list(rule, "verbs")
    for group in _list(rule, "apiGroups"):
        for resource in _list(rule, "resources"):
            for verb in verbs:
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                names = _list(rule, "resourceNames")
                simple.extend([{**base, "resourceNames": [n]} for n in names] if names else [base])
    for url in _list(rule, "nonResourceURLs"):
        simple.extend({"nonResourceURLs": [url], "verbs": [verb]} for verb in verbs)
    return simple


def _resources_cover(owned: list[str], wanted: list[str]) -> bool:
    for resource in wanted:
        if ALL in owned or resource in owned:
            continue
        if "/" not in resource or f"*/{resource.split('/', 1)[1]}" not in owned:
            return False
    return True


def _url_covered(owned: list[str], url: str) -> bool:
    return any(o == url or (o.endswith("*") and url.startswith(o.rstrip("*"))) for o in owned)


def _covers(owner: dict[str, Any], sub: _Rule) -> bool:
    verbs, groups = _list(owner, "verbs"), _list(owner, "apiGroups")
    owned_urls, names = _list(owner, "nonResourceURLs"), _list(owner, "resourceNames")
    wanted_names = sub.get("resourceNames", [])
    return (
        (ALL in verbs or all(v in verbs for v in sub["verbs"]))
        and (ALL in groups or all(g in groups for g in sub.get("apiGroups", [])))
        and _resources_cover(_list(owner, "resources"), sub.get("resources", []))
        and all(_url_covered(owned_urls, url) for url in sub.get("nonResourceURLs", []))
        and (not names or (bool(wanted_names) and all(n in names for n in wanted_names)))
    )


def _compact(missing: list[_Rule]) -> list[_Rule]:
    """Merge the verbs of plain one-group, one-resource rules, as upstream's CompactRules."""
    merged: dict[tuple[str, str], _Rule] = {}
    kept: list[_Rule] = []
    for rule in missing:
        if set(rule) == {"apiGroups", "resources", "verbs"}:
            key = (rule["apiGroups"][0], rule["resources"][0])
            if key in merged:
                merged[key]["verbs"] = [*merged[key]["verbs"], *rule["verbs"]]
                continue
            merged[key] = {k: list(v) for k, v in rule.items()}
            kept.append(merged[key])
        else:
            kept.append(rule)
    return kept


def _go_list(values: list[str]) -> str:
    return "[" + " ".join(json.dumps(v) for v in values) + "]"


def _compact_string(rule: _Rule) -> str:
    labels = (
        ("apiGroups", "APIGroups"),
        ("resources", "Resources"),
        ("nonResourceURLs", "NonResourceURLs"),
        ("resourceNames", "ResourceNames"),
        ("verbs", "Verbs"),
    )
    parts = [f"{label}:{_go_list(rule[key])}" for key, label in labels if rule.get(key)]
    return "{" + ", ".join(parts) + "}"


def confirm_no_escalation(
    authorizer: RbacAuthorizer, user: UserInfo, namespace: str, rules: list[dict[str, Any]]
) -> str:
    """Why granting ``rules`` would be an escalation for ``user``; "" when it would not be."""
    owned, problem = authorizer.rules(user, namespace)
    missing = [
        sub
        for rule in rules
        for sub in _breakdown(rule)
        if not any(_covers(owner, sub) for owner in owned)
    ]
    if not missing:
        return ""
    lines = sorted({_compact_string(rule) for rule in _compact(missing)})
    message = (
        f"user {json.dumps(user.name)} (groups={_go_list(list(user.groups))}) is attempting "
        "to grant RBAC permissions not currently held:\n" + "\n".join(lines)
    )
    return f"{message}; resolution errors: [{problem}]" if problem else message


def _allowed(authorizer: RbacAuthorizer, user: UserInfo, verb: str, **where: str) -> bool:
    wanted = Attributes(
        user=user,
        verb=verb,
        api_group=RBAC_GROUP,
        resource=where["resource"],
        namespace=where["namespace"],
        name=where.get("name", ""),
    )
    return authorizer.authorize(wanted).allowed


def _refusal(rtype: ResourceType, name: str, why: str) -> ApiError:
    qualified = f"{rtype.plural}.{rtype.group}"
    return ApiError(
        403,
        f'{qualified} "{name}" is forbidden: {why}',
        details={"group": rtype.group, "kind": rtype.plural, "name": name},
    )


def check(
    authorizer: RbacAuthorizer,
    user: UserInfo,
    rtype: ResourceType,
    obj: dict[str, Any],
    previous: dict[str, Any] | None,
) -> None:
    """Raise the 403 a real server answers when storing ``obj`` would escalate ``user``."""
    namespace = str(obj.get("metadata", {}).get("namespace", ""))
    name = str(obj.get("metadata", {}).get("name", ""))
    if rtype in ROLE_TYPES:
        rules = [r for r in obj.get("rules") or [] if isinstance(r, dict)]
        if previous is not None and previous.get("rules") == obj.get("rules"):
            return
        # As upstream, the request's name: none on create.
        named = name if previous is not None else ""
        if _allowed(
            authorizer, user, "escalate", resource=rtype.plural, namespace=namespace, name=named
        ):
            return
        why = confirm_no_escalation(authorizer, user, namespace, rules)
    else:
        ref = obj.get("roleRef") or {}
        if previous is not None and previous.get("roleRef") == ref:
            return
        kind, role_name = ref.get("kind"), str(ref.get("name", ""))
        bound = "roles" if kind == "Role" else "clusterroles"
        if _allowed(authorizer, user, "bind", resource=bound, namespace=namespace, name=role_name):
            return
        held, why = authorizer.role_rules(ref, namespace)
        if not why:
            why = confirm_no_escalation(authorizer, user, namespace, list(held))
    if why:
        raise _refusal(rtype, name, why)
