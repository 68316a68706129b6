"""What a change may say about a Secret besides its data: its type, labels and annotations.

The rules are the API server's own (``ValidateSecret``, ``ValidateLabels``,
``ValidateAnnotations``), checked before a review is asked for: a Secret Kubernetes would
refuse must not get as far as a merge. A few more are sealgate's: its own annotation prefix
is not for users, and a ServiceAccount token is minted by the cluster, never stored here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

from controller.model import OPAQUE, SecretChange

MAX_ANNOTATIONS_BYTES = 256 * 1024
"""``TotalAnnotationSizeLimitB``: keys and values of all annotations together."""

_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_RESERVED_PREFIXES = ("kubernetes.io", "k8s.io")
_OWN_DOMAIN = "sealgate.dev"
_RESERVED_KEYS: Mapping[str, str] = {
    "app.kubernetes.io/managed-by": "sealgate sets it to claim the Secret",
    "kubectl.kubernetes.io/last-applied-configuration": (
        "kubectl's copy of a manifest would keep values readable in metadata"
    ),
}


@dataclass(frozen=True, slots=True)
class TypeRule:
    keys: tuple[str, ...]
    any_of: bool = False
    """One of ``keys`` is enough (basic-auth: a username, a password or both)."""
    json_keys: tuple[str, ...] = ()
    """Keys whose value the API server parses as JSON."""


TYPE_RULES: Mapping[str, TypeRule] = {
    "kubernetes.io/tls": TypeRule(("tls.crt", "tls.key")),
    "kubernetes.io/dockerconfigjson": TypeRule(
        (".dockerconfigjson",), json_keys=(".dockerconfigjson",)
    ),
    "kubernetes.io/dockercfg": TypeRule((".dockercfg",), json_keys=(".dockercfg",)),
    "kubernetes.io/basic-auth": TypeRule(("username", "password"), any_of=True),
    "kubernetes.io/ssh-auth": TypeRule(("ssh-privatekey",)),
    "bootstrap.kubernetes.io/token": TypeRule(("token-id", "token-secret")),
}
REFUSED_TYPES: Mapping[str, str] = {
    "kubernetes.io/service-account-token": (
        "the cluster mints ServiceAccount tokens itself; request one with a projected volume "
        "or `kubectl create token` instead of storing it"
    ),
}


def type_problem(secret_type: str) -> str | None:
    """Why ``spec.type`` cannot be a Secret's type, or None."""
    if secret_type in REFUSED_TYPES:
        return f"type {secret_type} is not stored by sealgate: {REFUSED_TYPES[secret_type]}"
    if secret_type == OPAQUE or secret_type in TYPE_RULES:
        return None
    prefix = secret_type.rpartition("/")[0]
    if "." in prefix and _qualified_name_problem(secret_type) is None:
        return None  # a custom type such as example.com/api-key: Kubernetes accepts any
    known = ", ".join([OPAQUE, *sorted(TYPE_RULES)])
    return f"must be one of {known}, or a custom type <domain>/<name> such as example.com/api-key"


def missing_keys_problem(secret_type: str, keys: Collection[str]) -> str | None:
    """Why a Secret of ``secret_type`` holding ``keys`` (after the change) would be refused."""
    rule = TYPE_RULES.get(secret_type)
    if rule is None:
        return None
    present = [k for k in rule.keys if k in keys]
    if rule.any_of and present:
        return None
    missing = [k for k in rule.keys if k not in keys]
    if not missing:
        return None
    wanted = " or ".join(rule.keys) if rule.any_of else " and ".join(rule.keys)
    return (
        f"a Secret of type {secret_type} must hold {wanted}; after this change it lacks "
        f"{', '.join(missing)}: add them under spec.set or spec.generate"
    )


def content_problem(secret_type: str, key: str, value: bytes) -> str | None:
    """Why the API server would refuse ``value`` under ``key``; never quotes the value."""
    rule = TYPE_RULES.get(secret_type)
    if rule is None or key not in rule.json_keys:
        return None
    try:
        json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return (
            f"{key} of a {secret_type} Secret must be JSON (the API server parses it): "
            "seal the registry credentials file itself"
        )
    return None


