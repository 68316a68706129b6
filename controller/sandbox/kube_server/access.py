"""Access control for one HTTP request: its RBAC attributes, and a 403 when RBAC says no.

The attributes follow a real API server's request info: a GET of a namespace is in that
namespace, and a list or watch whose field selector pins ``metadata.name`` names that
object (so a rule with resourceNames can allow watching one Secret, but never listing all),
and ``namespaces/{name}/status`` is the namespace's status, not a kind called "status".
"""

from __future__ import annotations

from controller.sandbox.kube_server import errors
from controller.sandbox.kube_server.identity import UserInfo
from controller.sandbox.kube_server.rbac import Attributes, RbacAuthorizer

NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
# Routed as a collection, a namespace's subresource is still one object.
_ON_ONE_OBJECT = {"list": "get", "watch": "get", "deletecollection": "delete"}


def _selected_name(field_selector: str | None) -> str:
    for requirement in (field_selector or "").split(","):
        for operator in ("==", "="):
            key, found, value = requirement.partition(operator)
            if found and key.strip() == "metadata.name" and not value.startswith("="):
                value = value.strip()
                if value not in ("", ".", "..") and "/" not in value and "%" not in value:
                    return value
                return ""
    return ""


def resource_attributes(
    user: UserInfo,
    *,
    verb: str,
    group: str,
    resource: str,
    subresource: str | None,
    namespace: str | None,
    name: str | None,
    field_selector: str | None,
) -> Attributes:
    named = name or ""
    if namespace and not name and resource in NAMESPACE_SUBRESOURCES:
        # /api/v1/namespaces/{name}/status is a subresource of the namespace, not a kind.
        resource, subresource, named = "namespaces", resource, namespace
        verb = _ON_ONE_OBJECT.get(verb, verb)
    if not named and verb in ("list", "watch"):
        named = _selected_name(field_selector)
    scope = namespace or ""
    if resource == "namespaces" and not scope and named:
        scope = named
    return Attributes(
        user=user,
        verb=verb,
        api_group=group,
        resource=resource,
        subresource=subresource or "",
        namespace=scope,
        name=named,
    )


def check(authorizer: RbacAuthorizer, attrs: Attributes) -> None:
    """Raise the 403 a real server answers when RBAC does not allow ``attrs``."""
    if attrs.user.unrestricted:
        return
    verdict = authorizer.authorize(attrs)
    if verdict.allowed:
        return
    if not attrs.resource_request:
        raise errors.forbidden_path(
            verb=attrs.verb, user=attrs.user.name, path=attrs.path, reason=verdict.reason
        )
    raise errors.forbidden_request(
        group=attrs.api_group,
        resource=attrs.resource,
        subresource=attrs.subresource,
        verb=attrs.verb,
        user=attrs.user.name,
        namespace=attrs.namespace,
        name=attrs.name,
        reason=verdict.reason,
    )


def check_path(authorizer: RbacAuthorizer, user: UserInfo, method: str, path: str) -> None:
    if user.unrestricted:
        return
    check(authorizer, Attributes(user=user, verb=method.lower(), resource_request=False, path=path))
