"""``AccessRequest`` documents: checks the schema cannot express, and the typed request.

Takes data that already passed ``schemas/access.schema.json``. The checks look across
fields (a kubernetes delivery needs a subject, a secret named twice) and bound the
durations: a grant is meant to be short, and a typo such as ``90d`` for ``90m`` must be a
visible error, not three months of access. What needs the repository (the file's
directory, the environment) is in ``access_rules``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from controller.documents.convert import parse_duration
from controller.documents.locations import FieldPath, LineMap, line_of, render_path
from controller.documents.reason_check import REASON_CREDENTIAL_MESSAGE, credential_in
from controller.errors import Problem
from controller.model import (
    GOVERNANCE,
    AccessDelivery,
    AccessRequest,
    KubernetesSubject,
    SecretAccess,
)

MAX_DURATION = timedelta(days=30)
"""The longest ``spec.duration`` any request may ask for, whatever the policies say."""
MAX_ACTIVATE_WITHIN = timedelta(days=30)
SERVICE_ACCOUNT = "ServiceAccount"
SYSTEM_PREFIX = "system:"
"""Kubernetes' reserved user and group names (``system:authenticated``, ``system:anonymous``,
``system:serviceaccount:<ns>:<name>``, ...)."""
_DNS_SUBDOMAIN = re.compile(
    r"(?=.{1,253}\Z)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z"
)
"""A ServiceAccount's name, as Kubernetes validates it (a RoleBinding to any other name
binds nobody, and the grant would look delivered)."""


def _problem(source: str, lines: LineMap, path: FieldPath, message: str) -> Problem:
    return Problem(source, render_path(path), message, line_of(lines, path))


def access_problems(source: str, doc: dict[str, Any], lines: LineMap) -> list[Problem]:
    spec = doc["spec"]
    problems: list[Problem] = []

    def add(path: FieldPath, message: str) -> None:
        problems.append(_problem(source, lines, path, message))

    if spec["environment"] == GOVERNANCE:
        add(
            ("spec", "environment"),
            f"'{GOVERNANCE}' is not an environment: name the environment the secrets live in",
        )
    credential = credential_in(spec["reason"])
    if credential is not None:
        add(("spec", "reason"), REASON_CREDENTIAL_MESSAGE.format(kind=credential))
    for field, limit in (("duration", MAX_DURATION), ("activateWithin", MAX_ACTIVATE_WITHIN)):
        if parse_duration(spec[field]) > limit:
            add(
                ("spec", field),
                f"is longer than the {limit.days}d any access request may ask for: ask for"
                " less, and open a new request when it ends",
            )
    first: dict[str, int] = {}
    for position, item in enumerate(spec["secrets"]):
        seen = first.setdefault(item["secret"], position)
        if seen != position:
            add(
                ("spec", "secrets", position, "secret"),
                f"names the same secret as spec.secrets[{seen}]: list each secret once, with"
                " all the keys you need",
            )
    problems.extend(_subject_problems(source, spec, lines))
    return problems


def _subject_problems(source: str, spec: dict[str, Any], lines: LineMap) -> list[Problem]:
    deliver = spec.get("deliver", [AccessDelivery.OPEN])
    subject = spec.get("kubernetesSubject")
    if AccessDelivery.KUBERNETES in deliver and subject is None:
        # Missing, so it has no line: point at the delivery that needs it.
        return [
            Problem(
                source,
                "spec.kubernetesSubject",
                "required field is missing: deliver lists kubernetes, so name the RBAC subject"
                " to bind (kind User, Group or ServiceAccount, and name)",
                line_of(lines, ("spec", "deliver")),
            )
        ]
    if subject is None:
        return []
    path: FieldPath = ("spec", "kubernetesSubject")
    if AccessDelivery.KUBERNETES not in deliver:
        return [
            _problem(
                source,
                lines,
                path,
                "is only used by the kubernetes delivery: add kubernetes to spec.deliver, or"
                " remove spec.kubernetesSubject",
            )
        ]
    if subject["kind"] == SERVICE_ACCOUNT and "namespace" not in subject:
        return [
            _problem(
                source,
                lines,
                (*path, "namespace"),
                "required field is missing: a ServiceAccount subject needs its namespace",
            )
        ]
    if subject["kind"] == SERVICE_ACCOUNT and not _DNS_SUBDOMAIN.match(subject["name"]):
        return [
            _problem(
                source,
                lines,
                (*path, "name"),
                "must be a ServiceAccount name: lowercase letters, digits, '-' and '.',"
                " starting and ending with a letter or digit, at most 253 characters",
            )
        ]
    if subject["kind"] != SERVICE_ACCOUNT and subject["name"].startswith(SYSTEM_PREFIX):
        # system:authenticated is every caller with a token, system:anonymous every caller
        # without one: a RoleBinding to them reads like a person's access in a hurried
        # review. Kubernetes' own identities are never the requester of a grant.
        return [
            _problem(
                source,
                lines,
                (*path, "name"),
                f"names one of Kubernetes' own identities ('{SYSTEM_PREFIX}...'), which stand"
                " for many callers or for cluster components, not for the requester: name"
                " the requester's user or group, or a ServiceAccount with kind"
                " ServiceAccount and its namespace",
            )
        ]
    if subject["kind"] != SERVICE_ACCOUNT and "namespace" in subject:
        return [
            _problem(
                source,
                lines,
                (*path, "namespace"),
                f"a {subject['kind']} subject has no namespace (only a ServiceAccount has one):"
                " remove it",
            )
        ]
    return []


def build_access(source: str, index: int, doc: dict[str, Any]) -> AccessRequest:
    spec = doc["spec"]
    subject = spec.get("kubernetesSubject")
    return AccessRequest(
        name=doc["metadata"]["name"],
        environment=spec["environment"],
        secrets=tuple(
            SecretAccess(secret=item["secret"], keys=tuple(item.get("keys", ())))
            for item in spec["secrets"]
        ),
        requester=spec["requester"],
        reason=spec["reason"],
        duration=parse_duration(spec["duration"]),
        activate_within=parse_duration(spec["activateWithin"]),
        deliver=frozenset(
            AccessDelivery(way) for way in spec.get("deliver", (AccessDelivery.OPEN,))
        ),
        kubernetes_subject=(
            None
            if subject is None
            else KubernetesSubject(
                kind=subject["kind"], name=subject["name"], namespace=subject.get("namespace", "")
            )
        ),
        source=source,
        document_index=index,
    )
