"""Access reviews (``authorization.k8s.io/v1``): "may this user do that?" answered by RBAC;
and ``authentication.k8s.io/v1`` SelfSubjectReview: "who am I?".

A review is created (POST) and answered in the same breath; nothing is stored. The answer
echoes the request's metadata and spec and adds ``status``, as a real server's does:
``allowed``, and the authorizer's ``reason`` when it has one.
"""

from __future__ import annotations

import json
from typing import Any

from controller.sandbox.kube_server import errors
from controller.sandbox.kube_server.errors import ApiError
from controller.sandbox.kube_server.identity import UserInfo
from controller.sandbox.kube_server.rbac import Attributes, RbacAuthorizer
from controller.sandbox.kube_server.resources import (
    LOCAL_SUBJECT_ACCESS_REVIEWS,
    SELF_SUBJECT_REVIEWS,
    SELF_SUBJECT_RULES_REVIEWS,
    SUBJECT_ACCESS_REVIEWS,
    ResourceType,
)


def _shown(value: Any) -> str:
    return json.dumps("null" if value is None else value)


def _invalid(rtype: ResourceType, problems: list[tuple[str, Any, str]]) -> ApiError:
    listed = [f"{field}: Invalid value: {_shown(value)}: {why}" for field, value, why in problems]
    joined = listed[0] if len(listed) == 1 else f"[{', '.join(listed)}]"
    return ApiError(
        422,
        f'{rtype.kind}.{rtype.group} "" is invalid: {joined}',
        details={
            "group": rtype.group,
            "kind": rtype.kind,
            "causes": [
                {"reason": "FieldValueInvalid", "message": f"Invalid value: {why}", "field": f}
                for f, _, why in problems
            ],
        },
    )


def _object(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _attributes(rtype: ResourceType, spec: dict[str, Any], user: UserInfo) -> Attributes:
    resource = _object(spec.get("resourceAttributes"))
    non_resource = _object(spec.get("nonResourceAttributes"))
    problems: list[tuple[str, Any, str]] = []
    if resource is not None and non_resource is not None:
        problems.append(
            ("spec.nonResourceAttributes", non_resource,
             "cannot be specified in combination with resourceAttributes")
        )  # fmt: skip
    if resource is None and non_resource is None:
        problems.append(
            ("spec.resourceAttributes", None,
             "exactly one of nonResourceAttributes or resourceAttributes must be specified")
        )  # fmt: skip
    if rtype is SUBJECT_ACCESS_REVIEWS and not user.name and not user.groups:
        problems.append(("spec.user", "", "at least one of user or group must be specified"))
    if rtype is LOCAL_SUBJECT_ACCESS_REVIEWS and non_resource is not None:
        problems.append(
            ("spec.nonResourceAttributes", non_resource, "disallowed on this kind of request")
        )
    if problems:
        raise _invalid(rtype, problems)
    if resource is not None:
        return Attributes(
            user=user,
            verb=str(resource.get("verb", "")),
            api_group=str(resource.get("group", "")),
            resource=str(resource.get("resource", "")),
            subresource=str(resource.get("subresource", "")),
            namespace=str(resource.get("namespace", "")),
            name=str(resource.get("name", "")),
        )
    assert non_resource is not None
    return Attributes(
        user=user,
        verb=str(non_resource.get("verb", "")),
        resource_request=False,
        path=str(non_resource.get("path", "")),
    )


def _reviewed_user(spec: dict[str, Any]) -> UserInfo:
    """The subject a (Local)SubjectAccessReview names: exactly the groups given, as a real
    server evaluates it (no implied ``system:authenticated``)."""
    extra = _object(spec.get("extra")) or {}
    return UserInfo(
        str(spec.get("user", "")),
        uid=str(spec.get("uid", "")),
        groups=_strings(spec.get("groups")),
        extra={str(k): _strings(v) for k, v in extra.items()},
        impersonated=True,
    )


def _metadata(body: dict[str, Any], namespace: str | None) -> dict[str, Any]:
    metadata = {k: v for k, v in (_object(body.get("metadata")) or {}).items() if v is not None}
    if namespace:
        metadata.setdefault("namespace", namespace)
    return metadata


def _rules_status(authorizer: RbacAuthorizer, user: UserInfo, namespace: str) -> dict[str, Any]:
    rules, problem = authorizer.rules(user, namespace)
    resource_rules: list[dict[str, Any]] = []
    non_resource_rules: list[dict[str, Any]] = []
    for rule in rules:
        verbs = list(_strings(rule.get("verbs")))
        if rule.get("resources"):
            entry: dict[str, Any] = {"verbs": verbs}
            for key in ("apiGroups", "resources", "resourceNames"):
                if rule.get(key):
                    entry[key] = list(_strings(rule.get(key)))
            resource_rules.append(entry)
        if rule.get("nonResourceURLs"):
            non_resource_rules.append(
                {"verbs": verbs, "nonResourceURLs": list(_strings(rule.get("nonResourceURLs")))}
            )
    status: dict[str, Any] = {
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": False,
    }
    if problem:
        status["evaluationError"] = problem
    return status


def _who_am_i(rtype: ResourceType, body: dict[str, Any], user: UserInfo) -> dict[str, Any]:
    """``kubectl auth whoami``: the identity the request acted as."""
    info: dict[str, Any] = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    if user.extra:
        info["extra"] = {key: list(values) for key, values in user.extra.items()}
    return {
        "kind": rtype.kind,
        "apiVersion": rtype.api_version,
        "metadata": _metadata(body, None),
        "status": {"userInfo": info},
    }


def answer(
    authorizer: RbacAuthorizer,
    rtype: ResourceType,
    body: dict[str, Any],
    user: UserInfo,
    namespace: str | None,
) -> dict[str, Any]:
    """The answered review for a POSTed ``body`` from ``user`` (to ``namespace`` for a
    LocalSubjectAccessReview)."""
    if body.get("kind") not in (None, rtype.kind):
        raise errors.bad_request(
            f"the body is a {body.get('kind')}, but this endpoint takes a {rtype.kind}"
        )
    if rtype is SELF_SUBJECT_REVIEWS:
        return _who_am_i(rtype, body, user)
    spec = _object(body.get("spec"))
    if spec is None:
        raise _invalid(rtype, [("spec", None, "a review needs a spec")])
    reply = {
        "kind": rtype.kind,
        "apiVersion": rtype.api_version,
        "metadata": _metadata(body, namespace),
        "spec": spec,
    }
    if rtype is SELF_SUBJECT_RULES_REVIEWS:
        wanted = str(spec.get("namespace", ""))
        if not wanted:
            raise errors.bad_request("no namespace on request")
        return {**reply, "status": _rules_status(authorizer, user, wanted)}
    subject = user if rtype.kind.startswith("Self") else _reviewed_user(spec)
    attrs = _attributes(rtype, spec, subject)
    if rtype is LOCAL_SUBJECT_ACCESS_REVIEWS and attrs.namespace != namespace:
        raise errors.bad_request(
            f"spec.resourceAttributes.namespace must match namespace: {namespace}"
        )
    verdict = authorizer.authorize(attrs)
    status: dict[str, Any] = {"allowed": verdict.allowed}
    if verdict.reason:
        status["reason"] = verdict.reason
    return {**reply, "status": status}
