"""Checks on what ``apply`` is asked to do, before anything is opened or written."""

from __future__ import annotations

import re
from collections.abc import Iterable

from controller.errors import Problem
from controller.model import SecretChange

ENVIRONMENT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_NAME_PART = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")


def check_names(change: SecretChange) -> list[Problem]:
    where = change.source or f"{change.environment}/{change.secret}"
    problems: list[Problem] = []
    if not ENVIRONMENT.fullmatch(change.environment):
        problems.append(Problem(where, "environment", "must match [a-z0-9][a-z0-9-]{0,62}"))
    parts = change.secret.split("/")
    if len(parts) != 2 or not all(_NAME_PART.fullmatch(p) for p in parts):
        problems.append(
            Problem(where, "secret", "must be <namespace>/<name>, lowercase DNS labels")
        )
    for key in sorted(change.keys):
        if not _KEY.fullmatch(key):
            problems.append(Problem(where, f"key {key!r}", "must match [-._a-zA-Z0-9]+"))
    return problems


def secret_problems(where: str, secret: str, keys: Iterable[str]) -> list[Problem]:
    """``<namespace>/<name>`` and key names as ``check_names`` wants them, for grants."""
    parts = secret.split("/")
    if len(parts) != 2 or not all(_NAME_PART.fullmatch(p) for p in parts):
        return [
            Problem(where, f"secret {secret!r}", "must be <namespace>/<name>, lowercase DNS labels")
        ]
    return [
        Problem(where, f"secret {secret} key {key!r}", "must match [-._a-zA-Z0-9]+")
        for key in keys
        if not _KEY.fullmatch(key)
    ]
