"""API errors as the Kubernetes API server reports them: a ``Status`` object per failure."""

from __future__ import annotations

from typing import Any

from controller.sandbox.kube_server.resources import ResourceType

# HTTP code -> the StatusReason a real API server pairs with it.
REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """A failed request; ``status_body`` is what goes on the wire."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details
        self.headers = headers or {}

    def status_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(rtype: ResourceType, name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": rtype.plural}
    if rtype.group:
        details["group"] = rtype.group
    if name:
        details["name"] = name
    return details


def _qualified(rtype: ResourceType) -> str:
    return f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural


def not_found(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(404, f'{_qualified(rtype)} "{name}" not found', details=_details(rtype, name))


def already_exists(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(
        409,
        f'{_qualified(rtype)} "{name}" already exists',
        reason="AlreadyExists",
        details=_details(rtype, name),
    )


def conflict(rtype: ResourceType, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {_qualified(rtype)} "{name}": {why}',
        details=_details(rtype, name),
    )


STALE_OBJECT = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def stale(rtype: ResourceType, name: str) -> ApiError:
    return conflict(rtype, name, STALE_OBJECT)


def forbidden(
    rtype: ResourceType, verb: str, user: str, namespace: str | None, name: str | None
) -> ApiError:
    return forbidden_request(
        group=rtype.group, resource=rtype.plural, verb=verb, user=user,
        namespace=namespace, name=name,
    )  # fmt: skip


def _with_reason(message: str, reason: str) -> str:
    return f"{message}: {reason}" if reason else message


def forbidden_request(
    *,
    group: str,
    resource: str,
    verb: str,
    user: str,
    namespace: str | None,
    name: str | None,
    subresource: str | None = None,
    reason: str = "",
) -> ApiError:
    """A refused resource request, worded as a real API server words it (with the
    authorizer's reason, such as a binding to a missing role, after a colon)."""
    qualified = f"{resource}.{group}" if group else resource
    subject = f'{qualified} "{name}"' if name else qualified
    scope = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    combined = f"{resource}/{subresource}" if subresource else resource
    details: dict[str, Any] = {"kind": resource}
    if group:
        details["group"] = group
    if name:
        details["name"] = name
    return ApiError(
        403,
        _with_reason(
            f'{subject} is forbidden: User "{user}" cannot {verb} resource "{combined}" '
            f'in API group "{group}"{scope}',
            reason,
        ),
        details=details,
    )


def forbidden_path(*, verb: str, user: str, path: str, reason: str = "") -> ApiError:
    """A refused non-resource request (discovery, /version, /healthz, ...)."""
    return ApiError(
        403, _with_reason(f'forbidden: User "{user}" cannot {verb} path "{path}"', reason)
    )


def invalid(rtype: ResourceType, name: str, field: str, why: str) -> ApiError:
    details = _details(rtype, name)
    details["causes"] = [{"reason": "FieldValueInvalid", "message": why, "field": field}]
    return ApiError(
        422,
        f'{rtype.kind} "{name}" is invalid: {field}: {why}',
        details=details,
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def success_status(rtype: ResourceType, name: str, uid: str) -> dict[str, Any]:
    """The body a real server answers a completed DELETE with."""
    details = _details(rtype, name)
    details["uid"] = uid
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }
