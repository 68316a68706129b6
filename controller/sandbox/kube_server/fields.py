"""Field paths: how server-side field ownership names the fields of an object.

A path is a tuple of steps from the object's root: a map key, a list item named by its merge
key, or a member of a set-like list. ``FieldsV1`` is the tree encoding managedFields shows.
"""

from __future__ import annotations

import json
from typing import Any

from controller.sandbox.kube_server.patch import MERGE_KEYS, SET_LISTS

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


def _encode(step: Step) -> str:
    if isinstance(step, str):
        return f"f:{step}"
    kind, merge_key, value = step
    if kind == "k":
        return "k:" + json.dumps({merge_key: value}, separators=(",", ":"))
    return "v:" + json.dumps(value, separators=(",", ":"))


def _decode(key: str) -> Step | None:
    prefix, _, rest = key.partition(":")
    try:
        if prefix == "f":
            return rest
        if prefix == "v":
            return ("v", "", json.loads(rest))
        if prefix == "k":
            named = json.loads(rest)
            if isinstance(named, dict) and len(named) == 1:
                ((merge_key, value),) = named.items()
                return ("k", str(merge_key), value)
    except ValueError:
        return None
    return None


def fields_v1(paths: set[FieldPath]) -> dict[str, Any]:
    """The ``FieldsV1`` encoding of a field set, as managedFields shows it.

    A member that also has members below it is marked with ``"."``, so the tree decodes back
    to exactly the same set (``from_fields_v1``).
    """
    tree: dict[str, Any] = {}
    for path in sorted(paths, key=repr):
        node = tree
        for step in path:
            node = node.setdefault(_encode(step), {})
    for path in paths:
        node = tree
        for step in path:
            node = node[_encode(step)]
        if node and "." not in node:
            node["."] = {}
    return tree


def from_fields_v1(tree: Any, path: FieldPath = ()) -> set[FieldPath]:
    """The field set a ``FieldsV1`` tree encodes; keys this server never writes are skipped."""
    found: set[FieldPath] = set()
    if not isinstance(tree, dict):
        return found
    if path and (not tree or "." in tree):
        found.add(path)
    for key, child in tree.items():
        step = _decode(key) if key != "." else None
        if step is not None:
            found |= from_fields_v1(child, (*path, step))
    return found


def differs(old: Any, new: Any, path: FieldPath) -> bool:
    """Whether a write from ``old`` to ``new`` changed the field at ``path``.

    A list item or set member changes only by appearing or going; its own fields are paths
    of their own. Any other field (a leaf, an atomic list) changes when its value does.
    """
    before, after = value_at(old, path), value_at(new, path)
    if path and not isinstance(path[-1], str):
        return (before is None) != (after is None)
    return bool(before != after)
