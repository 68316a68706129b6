"""What every GraphQL resolver of the loopback shares: errors, scope, ids, connections.

Resolvers are plain objects, one method (snake_case) per GraphQL field; `resolve_field` is
the executor's way in, so a field nobody asked for costs nothing.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import GraphQLResolveInfo

from controller.sandbox.github_server.actions import Hub
from controller.sandbox.github_server.state import Identity

MAX_PAGE = 100  # GitHub's largest `first`
_CURSOR = "cursor:v2:"
_NODE_ID = re.compile(r"^0(\d+):([A-Za-z]+)(\d+)$")


class Refusal(Exception):
    """A GraphQL error as GitHub types it (``NOT_FOUND``, ``FORBIDDEN``...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Scope:
    """What every resolver may consult: the records and who is asking."""

    hub: Hub
    identity: Identity

    @property
    def viewer(self) -> str:
        return self.identity.login or ""


def decode_node_id(value: str) -> tuple[str, int] | None:
    """(type, database id) of one of the loopback's node ids; None for anything else."""
    try:
        raw = base64.b64decode(value.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    match = _NODE_ID.match(raw)
    if match is None or int(match.group(1)) != len(match.group(2)):
        return None
    return match.group(2), int(match.group(3))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def resolve_field(source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    """A field is the method of the same name (snake_case), or a key of a plain mapping."""
    if isinstance(source, Mapping):
        return source.get(info.field_name)
    member = getattr(source, _snake(info.field_name))
    if not callable(member):
        return member
    if getattr(member, "wants_info", False):
        args["info"] = info
    return member(**{_snake(k): v for k, v in args.items()})


def resolve_type(source: Any, info: GraphQLResolveInfo[Any], abstract: Any) -> str:
    if isinstance(source, Mapping):
        return str(source["__typename"])
    return str(source.typename)


F = TypeVar("F", bound=Callable[..., Any])


def with_info(method: F) -> F:
    """Marks a field method that needs the selection (to tell what was asked for)."""
    method.wants_info = True  # type: ignore[attr-defined]
    return method


# -- connections ------------------------------------------------------------------------------


def _cursor(offset: int) -> str:
    return base64.b64encode(f"{_CURSOR}{offset}".encode()).decode()


def _offset(after: str) -> int:
    try:
        raw = base64.b64decode(after.encode(), validate=True).decode()
        if raw.startswith(_CURSOR):
            return int(raw.removeprefix(_CURSOR)) + 1
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise Refusal("INVALID_CURSOR_ARGUMENTS", f"`{after}` does not appear to be a valid cursor.")


class Connection:
    """One page of a list, oldest first, as GitHub pages every connection."""

    def __init__(
        self,
        typename: str,
        info: GraphQLResolveInfo[Any],
        items: Sequence[Any],
        first: int | None,
        after: str | None,
    ) -> None:
        self.typename = typename
        name = info.field_name
        asked = {
            s.name.value
            for node in info.field_nodes
            for s in (node.selection_set.selections if node.selection_set else ())
            if hasattr(s, "name")
        }
        if first is None and asked - {"totalCount", "__typename"}:
            raise Refusal(
                "MISSING_PAGINATION_BOUNDARIES",
                f"You must provide a `first` or `last` value to properly paginate the "
                f"`{name}` connection.",
            )
        if first is not None and first > MAX_PAGE:
            raise Refusal(
                "EXCESSIVE_PAGINATION",
                f"Requesting {first} records on the `{name}` connection exceeds the `first` "
                f"limit of {MAX_PAGE} records.",
            )
        if first is not None and first < 0:
            raise Refusal(
                "INVALID_PAGINATION",
                f"`first` on the `{name}` connection cannot be less than zero.",
            )
        self._all = items
        self._start = 0 if after is None else _offset(after)
        self._page = list(items[self._start : self._start + (first or 0)])

    def nodes(self) -> list[Any]:
        return self._page

    def total_count(self) -> int:
        return len(self._all)

    def page_info(self) -> dict[str, Any]:
        end = self._start + len(self._page)
        return {
            "hasNextPage": end < len(self._all),
            "endCursor": _cursor(end - 1) if self._page else None,
        }
