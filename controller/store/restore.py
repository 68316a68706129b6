"""What a ``spec.restore`` puts back: values of earlier versions, resolved inside an apply.

A restore is a change like any other: the values it names are written as a new version
(history is never rewritten), so it is reviewed, audited and synced the same way. Version
numbers come from the pull request, so a version that does not exist, or a key that did not
exist at the version named (deleted by then, or not yet added), is refused with a message
naming the field; nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from controller.errors import InputError, Problem
from controller.model import SecretChange

ValuesAt = Callable[[int], Mapping[str, bytes] | None]
"""Version -> the secret's plaintext values at that version, None when there is none."""


def restored_values(change: SecretChange, values_at: ValuesAt) -> dict[str, bytes]:
    """Key -> value to write back, plaintext in memory only (never logged or raised)."""
    where = change.source or change.path
    if change.restore_version is not None:
        old = values_at(change.restore_version)
        if old is None:
            raise InputError(
                [_missing(where, "spec.restore.version", change, change.restore_version)]
            )
        return dict(old)
    restored: dict[str, bytes] = {}
    problems: list[Problem] = []
    for key, number in sorted(change.restore_keys.items()):
        old = values_at(number)
        field = f"spec.restore.keys.{key}"
        if old is None:
            problems.append(_missing(where, field, change, number))
        elif key not in old:
            problems.append(
                Problem(
                    where,
                    field,
                    f"{change.path} had no key {key} at version {number} (deleted by then, or"
                    " not added yet): name a version that held it (`sealgate store history`)",
                )
            )
        else:
            restored[key] = old[key]
    if problems:
        raise InputError(problems)
    return restored


def _missing(where: str, field: str, change: SecretChange, number: int) -> Problem:
    return Problem(
        where,
        field,
        f"{change.path} has no version {number}: name one of its versions "
        "(`sealgate store history`)",
    )
