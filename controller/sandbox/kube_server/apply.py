"""Server-side apply, the subset a controller that owns its objects relies on.

An apply (PATCH with ``application/apply-patch+yaml`` and a ``fieldManager``) sends the
manager's whole intent. The server remembers which fields each applier set; an apply
creates the object when missing, merges the intent like a strategic merge patch, removes
fields the same manager applied before but left out now (unless another applier also set
them), and refuses, with a 409 naming each field, to change a field another applier set to
a different value unless ``force=true`` moves the field to the new manager.

Ownership is tracked for appliers only: plain create, update and patch requests take no
fields away from an applier, so conflicts with them are not reported (a real server
records those writers as ``Update`` managers and does report them).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from controller.sandbox.kube_server.errors import ApiError
from controller.sandbox.kube_server.patch import MERGE_KEYS, SET_LISTS, strategic_merge_patch
from controller.sandbox.kube_server.resources import ResourceType

# One step into an object: a map key, a list item named by its merge key, or a set member.
Step = str | tuple[str, str, Any]
FieldPath = tuple[Step, ...]

# Identity fields every apply carries; nobody owns them.
_IDENTITY: frozenset[FieldPath] = frozenset(
    {("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")}
)


def field_set(config: Any, path: FieldPath = ()) -> set[FieldPath]:
    """Every field an applied configuration sets, as paths; keyed list items count too."""
    found: set[FieldPath] = set()
    if not isinstance(config, dict) or not config:
        return {path} if path else found
    for key, value in config.items():
        here: FieldPath = (*path, key)
        if isinstance(value, list) and key in MERGE_KEYS:
            merge_key = MERGE_KEYS[key]
            for item in value:
                if isinstance(item, dict) and merge_key in item:
                    item_path: FieldPath = (*here, ("k", merge_key, item[merge_key]))
                    found.add(item_path)
                    found |= field_set(item, item_path)
                else:
                    found.add(here)
        elif isinstance(value, list) and key in SET_LISTS:
            found |= {(*here, ("v", "", member)) for member in value}
        elif isinstance(value, dict) and value:
            found |= field_set(value, here)
        else:
            found.add(here)
    return found - _IDENTITY


def _child(node: Any, step: Step) -> Any:
    if isinstance(step, str):
        return node.get(step) if isinstance(node, dict) else None
    kind, merge_key, value = step
    if not isinstance(node, list):
        return None
    if kind == "v":
        return value if value in node else None
    return next((i for i in node if isinstance(i, dict) and i.get(merge_key) == value), None)


def value_at(obj: Any, path: FieldPath) -> Any:
    node = obj
    for step in path:
        node = _child(node, step)
        if node is None:
            return None
    return node


def remove_at(obj: dict[str, Any], path: FieldPath) -> None:
    """Remove the field at ``path`` (a map key, a keyed list item or a set member)."""
    parents: list[Any] = [obj]
    for step in path[:-1]:
        child = _child(parents[-1], step)
        if child is None:
            return
        parents.append(child)
    last, holder = path[-1], parents[-1]
    if isinstance(last, str):
        if isinstance(holder, dict):
            holder.pop(last, None)
    elif isinstance(holder, list):
        kind, merge_key, value = last
        holder[:] = [
            item
            for item in holder
            if not (
                (kind == "v" and item == value)
                or (kind == "k" and isinstance(item, dict) and item.get(merge_key) == value)
            )
        ]
    # Maps the removal emptied go too, as a real server prunes them.
    for depth in range(len(parents) - 1, 0, -1):
        step = path[depth - 1]
        if isinstance(step, str) and parents[depth] in ({}, []):
            parent = parents[depth - 1]
            if isinstance(parent, dict):
                parent.pop(step, None)


def fields_v1(paths: set[FieldPath]) -> dict[str, Any]:
    """The ``FieldsV1`` encoding of a field set, as managedFields shows it."""
    tree: dict[str, Any] = {}
    for path in sorted(paths, key=repr):
        node = tree
        for step in path:
            if isinstance(step, str):
                key = f"f:{step}"
            elif step[0] == "k":
                key = "k:" + json.dumps({step[1]: step[2]}, separators=(",", ":"))
            else:
                key = "v:" + json.dumps(step[2], separators=(",", ":"))
            node = node.setdefault(key, {})
            if not isinstance(step, str) and step[0] == "k":
                node.setdefault(".", {})
    return tree


@dataclass
class Ownership:
    """Which fields each applier of one object set, and when each last changed them."""

    by_manager: dict[str, set[FieldPath]] = field(default_factory=dict)
    times: dict[str, str] = field(default_factory=dict)

    def managed_fields(self, rtype: ResourceType) -> list[dict[str, Any]]:
        """``metadata.managedFields`` as a real server shows it."""
        return [
            {
                "manager": manager,
                "operation": "Apply",
                "apiVersion": rtype.api_version,
                "time": self.times.get(manager, ""),
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1(paths),
            }
            for manager, paths in sorted(self.by_manager.items())
            if paths
        ]


def _conflict_error(
    rtype: ResourceType, name: str, conflicts: list[tuple[str, FieldPath]]
) -> ApiError:
    def dotted(path: FieldPath) -> str:
        parts = []
        for step in path:
            if isinstance(step, str):
                parts.append(f".{step}")
            elif step[0] == "k":
                parts.append(f"[{step[1]}={json.dumps(step[2])}]")
            else:
                parts.append(f"[={json.dumps(step[2])}]")
        return "".join(parts)

    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{owner}"',
            "field": dotted(p),
        }
        for owner, p in conflicts
    ]
    listed = "; ".join(f"{c['message']}: {c['field']}" for c in causes)
    plural = "conflict" if len(causes) == 1 else "conflicts"
    return ApiError(
        409,
        f"Apply failed with {len(causes)} {plural}: {listed}",
        details={"name": name, "kind": rtype.plural, "causes": causes},
    )


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
    wanted = field_set(config)
    current = copy.deepcopy(live) if live is not None else {}
    conflicts: list[tuple[str, FieldPath]] = []
    for other, owned in ownership.by_manager.items():
        if other == manager:
            continue
        for path in sorted(wanted & owned, key=repr):
            if value_at(current, path) != value_at(config, path):
                conflicts.append((other, path))
    if conflicts and not force:
        raise _conflict_error(rtype, str(config["metadata"].get("name", "")), conflicts)
    for other, path in conflicts:
        ownership.by_manager[other].discard(path)
    others: set[FieldPath] = set()
    for other, owned in ownership.by_manager.items():
        if other != manager:
            others |= owned
    dropped = ownership.by_manager.get(manager, set()) - wanted
    for path in sorted(dropped, key=len, reverse=True):
        still_used = any(p[: len(path)] == path for p in others)
        if not still_used:
            remove_at(current, path)
    merged = strategic_merge_patch(current, config)
    if ownership.by_manager.get(manager) != wanted or _content(merged) != _content(live):
        ownership.times[manager] = now
    ownership.by_manager[manager] = wanted
    return merged


def _content(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """An object without the bookkeeping an apply itself changes."""
    if obj is None:
        return None
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}
    return {**obj, "metadata": metadata}
