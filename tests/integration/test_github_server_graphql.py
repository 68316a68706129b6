"""The loopback GitHub's GraphQL reads, driven by PyGithub with sealgate's own documents.

Every answer is compared with what REST says about the same world: GraphQL is another view
of the same records, never a second imitation that could drift from the first.
"""

from __future__ import annotations

from typing import Any

import pytest
from github import Auth, UnknownObjectException

from controller.github.graph_documents import pull_query
from tests.integration.github_server_support import (
    FULL,
    OWNER,
    REPO,
    World,
    client,
    rsa_private_key,
)
from tests.integration.github_server_support import github as github  # noqa: PLC0414
from tests.integration.graphql_support import post, pull_of, read

APP_ID = 4242
INSTALLATION_ID = 77


def _reviewed(github: World) -> int:
    number = github.open_change()
    for login, event, body in (
        ("bob", "APPROVE", ""),
        ("carol", "REQUEST_CHANGES", "not yet"),
        ("dave", "COMMENT", "a note"),
    ):
        github.client(login).get_repo(FULL).get_pull(number).create_review(event=event, body=body)
    bob = github.client("bob").get_repo(FULL).get_pull(number)
    bob.create_issue_comment("first")
    github.client("alice").get_repo(FULL).get_pull(number).create_issue_comment("/sealgate merge")
    bob.add_to_labels("sealgate:pending", "sealgate:approved")
    return number


def test_the_pull_query_answers_what_rest_answers(github: World) -> None:
    number = _reviewed(github)
    # The base branch moves after the pull request was opened: baseRef is where it is now.
    tip = github.server.push(OWNER, REPO, "main", {"x.txt": b"x\n"}, message="x", author="carol")
    data = pull_of(
        github,
        "bob",
        number,
        teams=["acme/approvers"],
        labels=["sealgate:approved", "sealgate:rejected"],
    )
    repo = github.client("bob").get_repo(FULL)
    rest = repo.get_pull(number)
    pull = data["repository"]["pullRequest"]

    assert pull["id"] == rest.raw_data["node_id"]
    assert (pull["number"], pull["title"], pull["url"]) == (number, rest.title, rest.html_url)
    assert (pull["state"], pull["merged"]) == ("OPEN", False)
    assert pull["createdAt"] == rest.raw_data["created_at"]
    assert pull["author"] == {"__typename": "User", "login": "alice"}
    assert (pull["headRefOid"], pull["headRefName"]) == (rest.head.sha, rest.head.ref)
    assert pull["headRepository"] == {"nameWithOwner": FULL}
    assert pull["baseRefName"] == rest.base.ref == "main"
    assert pull["baseRef"]["target"]["oid"] == tip == repo.get_git_ref("heads/main").object.sha
    assert pull["baseRepository"] == {"nameWithOwner": FULL, "defaultBranchRef": {"name": "main"}}
    assert pull["changedFiles"] == rest.changed_files
    assert pull["commits"]["totalCount"] == rest.commits

    labels = [(x.raw_data["node_id"], x.name) for x in rest.get_labels()]
    assert [(x["id"], x["name"]) for x in pull["labels"]["nodes"]] == labels

    reviews = [
        {
            "databaseId": r.id,
            "state": r.state,
            "submittedAt": r.raw_data["submitted_at"],
            "author": {"__typename": "User", "login": r.user.login},
            "commit": {"oid": r.commit_id},
        }
        for r in rest.get_reviews()
    ]
    assert pull["reviews"] == {"pageInfo": {"hasNextPage": False}, "nodes": reviews}
    assert [r["state"] for r in reviews] == ["APPROVED", "CHANGES_REQUESTED", "COMMENTED"]

    comments = [
        {
            "id": c.raw_data["node_id"],
            "databaseId": c.id,
            "body": c.body,
            "createdAt": c.raw_data["created_at"],
            "updatedAt": c.raw_data["updated_at"],
            "lastEditedAt": None,
            "author": {"__typename": "User", "login": c.user.login},
        }
        for c in rest.get_issue_comments()
    ]
    assert pull["comments"] == {"pageInfo": {"hasNextPage": False}, "nodes": comments}

    approved = repo.get_label("sealgate:approved").raw_data["node_id"]
    assert data["repository"]["l0"] == {"id": approved}
    assert data["repository"]["l1"] is None  # a label the repository lacks: null, no error
    team = github.client("bob").get_organization(OWNER).get_team_by_slug("approvers")
    members = [m.login for m in team.get_members()]
    assert data["t0"]["team"]["members"] == {
        "pageInfo": {"hasNextPage": False},
        "nodes": [{"login": login} for login in members],
    }


