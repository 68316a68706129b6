"""The loopback GitHub's GraphQL mutations, budget, authentication and faults.

Mutations go through the same records and rules as REST, so what one writes the other
reads, and the webhooks are the ones REST's writes send (checked against GitHub's schemas
by the `github` fixture).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from github import Auth, BadCredentialsException, GithubException

from controller.github.graph_documents import pull_query, report_mutation
from tests.integration.github_server_support import (
    FULL,
    OWNER,
    REPO,
    Receiver,
    World,
    client,
)
from tests.integration.github_server_support import github as github  # noqa: PLC0414
from tests.integration.graphql_support import post, pull_of, read

CANARY = "ghp_CANARY0123456789abcdefCANARY0123456789"


@pytest.fixture
def receiver(github: World) -> Iterator[Receiver]:
    with Receiver() as rx:
        github.server.set_webhook(rx.url, "hook-secret")
        yield rx


def _ids(github: World, number: int, *labels: str) -> tuple[str, str, list[str]]:
    """The pull request's node id, its first comment's, and the named labels' ids."""
    data = pull_of(github, "bob", number, labels=sorted(labels))
    pull = data["repository"]["pullRequest"]
    found = [data["repository"][f"l{i}"]["id"] for i in range(len(labels))]
    return pull["id"], pull["comments"]["nodes"][0]["id"], found


def _write(github: World, login: str, **report: Any) -> Any:
    mutation = report_mutation(**report)
    assert mutation is not None
    return post(github.client(login), mutation.document, mutation.variables)


def _summary_pull(github: World) -> int:
    number = github.open_change()
    pull = github.client("bob").get_repo(FULL).get_pull(number)
    pull.create_issue_comment("sealgate summary: pending")
    repo = github.client("carol").get_repo(FULL)
    for name in ("sealgate:approved", "sealgate:pending"):
        repo.create_label(name, "ededed")
    pull.add_to_labels("sealgate:pending")
    return number


def test_a_report_mutation_is_what_rest_then_reads(github: World, receiver: Receiver) -> None:
    number = _summary_pull(github)
    pull_id, comment_id, (approved, pending) = _ids(
        github, number, "sealgate:approved", "sealgate:pending"
    )
    github.server.wait_for_deliveries(10)
    before = len(github.server.deliveries)

    answer = _write(
        github,
        "bob",
        comment=(comment_id, "sealgate summary: approved"),
        labelable=pull_id,
        add=[approved],
        remove=[pending],
    )
    assert answer == {
        "data": {
            "comment": {"issueComment": {"id": comment_id}},
            "add": {"labelable": {"__typename": "PullRequest"}},
            "remove": {"labelable": {"__typename": "PullRequest"}},
        }
    }
    rest = github.client("alice").get_repo(FULL).get_pull(number)
    comment = next(iter(rest.get_issue_comments()))
    assert comment.body == "sealgate summary: approved"
    assert [label.name for label in rest.get_labels()] == ["sealgate:approved"]
    assert comment.raw_data["updated_at"] > comment.raw_data["created_at"]
    node = pull_of(github, "alice", number)["repository"]["pullRequest"]["comments"]["nodes"][0]
    assert node["lastEditedAt"] == node["updatedAt"] == comment.raw_data["updated_at"]

    assert github.server.wait_for_deliveries(10)
    sent = [(d.event, d.action) for d in github.server.deliveries[before:]]
    assert sent == [
        ("issue_comment", "edited"),
        ("pull_request", "labeled"),
        ("pull_request", "unlabeled"),
    ]
    labeled = github.server.deliveries[before + 1].payload
    assert (labeled["label"]["name"], labeled["sender"]["login"]) == ("sealgate:approved", "bob")


