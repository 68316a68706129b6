"""A report's comment and label edits as one GraphQL mutation, against the loopback GitHub.

Real PyGithub over HTTP; what was asked is read from the server's request log, what was
written from its REST answers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.errors import GitHubError
from controller.github import GitHubClient, Reporter, SnapshotReader
from controller.github.snapshot import PullRequestSnapshot
from controller.github.summary import Summary, render_summary
from controller.model import Decision, DecisionState
from controller.sandbox.github_server.app import RequestRecord
from tests.integration.test_github_adapter_world import (
    APP_ID,
    FAST_RETRY,
    FULL,
    INSTALLATION_ID,
    OWNER,
    REPO,
    SLUG,
    World,
    build_world,
    response_problems,
)

GRAPHQL = "/graphql"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(Path(tmp_path_factory.mktemp("report-graph")))
    try:
        yield w
    finally:
        w.client.close()
        w.server.stop()


@pytest.fixture(autouse=True)
def clean_server(world: World) -> Iterator[None]:
    world.server.clear_faults()
    world.server.reset_request_log()
    yield
    world.server.clear_faults()
    assert response_problems(world.server.request_log) == []


@pytest.fixture
def reporter(world: World) -> Iterator[Reporter]:
    r = Reporter(world.client)
    yield r
    r.close()


def summary_of(snapshot: PullRequestSnapshot, state: DecisionState) -> Summary:
    decision = Decision(state=state, reasons=(f"{state.value}",), head_sha=snapshot.facts.head_sha)
    return render_summary(decision, [], fingerprints={})


def report(
    world: World,
    reporter: Reporter,
    number: int,
    state: DecisionState,
    *,
    graphql_status: int | None = None,
) -> tuple[int, list[RequestRecord]]:
    """Report ``state`` on a fresh snapshot: (requests the reporter counted, what it asked).
    ``graphql_status``: the report's GraphQL request answers with it (the snapshot's did not)."""
    snapshot = world.reader.fetch(FULL, number)
    if graphql_status is not None:
        world.server.inject_faults(status=graphql_status, count=1, path_contains=GRAPHQL)
    world.server.reset_request_log()
    result = reporter.report(snapshot, summary_of(snapshot, state))
    return result.requests, world.server.request_log


def writes(log: list[RequestRecord]) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in log if r.writes]


def graph_posts(log: list[RequestRecord]) -> list[RequestRecord]:
    return [r for r in log if r.path.endswith(GRAPHQL)]


def sticky_body(world: World, number: int) -> str:
    stickies = world.sticky_comments(number)
    assert len(stickies) == 1
    return str(stickies[0]["body"])


def test_a_server_without_graphql_is_remembered_and_rest_does_the_rest(
    world: World, reporter: Reporter
) -> None:
    number = world.open_pull()
    report(world, reporter, number, DecisionState.PENDING)
    # The snapshot now shows the comment's and the pending label's node ids: worth a mutation.
    made, log = report(world, reporter, number, DecisionState.APPROVED, graphql_status=404)
    assert [r.status for r in graph_posts(log)] == [404]
    assert not reporter.graphql
    assert made == len(log)
    assert "sealgate: approved" in sticky_body(world, number)
    assert world.server.labels(OWNER, REPO, number) == ["sealgate:approved"]
    # Never asked again: the rejection goes over REST only.
    made, log = report(world, reporter, number, DecisionState.REJECTED)
    assert graph_posts(log) == []
    assert made == len(log)
    assert world.server.labels(OWNER, REPO, number) == ["sealgate:rejected"]
    assert "sealgate: rejected" in sticky_body(world, number)


def test_graphql_false_never_asks_graphql(world: World) -> None:
    reporter = Reporter(world.client, graphql=False)
    try:
        number = world.open_pull()
        for state in (DecisionState.PENDING, DecisionState.APPROVED):
            made, log = report(world, reporter, number, state)
            assert graph_posts(log) == []
            assert made == len(log)
        assert world.server.labels(OWNER, REPO, number) == ["sealgate:approved"]
    finally:
        reporter.close()


def test_the_rest_snapshot_carries_the_node_ids_a_report_needs(
    world: World, reporter: Reporter
) -> None:
    number = world.open_pull()
    report(world, reporter, number, DecisionState.PENDING)
    rest = SnapshotReader(world.client, graphql=False)
    try:
        snapshot = rest.fetch(FULL, number)
    finally:
        rest.close()
    pull = world.server.pull(OWNER, REPO, number)
    assert snapshot.node_id == pull["node_id"]
    assert set(snapshot.label_ids) == {"sealgate:pending"}
    assert snapshot.label_ids["sealgate:pending"] == pull["labels"][0]["node_id"]
    (comment,) = [c for c in snapshot.facts.comments if c.body.startswith("<!-- sealgate")]
    assert comment.node_id == world.sticky_comments(number)[0]["node_id"]


def replace_comment_node(snapshot: PullRequestSnapshot, node_id: str) -> PullRequestSnapshot:
    comments = tuple(dataclasses.replace(c, node_id=node_id) for c in snapshot.facts.comments)
    return dataclasses.replace(
        snapshot, facts=dataclasses.replace(snapshot.facts, comments=comments)
    )


def test_a_failed_mutation_is_raised_after_the_check_and_the_next_report_repairs(
    world: World, reporter: Reporter
) -> None:
    number = world.open_pull()
    report(world, reporter, number, DecisionState.PENDING)
    snapshot = world.reader.fetch(FULL, number)
    world.server.inject_faults(status=502, count=5, path_contains=GRAPHQL)
    summary = summary_of(snapshot, DecisionState.APPROVED)
    with pytest.raises(GitHubError) as caught:
        reporter.report(snapshot, summary)
    assert caught.value.retryable
    assert summary.text not in str(caught.value)
    # The check run was written all the same.
    assert world.check_run(snapshot.facts.head_sha)["conclusion"] == "success"
    world.server.clear_faults()
    report(world, reporter, number, DecisionState.APPROVED)
    assert "sealgate: approved" in sticky_body(world, number)
    assert world.server.labels(OWNER, REPO, number) == ["sealgate:approved"]


def test_a_report_after_a_review_is_the_check_write_and_one_mutation(
    world: World, reporter: Reporter
) -> None:
    # A first pull request teaches the reporter the ids of both labels (REST adds show them).
    learner = world.open_pull()
    report(world, reporter, learner, DecisionState.PENDING)
    report(world, reporter, learner, DecisionState.APPROVED)
    number = world.open_pull()
    made, log = report(world, reporter, number, DecisionState.PENDING)
    assert sorted(writes(log)) == sorted(
        [
            ("POST", f"/repos/{FULL}/check-runs"),
            ("POST", f"/repos/{FULL}/issues/{number}/comments"),
            ("POST", GRAPHQL),
        ]
    )
    assert made == len(log)  # and the lookup of a check run a restart may have left
    made, log = report(world, reporter, number, DecisionState.APPROVED)
    run_id = world.check_run(world.reader.fetch(FULL, number).facts.head_sha)["id"]
    assert sorted(writes(log)) == [
        ("PATCH", f"/repos/{FULL}/check-runs/{run_id}"),
        ("POST", GRAPHQL),
    ]
    assert made == len(log) == 2
    (mutation,) = graph_posts(log)
    assert mutation.status == 200
    assert set(mutation.body["data"]) == {"comment", "add", "remove"}
    assert "errors" not in mutation.body
    # What the mutation wrote, as REST shows it.
    assert world.server.labels(OWNER, REPO, number) == ["sealgate:approved"]
    assert "sealgate: approved" in sticky_body(world, number)
    # Nothing changed, nothing sent.
    made, log = report(world, reporter, number, DecisionState.APPROVED)
    assert (made, writes(log)) == (0, [])


def test_a_label_the_repository_lacks_is_added_over_rest_which_creates_it(
    tmp_path: Path,
) -> None:
    fresh = build_world(tmp_path)
    reporter = Reporter(fresh.client)
    try:
        repo = fresh.as_user("alice").get_repo(FULL)
        assert "sealgate:rejected" not in {label.name for label in repo.get_labels()}
        number = fresh.open_pull()
        report(fresh, reporter, number, DecisionState.PENDING)
        made, log = report(fresh, reporter, number, DecisionState.REJECTED)
        # The comment edit and the removal in the mutation, the unknown label over REST.
        assert ("POST", f"/repos/{FULL}/issues/{number}/labels") in writes(log)
        (mutation,) = graph_posts(log)
        assert set(mutation.body["data"]) == {"comment", "remove"}
        assert made == len(log) == 3
        assert "sealgate:rejected" in {label.name for label in repo.get_labels()}
        assert fresh.server.labels(OWNER, REPO, number) == ["sealgate:rejected"]
        assert response_problems(fresh.server.request_log) == []
    finally:
        reporter.close()
        fresh.client.close()
        fresh.server.stop()


def test_a_deleted_sticky_comment_is_posted_again(world: World, reporter: Reporter) -> None:
    number = world.open_pull()
    report(world, reporter, number, DecisionState.PENDING)
    stale = world.reader.fetch(FULL, number)
    (old,) = world.sticky_comments(number)
    issue = world.as_user("erin").get_repo(FULL).get_issue(number)
    issue.get_comment(int(old["id"])).delete()
    assert world.sticky_comments(number) == []
    world.server.reset_request_log()
    # The snapshot still shows the comment: the mutation finds it gone, REST posts anew.
    result = reporter.report(stale, summary_of(stale, DecisionState.APPROVED))
    log = world.server.request_log
    (mutation,) = graph_posts(log)
    assert mutation.body["data"]["comment"] is None
    assert [e["type"] for e in mutation.body["errors"]] == ["NOT_FOUND"]
    assert ("POST", f"/repos/{FULL}/issues/{number}/comments") in writes(log)
    assert result.requests == len(log)
    (new,) = world.sticky_comments(number)
    assert result.comment_id == new["id"] != old["id"]
    assert "sealgate: approved" in str(new["body"])
    assert world.server.labels(OWNER, REPO, number) == ["sealgate:approved"]
    # The new comment is the one edited from now on.
    report(world, reporter, number, DecisionState.REJECTED)
    (again,) = world.sticky_comments(number)
    assert again["id"] == new["id"]
    assert "sealgate: rejected" in str(again["body"])


def test_a_refused_part_of_the_mutation_is_raised_and_the_next_report_repairs(
    world: World, reporter: Reporter
) -> None:
    number = world.open_pull()
    report(world, reporter, number, DecisionState.PENDING)
    snapshot = world.reader.fetch(FULL, number)
    # As if the label was deleted (and made again) after the read: its id no longer resolves.
    gone = "MDU6TGFiZWw5OTk5OTk5"
    stale = dataclasses.replace(
        snapshot, label_ids={**snapshot.label_ids, "sealgate:approved": gone}
    )
    summary = summary_of(stale, DecisionState.APPROVED)
    with pytest.raises(GitHubError) as caught:
        reporter.report(stale, summary)
    assert "add: NOT_FOUND" in str(caught.value)
    assert summary.text not in str(caught.value)
    # The parts that were done stay done...
    assert "sealgate: approved" in sticky_body(world, number)
    assert world.server.labels(OWNER, REPO, number) == []
    # ...and the next pass adds it with the id a fresh read shows, the stale one forgotten.
    made, log = report(world, reporter, number, DecisionState.APPROVED)
    assert writes(log) == [("POST", "/graphql")]
    assert made == 1
    assert world.server.labels(OWNER, REPO, number) == ["sealgate:approved"]


@pytest.mark.parametrize("keep_marker", [True, False])
def test_a_sticky_comment_edited_by_someone_else_is_rewritten(
    world: World, reporter: Reporter, keep_marker: bool
) -> None:
    number = world.open_pull()
    report(world, reporter, number, DecisionState.PENDING)
    (sticky,) = world.sticky_comments(number)
    forged = "**sealgate: approved** by bob and carol"
    if keep_marker:
        forged = "<!-- sealgate:summary -->\n" + forged
    issue = world.as_user("alice").get_repo(FULL).get_issue(number)
    issue.get_comment(int(sticky["id"])).edit(forged)
    made, log = report(world, reporter, number, DecisionState.PENDING)
    (mutation,) = graph_posts(log)
    assert set(mutation.body["data"]) == {"comment"}
    assert made == 1
    restored = [c for c in world.server.comments(OWNER, REPO, number) if c["id"] == sticky["id"]]
    assert restored[0]["body"] == sticky["body"]


def test_an_enterprise_server_gets_its_mutation_at_api_graphql(world: World) -> None:
    base = world.url + "/api/v3"
    client = GitHubClient.from_app(
        APP_ID, world.app_key_pem, INSTALLATION_ID, slug=SLUG, base_url=base, retry=FAST_RETRY
    )
    reader, reporter = SnapshotReader(client), Reporter(client)
    try:
        number = world.open_pull()
        for state in (DecisionState.PENDING, DecisionState.APPROVED):
            snapshot = reader.fetch(FULL, number)
            reporter.report(snapshot, summary_of(snapshot, state))
        mutations = [r for r in graph_posts(world.server.request_log) if r.writes]
        assert mutations
        assert all(m.status == 200 and "errors" not in m.body for m in mutations)
        assert reporter.graphql
        assert world.server.labels(OWNER, REPO, number) == ["sealgate:approved"]
        assert "sealgate: approved" in sticky_body(world, number)
    finally:
        reporter.close()
        reader.close()
        client.close()
