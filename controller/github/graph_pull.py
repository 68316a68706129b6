"""One GraphQL read of a pull request: itself, its reviews, its comments, its base's tip, the
members of the teams its policies name and the ids of sealgate's labels.

Over REST that is six requests or more (three of them charged to the rate limit even when
nothing changed); here it is one, answered from one consistent state of GitHub, so the
reviews and the head they are judged against cannot come from two different moments.

The answer is turned into the shapes the REST reads give (:class:`PullHead`, and review and
comment objects with REST's field names), so everything after the read is the same whichever
API answered. What one page does not hold (more than 100 reviews, comments or team members)
is marked unknown, and the caller reads that list over REST in full: a list cut short must
never pass for the whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from github.GithubException import UnknownObjectException

from controller.github.graph_documents import pull_query
from controller.github.graphql import GraphAnswer, GraphPoster, as_exception
from controller.github.pull_head import PullHead, graph_login, head_from_graph, when
from controller.model import frozen_map


@dataclass(frozen=True, slots=True)
class GraphPull:
    head: PullHead
    base_tip: str | None
    """Where the base branch stands now; None when GitHub has no such branch."""
    reviews: tuple[dict[str, Any], ...] | None
    """REST-shaped reviews, oldest first; None when there are more than one page holds."""
    comments: tuple[dict[str, Any], ...] | None
    """REST-shaped issue comments, oldest first; None when more than one page holds."""
    teams: Mapping[str, frozenset[str]]
    """``org/slug`` -> members, for each asked-for team read whole (a team GitHub does not
    show has no members, as over REST); a team with more than a page is left out."""
    label_ids: Mapping[str, str]
    """Label name -> node id, for the asked-for labels the repository has."""
    labels_whole: bool = True
    """False when the pull request carries more labels than one page holds: ``head.labels``
    is then a part only, and the caller reads them over REST."""


def read_pull(
    endpoint: GraphPoster,
    repo: str,
    number: int,
    *,
    teams: Sequence[str] = (),
    labels: Sequence[str] = (),
) -> GraphPull:
    """Raises :class:`GraphQLUnavailable` (use REST), PyGithub's exceptions for HTTP
    failures, and :class:`UnknownObjectException` for a repository or pull request GitHub
    does not show; callers wrap the call in ``github_errors``."""
    owner, _, name = repo.partition("/")
    query = pull_query(owner, name, number, teams=teams, labels=labels)
    answer = endpoint.post(query.document, query.variables)
    _raise_for(answer, "repository")
    repository = answer.data.get("repository")
    pull = repository.get("pullRequest") if isinstance(repository, dict) else None
    if not isinstance(pull, dict):
        raise UnknownObjectException(404, {"message": "Not Found"}, None)
    tip = ((pull.get("baseRef") or {}).get("target") or {}).get("oid")
    members: dict[str, frozenset[str]] = {}
    for alias, team in query.teams.items():
        _raise_for(answer, alias, allowed=frozenset({"NOT_FOUND"}))
        found = _team(answer.data.get(alias))
        if found is not None:
            members[team] = found
    ids = {
        label: str(item["id"])
        for alias, label in query.labels.items()
        if isinstance(item := (repository or {}).get(alias), dict) and item.get("id")
    }
    return GraphPull(
        head=head_from_graph(pull),
        base_tip=str(tip) if tip else None,
        reviews=_whole(pull.get("reviews"), _review),
        comments=_whole(pull.get("comments"), _comment),
        teams=frozen_map(members),
        label_ids=frozen_map(ids),
        labels_whole=not ((pull.get("labels") or {}).get("pageInfo") or {}).get("hasNextPage"),
    )


def _raise_for(answer: GraphAnswer, alias: str, *, allowed: frozenset[str] = frozenset()) -> None:
    """An error GitHub reported under ``alias`` as the exception REST would have raised."""
    errors = tuple(e for e in answer.failed(alias) if str(e.get("type") or "") not in allowed)
    if errors:
        raise as_exception(errors)


def _team(organization: Any) -> frozenset[str] | None:
    if not isinstance(organization, dict) or not isinstance(organization.get("team"), dict):
        # An organization or team GitHub does not show us has no members: fail closed.
        return frozenset()
    connection = organization["team"].get("members") or {}
    if (connection.get("pageInfo") or {}).get("hasNextPage"):
        return None
    return frozenset(
        str(node["login"])
        for node in connection.get("nodes") or ()
        if isinstance(node, dict) and node.get("login")
    )


def _whole(connection: Any, shape: Any) -> tuple[dict[str, Any], ...] | None:
    if not isinstance(connection, dict) or (connection.get("pageInfo") or {}).get("hasNextPage"):
        return None
    return tuple(shape(node) for node in connection.get("nodes") or () if isinstance(node, dict))


def _user(actor: Any) -> dict[str, str] | None:
    login = graph_login(actor)
    return {"login": login} if login is not None else None


def _review(node: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": node.get("databaseId"),
        "user": _user(node.get("author")),
        "state": node.get("state"),
        "commit_id": (node.get("commit") or {}).get("oid"),
        "submitted_at": node.get("submittedAt"),
    }


def _comment(node: Mapping[str, Any]) -> dict[str, Any]:
    created = str(node["createdAt"])
    # Edited means either clock moved: ``lastEditedAt`` is GitHub's record of an edit,
    # ``updatedAt`` the field REST calls ``updated_at``. Reading either alone could miss one.
    changed = [str(node[key]) for key in ("updatedAt", "lastEditedAt") if node.get(key)]
    updated = max([created, *changed], key=when)
    return {
        "id": node.get("databaseId"),
        "node_id": node.get("id"),
        "user": _user(node.get("author")),
        "body": node.get("body"),
        "created_at": created,
        "updated_at": updated,
    }
