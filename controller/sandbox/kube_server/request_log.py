"""The server-side record of every request, for tests and benchmarks that count requests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestRecord:
    """One answered request. ``verb`` is the Kubernetes verb (get, list, watch, create,
    update, patch, delete, deletecollection); discovery and other non-resource paths have
    verb ``get`` and an empty ``resource``."""

    method: str
    path: str
    verb: str
    api_group: str
    resource: str
    subresource: str | None
    namespace: str | None
    name: str | None
    status: int
    user_agent: str
    user: str = ""
    """Who the request acted as: an impersonated user, or the unrestricted caller."""
