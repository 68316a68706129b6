"""The GraphQL read of a pull request, from literal answers shaped as GitHub's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from github.GithubException import GithubException, UnknownObjectException

from controller.github.graph_pull import read_pull
from controller.github.graphql import GraphAnswer
from controller.github.pull_head import (
    GHOST,
    PullState,
    graph_login,
    head_from_rest,
    with_labels,
)

HEAD = "a" * 40
TIP = "b" * 40


def pull(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "PR_kwDO1",
        "number": 7,
        "title": "rotate the key",
        "url": "https://github.example/acme/requests/pull/7",
        "state": "OPEN",
        "merged": False,
        "createdAt": "2026-12-01T10:00:00Z",
        "author": {"__typename": "User", "login": "alice"},
        "headRefOid": HEAD,
        "headRefName": "rotate",
        "headRepository": {"nameWithOwner": "acme/requests"},
        "baseRefName": "main",
        "baseRef": {"target": {"oid": TIP}},
        "baseRepository": {"nameWithOwner": "acme/requests", "defaultBranchRef": {"name": "main"}},
        "changedFiles": 2,
        "commits": {"totalCount": 3},
        "labels": {"nodes": [{"id": "LA_1", "name": "sealgate:pending"}]},
        "reviews": {
            "pageInfo": {"hasNextPage": False},
            "nodes": [
                {
                    "databaseId": 11,
                    "state": "APPROVED",
                    "submittedAt": "2026-12-01T11:00:00Z",
                    "author": {"__typename": "User", "login": "bob"},
                    "commit": {"oid": HEAD},
                }
            ],
        },
        "comments": {
            "pageInfo": {"hasNextPage": False},
            "nodes": [
                {
                    "id": "IC_1",
                    "databaseId": 21,
                    "body": "<!-- sealgate:summary -->",
                    "createdAt": "2026-12-01T10:01:00Z",
                    "updatedAt": "2026-12-01T10:01:00Z",
                    "lastEditedAt": None,
                    "author": {"__typename": "Bot", "login": "sealgate"},
                }
            ],
        },
    }
    base.update(changes)
    return base


class Canned:
    """Answers every document with one literal answer, and keeps what was asked."""

    def __init__(self, data: Mapping[str, Any], errors: Mapping[str, Any] | None = None) -> None:
        self.answer = GraphAnswer(data, dict(errors or {}))
        self.asked: list[tuple[str, Mapping[str, Any]]] = []

    def post(self, document: str, variables: Mapping[str, Any]) -> GraphAnswer:
        self.asked.append((document, variables))
        return self.answer


def answer_with(pr: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    return {"repository": {"pullRequest": pr, **extra.pop("repository", {})}, **extra}


def test_the_pull_request_reviews_comments_and_tip_in_rest_shapes() -> None:
    read = read_pull(Canned(answer_with(pull())), "acme/requests", 7)
    assert read.head.head_sha == HEAD
    assert read.head.state is PullState.OPEN
    assert read.head.author == "alice"
    assert read.head.default_branch == "main"
    assert read.head.commit_count == 3
    assert read.head.label_ids == {"sealgate:pending": "LA_1"}
    assert read.base_tip == TIP
    assert read.reviews == (
        {
            "id": 11,
            "user": {"login": "bob"},
            "state": "APPROVED",
            "commit_id": HEAD,
            "submitted_at": "2026-12-01T11:00:00Z",
        },
    )
    assert read.comments is not None
    assert read.comments[0]["user"] == {"login": "sealgate[bot]"}
    assert read.comments[0]["node_id"] == "IC_1"
    assert read.comments[0]["updated_at"] == read.comments[0]["created_at"]


def test_a_person_called_like_the_bot_is_not_the_bot() -> None:
    person = {"__typename": "User", "login": "sealgate"}
    bot = {"__typename": "Bot", "login": "sealgate"}
    assert graph_login(person) == "sealgate"
    assert graph_login(bot) == "sealgate[bot]"
    # Neither a mannequin nor an organization is anyone who can review or command.
    assert graph_login({"__typename": "Mannequin", "login": "old"}) is None
    assert graph_login(None) is None


@pytest.mark.parametrize(
    ("updated", "edited", "expected"),
    [
        ("2026-12-01T10:05:00Z", None, "2026-12-01T10:05:00Z"),
        ("2026-12-01T10:01:00Z", "2026-12-01T10:09:00Z", "2026-12-01T10:09:00Z"),
        ("2026-12-01T10:01:00Z", None, "2026-12-01T10:01:00Z"),
    ],
)
def test_a_comment_is_edited_when_either_clock_moved(
    updated: str, edited: str | None, expected: str
) -> None:
    node = dict(pull()["comments"]["nodes"][0], updatedAt=updated, lastEditedAt=edited)
    pr = pull(comments={"pageInfo": {"hasNextPage": False}, "nodes": [node]})
    read = read_pull(Canned(answer_with(pr)), "acme/requests", 7)
    assert read.comments is not None
    assert read.comments[0]["updated_at"] == expected


def test_lists_past_one_page_are_unknown_not_cut_short() -> None:
    more = {"pageInfo": {"hasNextPage": True}, "nodes": []}
    read = read_pull(Canned(answer_with(pull(reviews=more, comments=more))), "acme/requests", 7)
    assert read.reviews is None
    assert read.comments is None
    assert read.labels_whole


def test_labels_past_one_page_are_marked_part_and_replaced_whole_from_rest() -> None:
    labels = {"pageInfo": {"hasNextPage": True}, "nodes": [{"id": "LA_9", "name": "noise"}]}
    read = read_pull(Canned(answer_with(pull(labels=labels))), "acme/requests", 7)
    assert not read.labels_whole
    listed = [
        {"name": "noise", "node_id": "LA_9"},
        {"name": "sealgate:approved", "node_id": "LA_2"},
        "not a label",
    ]
    head = with_labels(read.head, listed)
    assert head.labels == ("noise", "sealgate:approved")
    assert head.label_ids == {"noise": "LA_9", "sealgate:approved": "LA_2"}
    assert head.head_sha == read.head.head_sha


def test_teams_fail_closed_and_a_long_team_is_left_to_rest() -> None:
    def members(*logins: str, more: bool = False) -> dict[str, Any]:
        nodes = [{"login": login} for login in logins]
        return {"team": {"members": {"pageInfo": {"hasNextPage": more}, "nodes": nodes}}}

    data = answer_with(
        pull(),
        t0=members("dave"),
        t1=members("erin", more=True),
        t2={"team": None},
        t3=None,
    )
    errors = {"t3": ({"type": "NOT_FOUND", "path": ["t3"], "message": "no such org"},)}
    poster = Canned(data, errors)
    read = read_pull(
        poster, "acme/requests", 7, teams=["acme/a", "acme/b", "acme/c", "gone/d", "malformed"]
    )
    assert read.teams == {
        "acme/a": frozenset({"dave"}),
        "acme/c": frozenset(),
        "gone/d": frozenset(),
    }
    assert "acme/b" not in read.teams
    # Values travel as variables, never inside the document.
    document, variables = poster.asked[0]
    assert "acme" not in document
    assert variables["t0Slug"] == "a"


def test_label_ids_only_for_labels_the_repository_has() -> None:
    data = answer_with(pull(), repository={"l0": {"id": "LA_2"}, "l1": None})
    read = read_pull(
        Canned(data), "acme/requests", 7, labels=["sealgate:approved", "sealgate:applied"]
    )
    assert read.label_ids == {"sealgate:applied": "LA_2"}


def test_missing_pull_request_or_repository_is_not_found() -> None:
    errors = {"repository": ({"type": "NOT_FOUND", "path": ["repository"], "message": "gone"},)}
    with pytest.raises(UnknownObjectException):
        read_pull(Canned({"repository": None}, errors), "acme/requests", 7)
    with pytest.raises(UnknownObjectException):
        read_pull(Canned(answer_with(None)), "acme/requests", 7)


def test_other_errors_raise_with_rest_statuses() -> None:
    errors = {"repository": ({"type": "FORBIDDEN", "path": ["repository"], "message": "no"},)}
    with pytest.raises(GithubException) as raised:
        read_pull(Canned(answer_with(pull()), errors), "acme/requests", 7)
    assert raised.value.status == 403


def test_merged_deleted_fork_and_deleted_author() -> None:
    read = read_pull(
        Canned(answer_with(pull(state="MERGED", merged=True, headRepository=None, author=None))),
        "acme/requests",
        7,
    )
    assert read.head.state is PullState.MERGED
    assert read.head.head_repo is None
    assert read.head.author == GHOST


def test_rest_and_graphql_heads_agree() -> None:
    rest = {
        "number": 7,
        "title": "rotate the key",
        "html_url": "https://github.example/acme/requests/pull/7",
        "state": "open",
        "merged": False,
        "created_at": "2026-12-01T10:00:00Z",
        "user": {"login": "alice"},
        "head": {"sha": HEAD, "ref": "rotate", "repo": {"full_name": "acme/requests"}},
        "base": {"ref": "main", "repo": {"default_branch": "main"}},
        "changed_files": 2,
        "commits": 3,
        "labels": [{"name": "sealgate:pending", "node_id": "LA_1"}],
        "node_id": "PR_kwDO1",
    }
    graph = read_pull(Canned(answer_with(pull())), "acme/requests", 7).head
    assert head_from_rest(rest) == graph
    assert graph.created_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