def test_an_apps_bot_is_a_bot_named_by_its_slug(github: World) -> None:
    private, public = rsa_private_key()
    github.server.register_app(
        APP_ID, "sealgate", public, installation_id=INSTALLATION_ID, owner=OWNER
    )
    # A person may own the login the bot goes by in GraphQL: __typename tells them apart.
    github.tokens["sealgate"] = github.server.add_user("sealgate")
    number = github.open_change()
    installation = Auth.AppAuth(APP_ID, private).get_installation_auth(INSTALLATION_ID)
    bot = client(github.server.url, installation)
    rest = bot.get_repo(FULL).get_pull(number).create_issue_comment("summary")
    github.client("sealgate").get_repo(FULL).get_pull(number).create_issue_comment("me too")
    assert rest.user.login == "sealgate[bot]"

    answer = read(bot, pull_query(OWNER, REPO, number))
    authors = [
        c["author"] for c in answer["data"]["repository"]["pullRequest"]["comments"]["nodes"]
    ]
    assert authors == [
        {"__typename": "Bot", "login": "sealgate"},
        {"__typename": "User", "login": "sealgate"},
    ]


def test_a_deleted_author_is_null_where_rest_says_ghost(github: World) -> None:
    number = github.open_change()
    dave = github.client("dave").get_repo(FULL).get_pull(number)
    dave.create_review(event="COMMENT", body="looks odd")
    dave.create_issue_comment("gone soon")
    github.server.delete_user("dave")

    pull = pull_of(github, "bob", number)["repository"]["pullRequest"]
    assert pull["reviews"]["nodes"][0]["author"] is None
    assert pull["comments"]["nodes"][0]["author"] is None
    rest = github.client("bob").get_repo(FULL).get_pull(number)
    assert [c.user.login for c in rest.get_issue_comments()] == ["ghost"]


def test_a_pending_review_is_its_authors_alone(github: World) -> None:
    number = github.open_change()
    github.client("dave").get_repo(FULL).get_pull(number).create_review(body="draft")

    seen_by_bob = pull_of(github, "bob", number)["repository"]["pullRequest"]["reviews"]
    assert seen_by_bob["nodes"] == []
    mine = pull_of(github, "dave", number)["repository"]["pullRequest"]["reviews"]["nodes"]
    assert [(r["state"], r["submittedAt"]) for r in mine] == [("PENDING", None)]
    rest = github.client("bob").get_repo(FULL).get_pull(number).get_reviews()
    assert rest.totalCount == 0


_COMMENTS = """query($owner: String!, $name: String!, $number: Int!, $first: Int, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      comments(first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes { databaseId }
      }
    }
  }
}"""


def _comments(github: World, number: int, **variables: Any) -> Any:
    base = {"owner": OWNER, "name": REPO, "number": number}
    return post(github.client("bob"), _COMMENTS, {**base, **variables})


def test_connections_page_by_cursor_past_a_hundred(github: World) -> None:
    number = github.open_change()
    pull = github.client("bob").get_repo(FULL).get_pull(number)
    for index in range(120):
        pull.create_issue_comment(f"comment {index}")
    rest = [c.id for c in pull.get_issue_comments()]

    first = _comments(github, number, first=100)["data"]["repository"]["pullRequest"]["comments"]
    assert first["totalCount"] == 120
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    second = _comments(github, number, first=100, after=after)["data"]["repository"]
    rest_of = second["pullRequest"]["comments"]
    assert rest_of["pageInfo"]["hasNextPage"] is False
    ids = [c["databaseId"] for c in first["nodes"] + rest_of["nodes"]]
    assert ids == rest  # chronological, every one once

    # sealgate's document reads the first hundred and knows there are more.
    comments = pull_of(github, "bob", number)["repository"]["pullRequest"]["comments"]
    assert (len(comments["nodes"]), comments["pageInfo"]["hasNextPage"]) == (100, True)


@pytest.mark.parametrize(
    ("variables", "kind", "message"),
    [
        (
            {"first": 101},
            "EXCESSIVE_PAGINATION",
            "Requesting 101 records on the `comments` connection exceeds the `first` limit "
            "of 100 records.",
        ),
        (
            {},
            "MISSING_PAGINATION_BOUNDARIES",
            "You must provide a `first` or `last` value to properly paginate the `comments` "
            "connection.",
        ),
        (
            {"first": 5, "after": "bm90IGEgY3Vyc29y"},
            "INVALID_CURSOR_ARGUMENTS",
            "`bm90IGEgY3Vyc29y` does not appear to be a valid cursor.",
        ),
    ],
)
def test_bad_pages_are_refused_as_github_refuses_them(
    github: World, variables: dict[str, Any], kind: str, message: str
) -> None:
    number = github.open_change()
    answer = _comments(github, number, **variables)
    errors = answer["errors"]
    assert [(e["type"], e["message"]) for e in errors] == [(kind, message)]
    if kind != "INVALID_CURSOR_ARGUMENTS":
        assert "data" not in answer  # refused before anything was read