def test_each_mutation_fails_alone_and_the_others_still_apply(github: World) -> None:
    number = _summary_pull(github)
    pull_id, comment_id, (approved, pending) = _ids(
        github, number, "sealgate:approved", "sealgate:pending"
    )
    bogus = "MDU6TGFiZWw5OTk5OTk="  # a Label id no repository has
    answer = _write(
        github,
        "bob",
        comment=(comment_id, "edited"),
        labelable=pull_id,
        add=[approved, bogus],
        remove=[pending],
    )
    assert answer["data"] == {
        "comment": {"issueComment": {"id": comment_id}},
        "add": None,
        "remove": {"labelable": {"__typename": "PullRequest"}},
    }
    assert [(e["type"], e["path"], e["message"]) for e in answer["errors"]] == [
        ("NOT_FOUND", ["add"], f"Could not resolve to a node with the global id of '{bogus}'.")
    ]
    assert github.server.labels(OWNER, REPO, number) == []  # nothing of `add` was applied
    assert github.server.comments(OWNER, REPO, number)[0]["body"] == "edited"


def test_permissions_are_the_rest_routes(github: World) -> None:
    number = _summary_pull(github)
    pull_id, comment_id, (approved,) = _ids(github, number, "sealgate:approved")
    # dave may triage (label) but not edit bob's comment; eve may only read.
    github.tokens["eve"] = github.server.add_user("eve")
    github.server.add_collaborator(OWNER, REPO, "eve", "read")
    dave = _write(
        github, "dave", comment=(comment_id, "dave was here"), labelable=pull_id, add=[approved]
    )
    assert dave["data"] == {"comment": None, "add": {"labelable": {"__typename": "PullRequest"}}}
    assert [(e["type"], e["path"], e["message"]) for e in dave["errors"]] == [
        (
            "FORBIDDEN",
            ["comment"],
            "dave does not have the correct permissions to execute `UpdateIssueComment`",
        )
    ]
    eve = _write(github, "eve", labelable=pull_id, remove=[approved])
    assert eve["data"] == {"remove": None}
    assert [(e["type"], e["path"]) for e in eve["errors"]] == [("FORBIDDEN", ["remove"])]
    assert github.server.comments(OWNER, REPO, number)[0]["body"] == "sealgate summary: pending"
    assert sorted(github.server.labels(OWNER, REPO, number)) == [
        "sealgate:approved",
        "sealgate:pending",
    ]
    # The author edits their own comment, as over REST, whatever their role.
    own = _write(github, "bob", comment=(comment_id, "mine"))
    assert own["data"]["comment"] is not None


def test_graphql_spends_its_own_budget_one_point_a_document(github: World) -> None:
    number = github.open_change()
    gh = github.client("bob")
    query = pull_query(OWNER, REPO, number, teams=["acme/approvers"])
    github.server.reset_request_log()
    headers, _ = gh.requester.graphql_query(query.document, dict(query.variables))
    assert headers["x-ratelimit-resource"] == "graphql"
    assert (headers["x-ratelimit-used"], headers["x-ratelimit-remaining"]) == ("1", "4999")
    [record] = github.server.request_log
    assert (record.method, record.path, record.status, record.counted) == (
        "POST",
        "/graphql",
        200,
        True,
    )
    overview = gh.get_rate_limit().raw_data["resources"]
    assert overview["graphql"]["used"] == 1
    assert overview["core"]["used"] == 0

    github.server.set_rate_limit(10, remaining=1)
    assert "errors" not in read(gh, query)
    refused = read(gh, query)
    user_id = gh.get_user().id
    assert refused == {
        "errors": [
            {
                "type": "RATE_LIMIT",
                "code": "graphql_rate_limit",
                "message": f"API rate limit already exceeded for user ID {user_id}.",
            }
        ]
    }
    assert github.server.request_log[-2].counted is False


