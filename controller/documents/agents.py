"""``spec.agents`` of an environment file: which ServiceAccounts may ask for access there.

The schema has checked every entry's shape; what is left is what looks across entries.
"""

from __future__ import annotations

from typing import Any

from controller.documents.locations import FieldPath, LineMap, line_of, render_path
from controller.errors import Problem
from controller.model import AgentEntry


def agent_problems(source: str, spec: dict[str, Any], lines: LineMap) -> list[Problem]:
    """One ServiceAccount of one cluster is listed once: two entries would leave a reader
    unsure whether their ``secrets`` add up or one of them wins."""
    problems: list[Problem] = []
    first: dict[tuple[str, str], int] = {}
    for position, entry in enumerate(spec.get("agents", ())):
        key = (entry["serviceAccount"], entry["cluster"])
        if key in first:
            path: FieldPath = ("spec", "agents", position, "serviceAccount")
            problems.append(
                Problem(
                    source,
                    render_path(path),
                    f"{key[0]} in cluster {key[1]} is already listed in spec.agents"
                    f"[{first[key]}]: merge the two entries (their secrets together) into one",
                    line_of(lines, path),
                )
            )
        first.setdefault(key, position)
    return problems


def build_agents(spec: dict[str, Any]) -> tuple[AgentEntry, ...]:
    entries = []
    for entry in spec.get("agents", ()):
        namespace, name = entry["serviceAccount"].split("/", 1)
        secrets = entry.get("secrets")
        entries.append(
            AgentEntry(
                namespace=namespace,
                name=name,
                cluster=entry["cluster"],
                secrets=tuple(secrets) if secrets is not None else None,
            )
        )
    return tuple(entries)
