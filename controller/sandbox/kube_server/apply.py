"""Server-side apply, the subset a controller that owns its objects relies on.

An apply (PATCH with ``application/apply-patch+yaml`` and a ``fieldManager``) sends the
manager's whole intent. The server remembers which fields each applier set; an apply
creates the object when missing, merges the intent like a strategic merge patch, removes
fields the same manager applied before but left out now (unless another manager also owns
them), and refuses, with a 409 naming each field, to change a field another manager owns
(an applier, or an ``Update`` writer; see ``ownership``) to a different value unless
``force=true`` moves the field to the new manager.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from controller.sandbox.kube_server.errors import ApiError
from controller.sandbox.kube_server.fields import FieldPath, differs, field_set, remove_at
from controller.sandbox.kube_server.ownership import Manager, Ownership
from controller.sandbox.kube_server.patch import strategic_merge_patch
from controller.sandbox.kube_server.resources import ResourceType


def _dotted(path: FieldPath) -> str:
    parts = []
    for step in path:
        if isinstance(step, str):
            parts.append(f".{step}")
        elif step[0] == "k":
            parts.append(f"[{step[1]}={json.dumps(step[2])}]")
        else:
            parts.append(f"[={json.dumps(step[2])}]")
    return "".join(parts)


def _conflict_error(
    rtype: ResourceType, name: str, conflicts: list[tuple[Manager, FieldPath]]
) -> ApiError:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {owner.describe(rtype.api_version)}",
            "field": _dotted(path),
        }
        for owner, path in conflicts
    ]
    if len(causes) == 1:
        message = f"Apply failed with 1 conflict: {causes[0]['message']}: {causes[0]['field']}"
    else:
        lines = []
        for owner in sorted({owner for owner, _ in conflicts}):
            lines.append(f"conflicts with {owner.describe(rtype.api_version)}:")
            lines += [f"- {_dotted(path)}" for other, path in conflicts if other == owner]
        message = f"Apply failed with {len(causes)} conflicts: " + "\n".join(lines)
    return ApiError(409, message, details={"name": name, "kind": rtype.plural, "causes": causes})


def apply(
    rtype: ResourceType,
    live: dict[str, Any] | None,
    config: dict[str, Any],
    ownership: Ownership,
    *,
    manager: str,
    force: bool,
    now: str,
) -> dict[str, Any]:
    """The object after ``manager`` applies ``config``; updates ``ownership`` in place.

    ``live`` is the stored object (None to create). Raises a 409 ``ApiError`` on conflicts.
    """
    me = Manager(manager)
    wanted = field_set(config)
    if rtype.has_status:
        # The main resource resets status, so an applier neither owns nor contests it.
        wanted = {path for path in wanted if path[0] != "status"}
    current = copy.deepcopy(live) if live is not None else {}
    conflicts: list[tuple[Manager, FieldPath]] = []
    for other, owned in sorted(ownership.by_manager.items()):
        if other == me:
            continue
        for path in sorted(wanted & owned, key=repr):
            if differs(current, config, path):
                conflicts.append((other, path))
    if conflicts and not force:
        raise _conflict_error(rtype, str(config["metadata"].get("name", "")), conflicts)
    for other, path in conflicts:
        ownership.by_manager[other].discard(path)
    others = ownership.others(me)
    dropped = ownership.by_manager.get(me, set()) - wanted
    for path in sorted(dropped, key=len, reverse=True):
        still_used = any(p[: len(path)] == path for p in others)
        if not still_used:
            remove_at(current, path)
    merged = strategic_merge_patch(current, config)
    if ownership.by_manager.get(me) != wanted or _content(merged) != _content(live):
        ownership.times[me] = now
    ownership.by_manager[me] = wanted
    return merged


def _content(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """An object without the bookkeeping an apply itself changes."""
    if obj is None:
        return None
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}
    return {**obj, "metadata": metadata}