def test_faults_and_latency_reach_graphql(github: World) -> None:
    number = github.open_change()
    gh = github.client("bob")
    query = pull_query(OWNER, REPO, number)
    github.server.inject_faults(status=502, count=1, path_contains="/graphql")
    with pytest.raises(GithubException) as failed:
        read(gh, query)
    assert failed.value.status == 502
    github.server.inject_faults(status=403, count=1, path_contains="/graphql", retry_after=7)
    with pytest.raises(GithubException) as throttled:
        read(gh, query)
    assert throttled.value.status == 403
    assert throttled.value.headers is not None
    assert throttled.value.headers["retry-after"] == "7"
    assert read(gh, query)["data"]["repository"]["pullRequest"]["number"] == number
    statuses = [r.status for r in github.server.request_log if r.path == "/graphql"]
    assert statuses[-3:] == [502, 403, 200]


def test_graphql_takes_rest_credentials_and_refuses_others(
    github: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = client(github.server.url, Auth.Token(CANARY))
    with pytest.raises(BadCredentialsException) as refused:
        read(bad, pull_query(OWNER, REPO, 1))
    assert refused.value.status == 401
    assert refused.value.data["message"] == "Bad credentials"
    anonymous = requests.post(
        f"{github.server.url}/graphql", json={"query": "{ __typename }"}, timeout=10
    )
    assert anonymous.status_code == 401
    assert anonymous.json()["message"] == "This endpoint requires you to be authenticated."
    # A bad token is never repeated back, nor logged.
    for record in github.server.request_log:
        assert CANARY not in repr(record)
    assert CANARY not in str(refused.value)
    assert CANARY not in caplog.text


def test_values_travel_as_variables_and_come_back_unchanged(github: World) -> None:
    number = _summary_pull(github)
    _, comment_id, _ = _ids(github, number)
    tricky = 'a "quoted" body\n} mutation { x }\n\\u0000 ✓'
    answer = _write(github, "bob", comment=(comment_id, tricky))
    assert "errors" not in answer
    assert github.server.comments(OWNER, REPO, number)[0]["body"] == tricky


def test_a_blank_body_and_a_foreign_id_are_refused(github: World) -> None:
    number = _summary_pull(github)
    pull_id, comment_id, _ = _ids(github, number)
    blank = _write(github, "bob", comment=(comment_id, "  "))
    assert [(e["type"], e["path"]) for e in blank["errors"]] == [("UNPROCESSABLE", ["comment"])]
    # A pull request's id where a comment's belongs resolves to nothing.
    wrong = _write(github, "bob", comment=(pull_id, "x"))
    assert [(e["type"], e["path"]) for e in wrong["errors"]] == [("NOT_FOUND", ["comment"])]
    assert github.server.comments(OWNER, REPO, number)[0]["body"] == "sealgate summary: pending"


def test_removing_a_label_the_pull_request_lacks_is_no_error(github: World) -> None:
    number = _summary_pull(github)
    pull_id, _, (approved,) = _ids(github, number, "sealgate:approved")
    answer = _write(github, "bob", labelable=pull_id, remove=[approved])
    assert answer == {"data": {"remove": {"labelable": {"__typename": "PullRequest"}}}}
    assert github.server.labels(OWNER, REPO, number) == ["sealgate:pending"]


def test_parallel_readers_and_writers_see_whole_answers(github: World) -> None:
    number = _summary_pull(github)
    _, comment_id, _ = _ids(github, number)
    query = pull_query(OWNER, REPO, number)
    answers: list[Any] = []
    lock = threading.Lock()

    def reader() -> None:
        gh = github.client("alice")
        for _ in range(5):
            answer = read(gh, query)
            with lock:
                answers.append(answer)

    def writer() -> None:
        for index in range(5):
            _write(github, "bob", comment=(comment_id, f"summary {index}"))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 15
    for answer in answers:
        assert "errors" not in answer
        body = answer["data"]["repository"]["pullRequest"]["comments"]["nodes"][0]["body"]
        assert body == "sealgate summary: pending" or body.startswith("summary ")
    assert github.server.comments(OWNER, REPO, number)[0]["body"] == "summary 4"
