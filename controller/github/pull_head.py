"""What a pull request says about itself, from a REST or a GraphQL answer alike.

The two APIs spell the same facts differently (``head.sha`` / ``headRefOid``, ``open`` /
``OPEN``, ``sealgate[bot]`` / a ``Bot`` called ``sealgate``); everything after the read works
on :class:`PullHead` and never on either spelling.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from controller.model import frozen_map

GHOST = "ghost"
"""GitHub's name for an account that was deleted (REST shows it; GraphQL gives null)."""


class PullState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


@dataclass(frozen=True, slots=True)
class PullHead:
    number: int
    title: str
    url: str
    author: str
    created_at: datetime
    state: PullState
    head_sha: str
    head_ref: str
    head_repo: str | None
    """``owner/name`` the commits came from; None when that fork was deleted."""
    base_ref: str
    default_branch: str
    changed_files: int
    commit_count: int
    labels: tuple[str, ...] = ()
    node_id: str = ""
    label_ids: Mapping[str, str] = field(default_factory=frozen_map)
    """Name -> node id of the labels on the pull request."""


def when(text: Any) -> datetime:
    """GitHub's ISO 8601 timestamps (``...Z``), timezone-aware."""
    return datetime.fromisoformat(str(text))


def graph_login(actor: Any) -> str | None:
    """The REST spelling of a GraphQL actor's login: an App's bot is ``<slug>[bot]`` there,
    and only people and bots are anyone (a mannequin or an organization is not)."""
    if not isinstance(actor, dict) or not actor.get("login"):
        return None
    kind = actor.get("__typename")
    if kind == "Bot":
        return f"{actor['login']}[bot]"
    if kind == "User":
        return str(actor["login"])
    return None


def _author(actor: Any) -> str:
    """A pull request's author: whatever kind of account it is, it is the author (and may
    not approve its own change), so its login is kept even where :func:`graph_login` would
    not count it."""
    if isinstance(actor, dict) and actor.get("login"):
        return graph_login(actor) or str(actor["login"])
    return GHOST


def with_labels(head: PullHead, listed: Sequence[Any]) -> PullHead:
    """``head`` with the labels of a REST list (``GET .../issues/{n}/labels``) in place of
    those it holds."""
    labels = [item for item in listed if isinstance(item, dict) and item.get("name")]
    return replace(
        head,
        labels=tuple(str(item["name"]) for item in labels),
        label_ids=frozen_map(
            {str(item["name"]): str(item["node_id"]) for item in labels if item.get("node_id")}
        ),
    )


def head_from_rest(raw: Mapping[str, Any]) -> PullHead:
    """From ``GET /repos/{owner}/{repo}/pulls/{number}``."""
    head, base = raw["head"], raw["base"]
    labels = [item for item in raw.get("labels") or () if isinstance(item, dict)]
    if raw.get("merged"):
        state = PullState.MERGED
    else:
        state = PullState.OPEN if raw["state"] == "open" else PullState.CLOSED
    user = raw.get("user")
    return PullHead(
        number=int(raw["number"]),
        title=str(raw.get("title") or ""),
        url=str(raw.get("html_url") or ""),
        author=str(user["login"]) if isinstance(user, dict) else GHOST,
        created_at=when(raw["created_at"]),
        state=state,
        head_sha=str(head["sha"]),
        head_ref=str(head["ref"]),
        # A deleted fork leaves no head repository: where the commits came from is unknown.
        head_repo=str(head["repo"]["full_name"]) if head.get("repo") else None,
        base_ref=str(base["ref"]),
        # From the pull request's own answer: reading the repository would cost a request.
        default_branch=str(base["repo"]["default_branch"]),
        changed_files=int(raw.get("changed_files") or 0),
        commit_count=int(raw.get("commits") or 0),
        labels=tuple(str(item["name"]) for item in labels),
        node_id=str(raw.get("node_id") or ""),
        label_ids=frozen_map(
            {str(item["name"]): str(item["node_id"]) for item in labels if item.get("node_id")}
        ),
    )


def head_from_graph(pull: Mapping[str, Any]) -> PullHead:
    """From the ``pullRequest`` of :func:`controller.github.graph_documents.pull_query`."""
    labels = [
        item for item in (pull.get("labels") or {}).get("nodes") or () if isinstance(item, dict)
    ]
    state = {"MERGED": PullState.MERGED, "OPEN": PullState.OPEN}.get(
        str(pull["state"]), PullState.CLOSED
    )
    if pull.get("merged"):
        state = PullState.MERGED
    head_repo = pull.get("headRepository")
    default = (pull["baseRepository"] or {}).get("defaultBranchRef") or {}
    return PullHead(
        number=int(pull["number"]),
        title=str(pull.get("title") or ""),
        url=str(pull.get("url") or ""),
        author=_author(pull.get("author")),
        created_at=when(pull["createdAt"]),
        state=state,
        head_sha=str(pull["headRefOid"]),
        head_ref=str(pull["headRefName"]),
        head_repo=str(head_repo["nameWithOwner"]) if isinstance(head_repo, dict) else None,
        base_ref=str(pull["baseRefName"]),
        default_branch=str(default.get("name") or ""),
        changed_files=int(pull.get("changedFiles") or 0),
        commit_count=int((pull.get("commits") or {}).get("totalCount") or 0),
        labels=tuple(str(item["name"]) for item in labels),
        node_id=str(pull.get("id") or ""),
        label_ids=frozen_map({str(item["name"]): str(item["id"]) for item in labels}),
    )
