"""The applied-sealed-value index and the rollout intent recorded with each apply.

``.sealgate/sealed/<env>/<d0d1>/<digest>.json`` names the change that applied a sealed
value, keyed by the SHA-256 digest of its payload (``controller.crypto.sealed_digest``):
never the sealed text, never the value. It is written in the apply's own commit, so a
crash leaves either the apply and its digests or neither. A later apply carrying a digest
the index knows is refused before anything is opened.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from controller.crypto import sealed_digests
from controller.errors import InputError, IntegrityError, Problem
from controller.model import RolloutFailure, SecretChange
from controller.store.gitobjects import GitObjects
from controller.store.layout import META

SEALED_ROOT = f"{META}/sealed"


def sealed_path(environment: str, digest: str) -> str:
    return f"{SEALED_ROOT}/{environment}/{digest[:2]}/{digest}.json"


def applied_by(git: GitObjects, tree: bytes | None, environment: str, digest: str) -> str | None:
    """The change id that applied the sealed value with ``digest``, or None."""
    data = git.read_path(tree, sealed_path(environment, digest))
    if data is None:
        return None
    try:
        return str(json.loads(data)["changeId"])
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(
            f"{sealed_path(environment, digest)}: applied-value index entry is malformed"
        ) from exc


def applied_elsewhere(
    git: GitObjects, tree: bytes | None, environment: str, digests: Iterable[str]
) -> dict[str, str]:
    found: dict[str, str] = {}
    for digest in sorted(set(digests)):
        earlier = applied_by(git, tree, environment, digest)
        if earlier is not None:
            found[digest] = earlier
    return found


def sealed_entries(
    git: GitObjects,
    tree: bytes | None,
    environment: str,
    changes: Sequence[SecretChange],
    *,
    change_id: str,
    now: datetime,
) -> dict[str, bytes]:
    """The index entries this apply adds; ``InputError`` when a value was applied before."""
    problems: list[Problem] = []
    entries: dict[str, bytes] = {}
    for change in changes:
        for key, digest in sealed_digests(change):
            earlier = applied_by(git, tree, environment, digest)
            path = sealed_path(environment, digest)
            if (earlier is not None and earlier != change_id) or path in entries:
                problems.append(
                    Problem(
                        change.source or change.path,
                        f"spec.set.{key}",
                        f"this sealed value was already applied (by {earlier or change_id}); "
                        "a sealed value is applied once: seal the value again with "
                        f"`sealgate seal --env-file environments/{environment}.yaml --secret "
                        f"{change.secret} --key {key}`",
                    )
                )
                continue
            entries[path] = json.dumps(
                {
                    "changeId": change_id,
                    "path": change.path,
                    "key": key,
                    "appliedAt": now.astimezone(UTC).isoformat(),
                },
                sort_keys=True,
            ).encode()
    if problems:
        raise InputError(problems)
    return entries


def rollout_intent(changes: Sequence[SecretChange]) -> dict[str, RolloutFailure]:
    """Per secret path: ``rollback`` only when every change to it asks for one.

    The reconciler resolves each change's environment default before the apply; a change
    that still says nothing keeps its value (the safe side for a rotated credential).
    """
    out: dict[str, RolloutFailure] = {}
    for change in changes:
        wanted = change.on_rollout_failure or RolloutFailure.KEEP
        if out.get(change.path) is not RolloutFailure.KEEP:
            out[change.path] = wanted
    return out


def read_intent(entry: Mapping[str, object]) -> dict[str, RolloutFailure]:
    raw = entry.get("onRolloutFailure", {})
    if not isinstance(raw, dict):
        raise IntegrityError("applied-change index entry: onRolloutFailure is malformed")
    try:
        return {str(path): RolloutFailure(str(value)) for path, value in raw.items()}
    except ValueError as exc:
        raise IntegrityError("applied-change index entry: onRolloutFailure is malformed") from exc
