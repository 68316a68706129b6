"""Field ownership of one object, as ``metadata.managedFields`` records it.

Every write names a manager: an apply its ``fieldManager``, any other create, update or
patch its ``fieldManager`` or else the User-Agent's product token. Entries are keyed by
(manager, operation, subresource). An ``Update`` takes the fields its write changed from
every other manager, and fields a write removed leave every manager; an ``Apply`` owns what
its configuration sets (see ``apply``). The stored managedFields are the only record, so
ownership survives anything that keeps the object.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controller.sandbox.kube_server import errors
from controller.sandbox.kube_server.fields import FieldPath, differs, field_set, fields_v1
from controller.sandbox.kube_server.fields import from_fields_v1 as decode_fields
from controller.sandbox.kube_server.resources import ResourceType

APPLY = "Apply"
UPDATE = "Update"
# Written by the server itself, never owned by a client.
_SERVER_METADATA = frozenset(
    {
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
        "managedFields",
        "selfLink",
    }
)
MAX_MANAGER_LENGTH = 128


@dataclass(frozen=True, order=True)
class Manager:
    name: str
    operation: str = APPLY
    subresource: str = ""

    def describe(self, api_version: str) -> str:
        """How a conflict names this manager, in a real API server's words."""
        text = f'"{self.name}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == UPDATE:
            text += f" using {api_version}"
        return text


def _canonical_time(value: Any) -> str:
    """A managedFields time as this server writes it, whatever RFC 3339 form a client sent."""
    text = str(value or "")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def manager_from_user_agent(user_agent: str) -> str:
    """The manager a write without ``fieldManager`` gets: the User-Agent's product token."""
    token = user_agent.split("/", 1)[0]
    return "".join(ch for ch in token if ch.isprintable())[:MAX_MANAGER_LENGTH]


@dataclass
class Ownership:
    """Which fields each manager of one object owns, and when each last changed them."""

    by_manager: dict[Manager, set[FieldPath]] = field(default_factory=dict)
    times: dict[Manager, str] = field(default_factory=dict)

    @classmethod
    def of(cls, obj: dict[str, Any] | None, recorded: Ownership | None = None) -> Ownership:
        """The ownership an object's managedFields record.

        With ``recorded``, the entries are ones a client sent: they count only when they say
        something else than ``recorded`` (a client echoing what it read changes nothing).
        """
        ownership = cls()
        entries = (obj or {}).get("metadata", {}).get("managedFields") or []
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("manager"):
                continue
            key = Manager(
                str(entry["manager"]),
                str(entry.get("operation") or UPDATE),
                str(entry.get("subresource") or ""),
            )
            ownership.by_manager[key] = decode_fields(entry.get("fieldsV1") or {})
            ownership.times[key] = _canonical_time(entry.get("time"))
        if recorded is not None and ownership.by_manager == recorded.by_manager:
            return recorded
        return ownership

    def managed_fields(self, rtype: ResourceType) -> list[dict[str, Any]]:
        """``metadata.managedFields`` as a real server shows it: appliers first, then by time."""
        entries = []
        for key, paths in sorted(
            self.by_manager.items(),
            key=lambda item: (item[0].operation, self.times.get(item[0], ""), item[0]),
        ):
            if not paths:
                continue
            entry: dict[str, Any] = {
                "manager": key.name,
                "operation": key.operation,
                "apiVersion": rtype.api_version,
                "time": self.times.get(key, ""),
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1(paths),
            }
            if key.subresource:
                entry["subresource"] = key.subresource
            entries.append(entry)
        return entries

    def others(self, manager: Manager) -> set[FieldPath]:
        found: set[FieldPath] = set()
        for key, owned in self.by_manager.items():
            if key != manager:
                found |= owned
        return found


def check_entries(entries: Any) -> tuple[str, str] | None:
    """What a real server refuses in client-sent managedFields: (where, why), or None."""
    if not isinstance(entries, list):
        return "", "Invalid value: must be a list of entries"
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            return f"[{index}]", "Invalid value: must be an object"
        if not entry:
            continue  # [{}] is how a client clears every entry
        operation = entry.get("operation")
        if operation not in (APPLY, UPDATE):
            return (
                f"[{index}].operation",
                f'Unsupported value: "{operation}": supported values: "Apply", "Update"',
            )
        if entry.get("fieldsType", "FieldsV1") != "FieldsV1":
            return f"[{index}].fieldsType", 'Unsupported value: must be "FieldsV1"'
        if not isinstance(entry.get("fieldsV1", {}), dict):
            return f"[{index}].fieldsV1", "Invalid value: must be an object"
    return None


def owned_fields(obj: dict[str, Any] | None, subresource: str) -> set[FieldPath]:
    """The fields of an object a write to the main resource (or to ``/status``) can own."""
    if obj is None:
        return set()
    if subresource == "status":
        return field_set({"status": obj["status"]}) if obj.get("status") else set()
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k not in _SERVER_METADATA}
    content = {k: v for k, v in obj.items() if k not in ("status", "metadata")}
    return field_set({**content, "metadata": metadata})


def record_update(
    ownership: Ownership,
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    subresource: str,
    now: str,
) -> None:
    """Record a create, update or patch from ``old`` to ``new`` by ``manager``, in place."""
    key = Manager(manager, UPDATE, subresource)
    before, after = owned_fields(old, subresource), owned_fields(new, subresource)
    changed = {path for path in after if differs(old, new, path)}
    removed = before - after
    if not changed and not removed:
        return
    for other, owned in ownership.by_manager.items():
        owned.difference_update(removed if other == key else removed | changed)
    ownership.by_manager[key] = ownership.by_manager.get(key, set()) | changed
    ownership.times[key] = now


def stamp(
    rtype: ResourceType,
    existing: dict[str, Any] | None,
    obj: dict[str, Any],
    *,
    manager: str | None,
    subresource: str | None,
    applied: Ownership | None,
    sent: Any = None,
    now: str,
) -> None:
    """Set ``obj``'s managedFields for a write from ``existing`` (None: a create).

    ``applied`` is an apply's ownership; otherwise a ``manager`` records an ``Update``, and
    a write with neither (seeding, bypassing HTTP) keeps what was recorded. Managed fields
    the client ``sent`` replace the record when they differ from it (``[{}]`` clears it);
    an empty list means "not given", as on a real server.
    """
    ownership = applied
    if ownership is None and manager is not None:
        ownership = Ownership.of(existing)
        if sent:
            problem = check_entries(sent)
            if problem is not None:
                raise errors.invalid(
                    rtype, obj["metadata"]["name"], f"metadata.managedFields{problem[0]}",
                    problem[1],
                )  # fmt: skip
            ownership = Ownership.of({"metadata": {"managedFields": sent}}, ownership)
        record_update(
            ownership, existing, obj, manager=manager, subresource=subresource or "", now=now
        )
    metadata = obj["metadata"]
    if ownership is None:
        if existing is not None and "managedFields" in existing["metadata"]:
            metadata["managedFields"] = copy.deepcopy(existing["metadata"]["managedFields"])
        return
    metadata.pop("managedFields", None)
    entries = ownership.managed_fields(rtype)
    if entries:
        metadata["managedFields"] = entries
