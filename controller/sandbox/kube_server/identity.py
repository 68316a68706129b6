"""Who a request acts as: the unrestricted caller, or the user it impersonates.

The loopback server checks no credentials: every caller is the cluster admin (in the
``system:masters`` group, which RBAC never restricts), as before access control existed.
A caller that sends ``Impersonate-User`` acts as that user instead, with the groups a real
API server gives an impersonated user, so RBAC decides what it may do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from controller.sandbox.kube_server.errors import ApiError

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
ADMIN_NAME = "loopback-admin"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"

USER_HEADER = "Impersonate-User"
GROUP_HEADER = "Impersonate-Group"
UID_HEADER = "Impersonate-Uid"
EXTRA_PREFIX = "impersonate-extra-"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SEGMENT = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@dataclass(frozen=True)
class UserInfo:
    """An authenticated identity as the authorizer sees it."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    impersonated: bool = False

    @property
    def unrestricted(self) -> bool:
        return MASTERS in self.groups


def service_account(name: str) -> tuple[str, str] | None:
    """``(namespace, name)`` of a ServiceAccount user name, or None for any other user."""
    if not name.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = name[len(SERVICE_ACCOUNT_PREFIX) :].split(":")
    if len(parts) != 2 or not _DNS_LABEL.match(parts[0]) or not _SEGMENT.match(parts[1]):
        return None
    return parts[0], parts[1]


def service_account_groups(namespace: str) -> tuple[str, str]:
    return SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}"


def caller(authenticated: bool) -> UserInfo:
    """The unimpersonated caller: a bearer token makes it the admin, none makes it anonymous;
    both stay unrestricted (the loopback server's callers always were)."""
    if authenticated:
        return UserInfo(ADMIN_NAME, groups=(MASTERS, AUTHENTICATED))
    return UserInfo(ANONYMOUS, groups=(MASTERS, UNAUTHENTICATED))


def _values(raw: str | None) -> list[str]:
    # The WSGI layer folds repeated header lines into one comma-separated value.
    if not raw:
        return []
    return [value.strip() for value in raw.split(",") if value.strip()]


def with_implied_groups(name: str, groups: list[str], *, groups_given: bool) -> tuple[str, ...]:
    """The groups a real server adds to an impersonated (or reviewed) user."""
    found = list(groups)
    account = service_account(name)
    if account is not None and not groups_given:
        found = [*service_account_groups(account[0])]
    if name == ANONYMOUS:
        if UNAUTHENTICATED not in found:
            found.append(UNAUTHENTICATED)
    elif AUTHENTICATED not in found and UNAUTHENTICATED not in found:
        found.append(AUTHENTICATED)
    return tuple(found)


def acting_user(headers: Mapping[str, str], path: str, *, authenticated: bool) -> UserInfo:
    """The identity a request acts as, from its impersonation headers (if any)."""
    name = headers.get(USER_HEADER, "")
    groups = _values(headers.get(GROUP_HEADER))
    uid = headers.get(UID_HEADER, "")
    extra: dict[str, tuple[str, ...]] = {}
    for header, value in headers.items():
        if header.lower().startswith(EXTRA_PREFIX):
            key = unquote(header[len(EXTRA_PREFIX) :].lower())
            extra[key] = (*extra.get(key, ()), *_values(value))
    if not name:
        if groups or extra or uid:
            asked = ", ".join(
                [*(f"Group {g}" for g in groups), *(f"Extra {k}" for k in extra)]
                + ([f"UID {uid}"] if uid else [])
            )
            raise ApiError(
                500,
                f'Internal Server Error: "{path}": requested [{asked}] '
                "without impersonating a user",
            )
        return caller(authenticated)
    return UserInfo(
        name,
        uid=uid,
        groups=with_implied_groups(name, groups, groups_given=bool(groups)),
        extra=extra,
        impersonated=True,
    )
