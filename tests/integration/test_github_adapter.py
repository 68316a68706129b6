"""The GitHub adapter against the loopback GitHub: snapshots, caching, polling, auth, errors.

Real PyGithub over HTTP throughout; what the server was asked is read from its request log.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from github import Auth, Github, GithubIntegration

from controller.errors import ConflictError, GitHubError
from controller.github import GitHubClient, PullPoller, PullState, Reporter, SnapshotReader, merge
from controller.github.app_auth import InstallationTokenAuth, InstallationTokens
from controller.github.report import Via
from controller.github.summary import render_summary
from controller.github.teams import TeamDirectory
from controller.model import Decision, DecisionState, ReviewState
from tests.integration.test_github_adapter_world import (
    APP_ID,
    FAST_RETRY,
    FULL,
    INSTALLATION_ID,
    OWNER,
    POLICY_YAML,
    REPO,
    SLUG,
    World,
    build_world,
    change_yaml,
    response_problems,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(Path(tmp_path_factory.mktemp("github-adapter")))
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
    world.server.set_rate_limit(5000)
    assert response_problems(world.server.request_log) == []


def paths(world: World, method: str = "GET") -> list[str]:
    return [r.path for r in world.server.request_log if r.method == method]


def test_snapshot_holds_every_fact_a_decision_needs(world: World) -> None:
    number = world.open_pull(
        {
            "changes/production/a.yaml": change_yaml("a"),
            "changes/production/b.yaml": change_yaml("b", "payments/b"),
        }
    )
    world.push(number, {"changes/production/b.yaml": None}, author="bob")
    world.approve("carol", number)
    world.pull_as("mallory", number).create_issue_comment("looks fine")
    world.approve("dave", number, event="REQUEST_CHANGES", body="why?")

    snap = world.reader.fetch(FULL, number)
    facts = snap.facts
    pull = world.server.pull(OWNER, REPO, number)
    assert snap.state is PullState.OPEN
    assert snap.title == pull["title"]
    assert facts.number == number
    assert facts.author == "alice"
    assert facts.head_sha == pull["head"]["sha"]
    assert facts.base_sha == pull["base"]["sha"] == world.server.branch_sha(OWNER, REPO, "main")
    assert facts.created_at.tzinfo is not None
    assert facts.now >= facts.created_at
    assert [(c.author, c.committer) for c in facts.commits] == [("alice", "alice"), ("bob", "bob")]
    assert facts.commits[-1].sha == facts.head_sha
    assert [(r.user, r.state, r.commit_id) for r in facts.reviews] == [
        ("carol", ReviewState.APPROVED, facts.head_sha),
        ("dave", ReviewState.CHANGES_REQUESTED, facts.head_sha),
    ]
    assert all(r.submitted_at.tzinfo is not None and r.id > 0 for r in facts.reviews)
    assert [(c.user, c.body) for c in facts.comments] == [("mallory", "looks fine")]
    assert facts.teams == {"acme/secops": frozenset({"dave"})}
    assert facts.current_tiers == {}, "tiers come from the store, not GitHub"
    # b.yaml was added then deleted: GitHub no longer lists it, and nothing is read for it.
    assert facts.changed_files == ("changes/production/a.yaml",)
    assert dict(snap.change_files) == {"changes/production/a.yaml": change_yaml("a")}
    assert set(snap.rule_files) == {"environments/production.yaml", "policies/production.yaml"}
    assert snap.problems == ()


def test_rules_come_from_the_base_never_the_head(world: World) -> None:
    loosened = POLICY_YAML.replace(b"required: 1", b"required: 1\n    users: [mallory]")
    number = world.open_pull({"policies/production.yaml": loosened, "policies/extra.yaml": b"x"})
    snap = SnapshotReader(world.client).fetch(FULL, number)  # fresh: no cached rules
    assert snap.rule_files["policies/production.yaml"] == POLICY_YAML
    assert "policies/extra.yaml" not in snap.rule_files
    assert set(snap.facts.changed_files) == {"policies/production.yaml", "policies/extra.yaml"}
    assert snap.change_files == {}
    # The head's rules are read too, kept apart: only to check what the pull request would
    # leave behind, never to judge it.
    assert snap.proposed_rule_files is not None
    assert snap.proposed_rule_files["policies/production.yaml"] == loosened
    refs = {r.query for r in world.server.request_log if "/contents/policies" in r.path}
    assert refs == {f"ref={snap.facts.base_sha}", f"ref={snap.facts.head_sha}"}


def test_a_secret_change_does_not_read_the_head_rules(world: World) -> None:
    number = world.open_pull()
    snap = SnapshotReader(world.client).fetch(FULL, number)
    assert snap.proposed_rule_files is None
    refs = {r.query for r in world.server.request_log if "/contents/policies" in r.path}
    assert refs == {f"ref={snap.facts.base_sha}"}


def test_changed_files_are_read_across_pages(world: World) -> None:
    files: dict[str, bytes | None] = {
        f"changes/production/bulk-{i:03}.yaml": change_yaml(f"bulk-{i:03}", f"bulk/s{i:03}")
        for i in range(104)
    }
    number = world.open_pull(files)
    snap = world.reader.fetch(FULL, number)
    assert sorted(snap.facts.changed_files) == sorted(files)
    assert len(snap.change_files) == 104
    pages = [r.query for r in world.server.request_log if r.path.endswith(f"/pulls/{number}/files")]
    assert len(pages) == 2, pages


def test_a_repeat_snapshot_is_one_graphql_read_and_one_conditional_rest_read(
    world: World,
) -> None:
    number = world.open_pull()
    world.reader.fetch(FULL, number)
    world.server.reset_request_log()
    world.reader.fetch(FULL, number)
    asked = [(r.method, r.path, r.status, r.counted) for r in world.server.request_log]
    # The pull request, reviews, comments, base tip and team members in one query; who
    # pushed the head branch (no GraphQL equivalent) conditionally, at no budget.
    assert sorted(asked) == [
        ("GET", f"/repos/{FULL}/activity", 304, False),
        ("POST", "/graphql", 200, True),
    ]


def test_a_repeat_rest_snapshot_reads_no_content_and_lists_cost_no_budget(world: World) -> None:
    number = world.open_pull()
    reader = SnapshotReader(world.client, graphql=False)
    reader.fetch(FULL, number)
    world.server.reset_request_log()
    reader.fetch(FULL, number)
    asked = {r.path: (r.status, r.counted) for r in world.server.request_log}
    # The files and commits are fixed by the head: not asked for again at the same head.
    # The teams are, alongside the reviews, so that a merge this snapshot allows need not
    # read them once more.
    assert len(asked) == len(world.server.request_log) == 6
    assert asked == {"/orgs/acme/teams/secops/members": (304, False)} | {
        f"/repos/{FULL}/{tail}": (304, False)
        for tail in (
            f"pulls/{number}",
            # The rules are read at the base branch's tip, re-validated each time.
            "git/ref/heads/main",
            f"pulls/{number}/reviews",
            f"issues/{number}/comments",
            "activity",  # who pushed the head branch
        )
    }

    world.approve("carol", number)
    world.server.reset_request_log()
    snap = reader.fetch(FULL, number)
    reader.close()
    assert [r.user for r in snap.facts.reviews] == ["carol"]
    fresh = {r.path for r in world.server.request_log if r.status == 200}
    # The pull request itself answers 304 unless the review changed what it shows.
    assert f"/repos/{FULL}/pulls/{number}/reviews" in fresh
    assert fresh <= {f"/repos/{FULL}/pulls/{number}", f"/repos/{FULL}/pulls/{number}/reviews"}


def test_who_dismissed_a_review_comes_from_the_timeline_read_only_when_needed(
    world: World,
) -> None:
    number = world.open_pull()
    world.approve("carol", number)
    world.approve("dave", number, event="REQUEST_CHANGES", body="not now")
    world.reader.fetch(FULL, number)
    timeline = f"/repos/{FULL}/issues/{number}/timeline"
    assert timeline not in paths(world), "no dismissed review: the timeline is not read"

    (review,) = [r for r in world.pull_as("alice", number).get_reviews() if r.user.login == "dave"]
    review.dismiss("outdated")
    world.server.reset_request_log()
    snap = world.reader.fetch(FULL, number)
    dave = next(r for r in snap.facts.reviews if r.user == "dave")
    assert (dave.state, dave.dismissed_by, dave.dismissed_state) == (
        ReviewState.DISMISSED,
        "alice",
        ReviewState.CHANGES_REQUESTED,
    )
    carol = next(r for r in snap.facts.reviews if r.user == "carol")
    assert (carol.dismissed_by, carol.dismissed_state) == (None, None)
    assert [r.status for r in world.server.request_log if r.path == timeline] == [200]

    # Unchanged since: conditional, so it costs no rate-limit budget.
    world.server.reset_request_log()
    world.reader.fetch(FULL, number)
    assert [(r.status, r.counted) for r in world.server.request_log if r.path == timeline] == [
        (304, False)
    ]


def test_team_memberships_are_cached_for_the_ttl(world: World) -> None:
    now = [0.0]
    teams = TeamDirectory(world.client, ttl=60, clock=lambda: now[0])
    assert teams.members("acme/secops") == {"dave"}
    world.server.set_team_members(OWNER, "secops", ["dave", "erin"])
    try:
        now[0] = 59.0
        assert teams.members("acme/secops") == {"dave"}
        now[0] = 60.0
        assert teams.members("acme/secops") == {"dave", "erin"}
    finally:
        world.server.set_team_members(OWNER, "secops", ["dave"])
    assert sum("/teams/secops/members" in p for p in paths(world)) == 2
    assert teams.members("acme/no-such-team") == frozenset(), "an unseen team counts nobody"


def test_idle_poll_costs_no_rate_limit(world: World) -> None:
    poller = PullPoller(world.client)
    first = poller.poll(FULL)
    assert first.not_modified == 0
    assert {p.number for p in first.changed} == {p.number for p in first.pulls}

    world.server.reset_request_log()
    idle = poller.poll(FULL)
    assert idle.changed == ()
    assert idle.pulls == first.pulls
    assert idle.not_modified == idle.requests >= 1
    assert [r.status for r in world.server.request_log] == [304] * idle.requests
    assert not any(r.counted for r in world.server.request_log)

    number = first.pulls[0].number
    world.push(
        number, {"changes/production/poke.yaml": change_yaml("poke", "poke/s")}, author="alice"
    )
    moved = poller.poll(FULL)
    assert [p.number for p in moved.changed] == [number]


def test_token_auth_reports_through_a_commit_status(world: World) -> None:
    client = GitHubClient.from_token(world.tokens["erin"], base_url=world.url, retry=FAST_RETRY)
    assert client.login() == "erin"
    reporter = Reporter(client)
    assert reporter.via is Via.STATUS
    number = world.open_pull()
    snap = SnapshotReader(client).fetch(FULL, number)
    decision = Decision(
        state=DecisionState.PENDING, reasons=("waiting",), head_sha=snap.facts.head_sha
    )
    result = reporter.report(snap, render_summary(decision, [], fingerprints={}))
    assert result.check_run_id == 0
    statuses = [
        r for r in world.server.request_log if r.path.endswith(f"/statuses/{snap.facts.head_sha}")
    ]
    assert len(statuses) == 1
    assert statuses[0].body["state"] == "pending"
    assert statuses[0].body["context"] == "sealgate"
    again = reporter.report(snap, render_summary(decision, [], fingerprints={}))
    assert again.requests == 0
    client.close()


def test_bad_credentials_and_missing_things_are_not_retryable(world: World) -> None:
    bad = GitHubClient.from_token("ghp_not-a-real-token", base_url=world.url, retry=FAST_RETRY)
    with pytest.raises(GitHubError) as refused:
        SnapshotReader(bad).fetch(FULL, 1)
    assert refused.value.retryable is False
    assert "credentials" in str(refused.value)
    assert "ghp_not-a-real-token" not in str(refused.value)
    with pytest.raises(GitHubError) as missing:
        world.reader.fetch(FULL, 99999)
    assert missing.value.retryable is False
    assert isinstance(missing.value.__cause__, Exception), "the cause is chained"


def test_graphql_server_errors_are_retried_then_reported_as_retryable(world: World) -> None:
    number = world.open_pull()
    world.server.inject_faults(status=502, count=2, path_contains="/graphql")
    snap = world.reader.fetch(FULL, number)
    statuses = [r.status for r in world.server.request_log if r.path == "/graphql"]
    assert statuses == [502, 502, 200]
    assert snap.facts.number == number
    world.server.inject_faults(status=503, count=50, path_contains="/graphql")
    with pytest.raises(GitHubError) as failed:
        world.reader.fetch(FULL, number)
    assert failed.value.retryable is True
    world.server.clear_faults()
    assert world.reader.fetch(FULL, number).facts.number == number


def test_server_errors_are_retried_then_reported_as_retryable(world: World) -> None:
    number = world.open_pull()
    reader = SnapshotReader(world.client, graphql=False)
    world.server.inject_faults(status=502, count=2, path_contains=f"/pulls/{number}/reviews")
    snap = reader.fetch(FULL, number)
    statuses = [r.status for r in world.server.request_log if r.path.endswith("/reviews")]
    assert statuses == [502, 502, 200]
    assert snap.facts.number == number

    # The comments, not the commits: those are kept per head and not asked for again.
    world.server.inject_faults(status=503, count=50, path_contains=f"/issues/{number}/comments")
    with pytest.raises(GitHubError) as failed:
        reader.fetch(FULL, number)
    assert failed.value.retryable is True
    reader.close()


def test_secondary_rate_limit_waits_for_retry_after(world: World) -> None:
    number = world.open_pull()
    world.server.inject_faults(
        status=403, count=1, path_contains=f"/pulls/{number}/files", retry_after=1
    )
    snap = world.reader.fetch(FULL, number)
    assert snap.facts.number == number
    statuses = [r.status for r in world.server.request_log if r.path.endswith("/files")]
    assert statuses == [403, 200]


def test_exhausted_primary_rate_limit_fails_fast_as_retryable(world: World) -> None:
    number = world.open_pull()
    world.server.set_rate_limit(5000, remaining=0)
    with pytest.raises(GitHubError) as limited:
        world.reader.fetch(FULL, number)
    assert limited.value.retryable is True
    assert "rate limit" in str(limited.value)


def test_merge_of_a_conflicting_pull_request_is_refused_with_githubs_reason(world: World) -> None:
    number = world.open_pull({"changes/production/clash.yaml": change_yaml("clash")})
    world.server.push(
        OWNER,
        REPO,
        "main",
        {"changes/production/clash.yaml": change_yaml("other")},
        message="conflict",
        author="erin",
    )
    head = world.server.pull(OWNER, REPO, number)["head"]["sha"]
    with pytest.raises(GitHubError) as refused:
        merge(world.client, FULL, number, head)
    assert refused.value.retryable is False
    assert "not mergeable" in str(refused.value).lower()
    assert world.server.pull(OWNER, REPO, number)["merged"] is False


def test_closed_and_merged_states(world: World) -> None:
    number = world.open_pull()
    world.pull_as("alice", number).edit(state="closed")
    assert world.reader.fetch(FULL, number).state is PullState.CLOSED
    other = world.open_pull()
    head = world.server.pull(OWNER, REPO, other)["head"]["sha"]
    merge(world.client, FULL, other, head, "merge")
    assert world.reader.fetch(FULL, other).state is PullState.MERGED


def test_a_stale_snapshot_never_duplicates_the_comment_or_labels(world: World) -> None:
    number = world.open_pull()
    reporter = Reporter(world.client)
    stale = world.reader.fetch(FULL, number)
    head = stale.facts.head_sha
    pending = Decision(state=DecisionState.PENDING, reasons=("waiting",), head_sha=head)
    approved = Decision(state=DecisionState.APPROVED, reasons=("ok",), head_sha=head)
    first = reporter.report(stale, render_summary(pending, [], fingerprints={}))
    # The same (now stale) snapshot again, as after a slow fetch raced the first report.
    second = reporter.report(stale, render_summary(approved, [], fingerprints={}))
    assert second.comment_id == first.comment_id
    assert len(world.sticky_comments(number)) == 1
    assert "sealgate: approved" in world.sticky_comments(number)[0]["body"]
    assert world.server.labels(OWNER, REPO, number) == ["sealgate:approved"]
    assert [r["conclusion"] for r in world.server.check_runs(OWNER, REPO, head)] == ["success"]
    # Back to pending on the same head: a fresh in-progress run, the old one stays completed.
    reporter.report(world.reader.fetch(FULL, number), render_summary(pending, [], fingerprints={}))
    runs = sorted(world.server.check_runs(OWNER, REPO, head), key=lambda r: int(r["id"]))
    assert [r["status"] for r in runs] == ["completed", "in_progress"]


def test_one_client_serves_many_threads(world: World) -> None:
    numbers = [world.open_pull() for _ in range(3)]
    failures: list[BaseException] = []
    seen: list[int] = []

    def work(number: int) -> None:
        try:
            for _ in range(3):
                seen.append(world.reader.fetch(FULL, number).facts.number)
        except BaseException as exc:  # reported below, with the thread's own traceback
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in numbers * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    assert sorted(seen) == sorted(numbers * 6)


def test_a_push_during_the_read_is_a_conflict_not_a_mixed_snapshot(world: World) -> None:
    number = world.open_pull()
    world.server.inject_faults(
        status=200, count=1, path_contains=f"/pulls/{number}/files", delay_seconds=1.0
    )
    outcome: list[BaseException | object] = []

    def read() -> None:
        try:
            outcome.append(world.reader.fetch(FULL, number))
        except BaseException as exc:  # inspected below
            outcome.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    read_paths = {f"/repos/{FULL}/pulls/{number}", "/graphql"}
    for _ in range(200):  # until the pull request itself has been read
        if any(r.path in read_paths for r in world.server.request_log):
            break
        threading.Event().wait(0.01)
    world.push(
        number, {"changes/production/race.yaml": change_yaml("race", "race/s")}, author="alice"
    )
    reader.join(timeout=30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], ConflictError)
    fresh = world.reader.fetch(FULL, number)
    assert fresh.facts.commits[-1].sha == fresh.facts.head_sha


def test_polling_follows_pages_each_with_its_own_etag(world: World) -> None:
    for _ in range(3):
        world.open_pull()
    everything = PullPoller(world.client).poll(FULL)
    poller = PullPoller(world.client, per_page=2)
    first = poller.poll(FULL)
    assert [p.number for p in first.pulls] == [p.number for p in everything.pulls]
    assert first.requests == (len(first.pulls) + 1) // 2 >= 2
    world.server.reset_request_log()
    idle = poller.poll(FULL)
    assert idle.changed == ()
    assert idle.not_modified == idle.requests == first.requests
    assert not any(r.counted for r in world.server.request_log)


def test_app_auth_shares_one_installation_token_across_threads(world: World) -> None:
    client = GitHubClient.from_app(
        APP_ID,
        world.app_key_pem,
        INSTALLATION_ID,
        slug=SLUG,
        base_url=world.url,
        retry=FAST_RETRY,
    )
    reader = SnapshotReader(client)
    number = world.open_pull()
    world.server.reset_request_log()
    threads = [threading.Thread(target=reader.fetch, args=(FULL, number)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    reader.fetch(FULL, number)
    tokens = [r for r in world.server.request_log if r.path.endswith("/access_tokens")]
    assert len(tokens) == 1
    assert tokens[0].user == f"app:{APP_ID}"
    others = [r for r in world.server.request_log if r not in tokens]
    assert len(others) >= 4 * 5
    assert {r.user for r in others} == {f"{SLUG}[bot]"}
    client.close()


def test_the_installation_token_is_renewed_before_it_expires(world: World) -> None:
    offset = [timedelta(0)]

    def integration(app: Auth.AppAuth) -> GithubIntegration:
        return GithubIntegration(auth=app, base_url=world.url, retry=None)

    tokens = InstallationTokens(
        APP_ID,
        world.app_key_pem,
        INSTALLATION_ID,
        integration=integration,
        refresh_before=timedelta(minutes=5),
        clock=lambda: datetime.now(UTC) + offset[0],
    )
    first = tokens.token()
    offset[0] = timedelta(minutes=50)  # the server's tokens live an hour
    assert tokens.token() == first
    assert tokens.issued == 1
    offset[0] = timedelta(minutes=56)
    second = tokens.token()
    assert second != first
    assert tokens.issued == 2
    gh = Github(base_url=world.url, auth=InstallationTokenAuth(tokens), retry=None)
    assert gh.get_repo(FULL).full_name == FULL
    assert world.server.request_log[-1].user == f"{SLUG}[bot]"