def metadata_problems(field: str, edit: Mapping[str, object]) -> Iterator[tuple[str, str]]:
    """``(key, why)`` for each bad entry of ``spec.labels`` or ``spec.annotations``.

    Keys are names, not values, and are quoted; a value is never quoted (an annotation can
    be long free text, and one pasted by mistake might be a secret).
    """
    total = 0
    for key, value in edit.items():
        why = _qualified_name_problem(key) or _reserved_problem(key)
        if why is None and isinstance(value, str):
            total += len(key) + len(value)
            if field == "labels" and (len(value) > 63 or not _LABEL_VALUE.match(value)):
                why = (
                    "a label value is at most 63 characters: letters, digits, '-', '_' and "
                    "'.', starting and ending with a letter or digit (or empty)"
                )
        if why:
            yield key, why
    if field == "annotations" and total > MAX_ANNOTATIONS_BYTES:
        yield (
            "",
            (f"annotations add up to {total} bytes; Kubernetes allows {MAX_ANNOTATIONS_BYTES}"),
        )


def _qualified_name_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return "the prefix before '/' must be a DNS subdomain such as example.com"
    if not name or len(name) > 63 or not _NAME.match(name):
        return (
            "the name must be at most 63 characters: letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit"
        )
    return None


def _reserved_problem(key: str) -> str | None:
    if key in _RESERVED_KEYS:
        return f"{key} is not for changes: {_RESERVED_KEYS[key]}"
    prefix = key.rpartition("/")[0]
    if prefix == _OWN_DOMAIN or prefix.endswith("." + _OWN_DOMAIN):
        return f"keys under {_OWN_DOMAIN}/ are sealgate's own bookkeeping: choose another prefix"
    if prefix in _RESERVED_PREFIXES:
        return f"the {prefix}/ prefix is reserved for Kubernetes itself: choose another prefix"
    return None


@dataclass(frozen=True, slots=True)
class ShapeProblem:
    change: SecretChange
    field: str
    message: str


def shape_problems(
    changes: Sequence[SecretChange],
    current_types: Mapping[str, str],
    current_keys: Mapping[str, Collection[str]],
) -> list[ShapeProblem]:
    """What the store's state makes wrong: a type that would change, or keys a type needs.

    ``current_types``/``current_keys``: per ``<env>/<namespace>/<name>`` the store holds now;
    a path missing from both is a new secret. Judged over all changes of the pull request
    together, since several documents may build one Secret.
    """
    problems: list[ShapeProblem] = []
    by_path: dict[str, list[SecretChange]] = {}
    for change in changes:
        by_path.setdefault(change.path, []).append(change)
    for path, group in sorted(by_path.items()):
        stored = current_types.get(path)
        exists = stored is not None or path in current_keys
        wanted = stored or OPAQUE
        typed = [c for c in group if c.type is not None]
        for change in typed:
            assert change.type is not None
            if exists and change.type != wanted:
                problems.append(
                    ShapeProblem(
                        change,
                        "spec.type",
                        f"{path} is stored as a {wanted} Secret and Kubernetes cannot change a "
                        "Secret's type: keep spec.type out of this change, or store the new "
                        "type under a new secret name and move the workloads to it",
                    )
                )
            elif change.type != typed[0].type:
                problems.append(
                    ShapeProblem(
                        change,
                        "spec.type",
                        f"another document of this pull request gives {path} the type "
                        f"{typed[0].type}: a Secret has one type",
                    )
                )
        if not exists and typed:
            wanted = typed[0].type or OPAQUE
        rule = TYPE_RULES.get(wanted)
        for change in group:
            for key in sorted(set(change.generate) & set(rule.json_keys if rule else ())):
                problems.append(
                    ShapeProblem(
                        change,
                        f"spec.generate.{key}",
                        f"{key} of a {wanted} Secret must be JSON, and a generated value is "
                        "random text: seal the file with spec.set instead",
                    )
                )
        keys = set(current_keys.get(path, ()))
        for change in group:
            keys |= set(change.set) | set(change.generate)
            keys -= set(change.delete)
        why = missing_keys_problem(wanted, keys)
        if why:
            problems.append(ShapeProblem(typed[0] if typed else group[0], "spec.type", why))
    return problems