def test_what_is_missing_is_not_found_or_null(github: World) -> None:
    number = github.open_change()
    gh = github.client("bob")
    missing_repo = read(gh, pull_query(OWNER, "nope", number))
    assert missing_repo["data"] == {"repository": None}
    assert missing_repo["errors"] == [
        {
            "type": "NOT_FOUND",
            "path": ["repository"],
            "locations": [{"line": 2, "column": 3}],
            "message": f"Could not resolve to a Repository with the name '{OWNER}/nope'.",
        }
    ]
    # PyGithub turns GitHub's lone NOT_FOUND into its 404 exception.
    query = pull_query(OWNER, "nope", number)
    with pytest.raises(UnknownObjectException):
        gh.requester.graphql_query(query.document, dict(query.variables))

    missing_pull = read(gh, pull_query(OWNER, REPO, 999))
    assert missing_pull["data"] == {"repository": {"pullRequest": None}}
    assert [(e["type"], e["path"], e["message"]) for e in missing_pull["errors"]] == [
        (
            "NOT_FOUND",
            ["repository", "pullRequest"],
            "Could not resolve to a PullRequest with the number of 999.",
        )
    ]

    teams = ["acme/approvers", "acme/ghosts", "nobody/x"]
    answer = read(gh, pull_query(OWNER, REPO, number, teams=teams))
    assert answer["data"]["t1"] == {"team": None}  # no such team: null, no error
    assert answer["data"]["t2"] is None
    assert [(e["type"], e["path"]) for e in answer["errors"]] == [("NOT_FOUND", ["t2"])]


def test_enterprise_server_answers_graphql_under_api(github: World) -> None:
    number = github.open_change()
    gh = client(github.server.url + "/api/v3", Auth.Token(github.tokens["bob"]))
    assert gh.requester.graphql_url.endswith("/api/graphql")
    _, answer = gh.requester.graphql_query(
        "query($o: String!, $n: String!) { repository(owner: $o, name: $n) { nameWithOwner } }",
        {"o": OWNER, "n": REPO},
    )
    assert answer == {"data": {"repository": {"nameWithOwner": FULL}}}
    assert read(gh, pull_query(OWNER, REPO, number))["data"]["repository"]["pullRequest"]
    assert {r.path for r in github.server.request_log if r.method == "POST"} >= {"/graphql"}
    assert not [r for r in github.server.request_log if r.path == "/api/graphql"]


def test_documents_that_do_not_parse_or_validate_get_errors_alone(github: World) -> None:
    gh = github.client("bob")
    broken = post(gh, "query { repository(owner: ")
    assert set(broken) == {"errors"}
    assert broken["errors"][0]["locations"]
    unknown = post(gh, '{ repository(owner: "acme", name: "requests") { secrets } }')
    assert unknown == {
        "errors": [
            {
                "extensions": {
                    "code": "undefinedField",
                    "typeName": "Repository",
                    "fieldName": "secrets",
                },
                "locations": [{"line": 1, "column": 49}],
                "message": "Field 'secrets' doesn't exist on type 'Repository'",
            }
        ]
    }
    missing = post(gh, "query($o: String!) { organization(login: $o) { login } }")
    assert set(missing) == {"errors"}


def test_states_follow_the_pull_request_and_its_reviews(github: World) -> None:
    number = github.open_change()
    review = github.client("bob").get_repo(FULL).get_pull(number).create_review(event="APPROVE")
    github.client("carol").get_repo(FULL).get_pull(number).get_review(review.id).dismiss("stale")
    pull = pull_of(github, "bob", number)["repository"]["pullRequest"]
    assert [r["state"] for r in pull["reviews"]["nodes"]] == ["DISMISSED"]
    assert (pull["state"], pull["merged"]) == ("OPEN", False)

    alice = github.client("alice").get_repo(FULL).get_pull(number)
    alice.edit(state="closed")
    pull = pull_of(github, "bob", number)["repository"]["pullRequest"]
    assert (pull["state"], pull["merged"]) == ("CLOSED", False)

    alice.edit(state="open")
    github.client("carol").get_repo(FULL).get_pull(number).merge(merge_method="squash")
    pull = pull_of(github, "bob", number)["repository"]["pullRequest"]
    assert (pull["state"], pull["merged"]) == ("MERGED", True)


def test_a_pull_request_from_a_fork_names_the_fork_as_its_head(github: World) -> None:
    github.tokens["mallory"] = github.server.add_user("mallory")
    mallory = github.client("mallory")
    fork = mallory.get_repo(FULL).create_fork()
    github.server.push("mallory", REPO, "x", {"x.txt": b"x\n"}, message="x", author="mallory")
    rest = mallory.get_repo(FULL).create_pull(base="main", head="mallory:x", title="From a fork")
    pull = pull_of(github, "bob", rest.number)["repository"]["pullRequest"]
    assert pull["headRepository"] == {"nameWithOwner": fork.full_name}
    assert pull["baseRepository"]["nameWithOwner"] == FULL
    assert pull["headRefOid"] == rest.head.sha


def test_a_graphql_answer_takes_the_latency_set(github: World) -> None:
    number = github.open_change()
    github.server.set_latency(0.05)
    read(github.client("bob"), pull_query(OWNER, REPO, number))
    github.server.set_latency(0.0)
    record = next(r for r in reversed(github.server.request_log) if r.path == "/graphql")
    # A sleep lasts at least as long as asked: a lower bound, never flaky.
    assert record.finished - record.started >= 0.05
