"""The sandbox's seeded world, and the end-state checks the story tests share.

``assert_story_state`` checks every step of a finished story from the servers' and the
store's state (never from what was printed or logged); the e2e, fault and canary tests call
it. The tests here need no controller: the seeded documents, people and cluster must be
what the story relies on.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from controller.config import load_config
from controller.documents import parse_rules
from controller.documents.parse import parse_access_request, parse_policy
from controller.model import Action, GrantState, Tier
from controller.paths import data_dir
from controller.sandbox import commands, observe, story_access, world_agents
from controller.sandbox.story import ENVIRONMENT, SYNC_CHECK, StoryResult
from controller.sandbox.world import (
    BOT,
    DEPLOYMENT,
    DEVELOPER,
    LEAD,
    NAMESPACE,
    OWNER,
    REPO,
    SECRET,
    SECRET_NAME,
    SECURITY,
    SRES,
    World,
    build_world,
)


def assert_story_state(world: World, result: StoryResult, values: Mapping[str, bytes]) -> None:
    """Every step of the story, from state: GitHub, the clusters, the store."""
    # The pull request: opened by the developer, merged by the controller at the head the
    # approvals were given on.
    pr = observe.pull(world, result.number)
    assert pr["user"]["login"] == DEVELOPER
    assert pr["merged"] is True
    assert pr["merged_by"]["login"] == BOT
    assert pr["head"]["sha"] == result.head_sha
    # main moved on when the access act's and the agents act's requests were merged.
    main = result.agents.merge_sha or result.access.merge_sha or result.merge_sha
    assert world.github.branch_sha(OWNER, REPO, "main") == main
    merged_file = world.github.read_file(OWNER, REPO, "main", result.change_file)
    assert merged_file is not None
    assert all(value not in merged_file for value in values.values())

    # Reviews: the author's approval was refused outright; the others were recorded.
    approvals = observe.approvals_on_github(world, result.number)
    assert DEVELOPER not in approvals
    assert sorted(approvals) == sorted([LEAD, *SRES, SECURITY])

    # The check: green on the merged head, with the sticky comment from the App.
    run = observe.check_run(world, result.head_sha)
    assert run is not None
    assert (run["status"], run["conclusion"]) == ("completed", "success")
    assert run["app"]["slug"] == "sealgate"
    sync = observe.check_run(world, result.head_sha, SYNC_CHECK)
    assert sync is not None
    assert (sync["status"], sync["conclusion"]) == ("completed", "success")
    bot_comments = [
        c for c in world.github.comments(OWNER, REPO, result.number) if c["user"]["login"] == BOT
    ]
    assert bot_comments

    # The store: one commit for the pull request, naming who approved (not lead, not dev1).
    commits = observe.store_commits_for(world, result.number)
    assert [c.sha for c in commits] == [result.store_commit]
    trailers = commits[0].trailers
    assert trailers["Head-Sha"] == result.head_sha
    approved_by = {name.strip() for name in trailers["Approved-By"].split(",")}
    assert approved_by == {*SRES, SECURITY}
    assert trailers["Sealgate-Requester"] == DEVELOPER
    assert trailers["Sealgate-Reason"].endswith(
        "rotate the Stripe keys after the processor's key roll"
    )
    assert trailers["Sealgate-Pull-Request"].endswith(f"/{OWNER}/{REPO}/pull/{result.number}")
    with observe.open_store(world) as store:
        applied = store.is_applied(result.change_id)
        assert applied is not None
        assert applied.commit == result.store_commit
        history = store.history(ENVIRONMENT, SECRET)
        assert [v.change_id for v in history] == [result.change_id]
        stored = store.read_secret(ENVIRONMENT, SECRET)
        assert stored is not None
        assert dict(stored.data) == dict(values)
        report = store.audit_verify()
        assert report.ok, report.problems
        assert any(result.change_id in str(dict(r.fields)) for r in store.audit_records())

    # The cluster: the Secret holds the values, with provenance; the Deployment rolled once.
    obj = observe.secret_object(world, ENVIRONMENT, SECRET)
    assert obj is not None
    data = {k: base64.b64decode(v) for k, v in obj["data"].items()}
    assert data == dict(values)
    marks = observe.annotations_of(obj)
    assert marks[observe.PULL_REQUEST_ANNOTATION] == str(result.number)
    assert marks["sealgate.dev/change-id"] == result.change_id
    assert marks["sealgate.dev/store-version"] == str(history[-1].version)
    assert observe.rollout_count(world, ENVIRONMENT) == result.rollouts_before + 1
    assert observe.rollout_complete(world, ENVIRONMENT)
    # Staging was not touched.
    assert observe.secret_object(world, "staging", SECRET) is None
    assert observe.rollout_count(world, "staging") == 0


def assert_access_state(world: World, result: StoryResult, values: Mapping[str, bytes]) -> None:
    """Every step of the access act, from state: GitHub, the store, the clusters' RBAC."""
    access = result.access
    pr = observe.pull(world, access.number)
    assert pr["user"]["login"] == DEVELOPER
    assert (pr["merged"], pr["merged_by"]["login"]) == (True, BOT)
    approvals = observe.approvals_on_github(world, access.number)
    assert sorted(approvals) == sorted([story_access.APPROVER, SECURITY])
    merged = world.github.read_file(OWNER, REPO, "main", story_access.REQUEST_FILE)
    assert merged == story_access.request_document()

    with observe.open_store(world) as store:
        grant = store.grant(access.grant_id)
        report = store.audit_verify()
        records = list(store.audit_records())
        applied = store.is_applied(result.change_id)
    assert grant is not None
    assert (grant.requester, set(grant.approvers), grant.pull_request) == (
        DEVELOPER,
        {story_access.APPROVER, SECURITY},
        access.number,
    )
    assert grant.duration == timedelta(hours=1)
    assert grant.kubernetes_subject is not None
    assert grant.kubernetes_subject.name == story_access.SUBJECT
    assert (grant.revoked_by, grant.revoke_reason) == (DEVELOPER, "done with the incident")
    assert grant.ended_recorded
    assert grant.state(datetime.now(UTC)) is GrantState.REVOKED
    assert grant.uses == 2  # the Kubernetes binding, then one `sealgate open`
    # An access request is no change: the store's applies are the change story's and the
    # agents act's standard secret.
    assert applied is not None
    assert [r.event for r in records].count("apply") == 2
    assert report.ok, report.problems
    events = [r.event for r in records if r.fields.get("grantId") == grant.id]
    assert events == [
        "grant-approved",
        "grant-activated",
        "grant-used",
        "grant-used",
        "grant-revoked",
        "grant-ended",
        "access-refused",
    ]
    outsider = [r for r in records if r.fields.get("actor") == story_access.OUTSIDER]
    assert [r.event for r in outsider] == ["access-refused"]
    for record in records:
        assert all(value.decode() not in str(dict(record.fields)) for value in values.values())

    # What dev1 and bob saw, and what RBAC says now: no binding is left in any cluster.
    assert access.opened_keys == tuple(sorted(values))
    assert access.can_i == ["yes", "no"]
    assert access.refusals[story_access.OUTSIDER].startswith("refused (no-grant)")
    assert access.refusals[f"{DEVELOPER} after revoke"].startswith("refused (revoked)")
    for server in world.clusters.values():
        assert not server.can(
            story_access.SUBJECT, "get", "secrets", namespace=NAMESPACE, name=SECRET_NAME
        )
        assert server.list("rbac.authorization.k8s.io/v1", "RoleBinding", NAMESPACE) == []


def assert_agents_state(world: World, result: StoryResult) -> None:
    """Every step of the agents act, from state: GitHub and the store."""
    agents = result.agents
    agent = world_agents.requester(world_agents.AGENT)
    stranger = world_agents.requester(world_agents.STRANGER)
    with observe.open_store(world) as store:
        requests_ = {r.id: r for r in store.agent_requests()}
        grants = {g.id: g for g in store.grants()}
        records = list(store.audit_records())
        flags = store.read_secret(ENVIRONMENT, world_agents.FLAGS)
    assert set(requests_) == {agents.standard_id, agents.critical_id}
    assert {r.requester for r in requests_.values()} == {agent}
    assert flags is not None
    assert str(flags.tier) == "standard"
    for record in requests_.values():
        assert record.pull_number is not None
        pr = observe.pull(world, record.pull_number)
        assert (pr["user"]["login"], pr["merged"], pr["merged_by"]["login"]) == (BOT, True, BOT)
    critical = observe.pull(world, agents.critical_number)
    assert sorted(observe.approvals_on_github(world, agents.critical_number)) == sorted(
        [story_access.APPROVER, SECURITY]
    )
    assert critical["merge_commit_sha"] == agents.merge_sha
    standard = grants[agents.grants[world_agents.FLAGS]]
    stripe = grants[agents.grants[SECRET]]
    assert (standard.requester, standard.approvers, standard.uses) == (agent, (), 1)
    assert (stripe.requester, set(stripe.approvers), stripe.uses) == (
        agent,
        {story_access.APPROVER, SECURITY},
        1,
    )
    assert agents.polls[-1] in ("approved", "active")
    assert all(status == "pending" for status in agents.polls[:-1])
    refused = [r for r in records if r.event == "agent-request-refused"]
    assert [(r.fields.get("actor"), r.fields.get("code")) for r in refused] == [
        (stranger, "not-allowed")
    ]
    assert not any(stranger in str(dict(r.fields)) for r in records if r not in refused)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(Path(tmp_path_factory.mktemp("sandbox-world")))
    try:
        yield w
    finally:
        w.stop()


def test_the_config_is_what_sealgate_run_loads(world: World) -> None:
    config = load_config(world.config, environ={})
    assert config.github.repository == f"{OWNER}/{REPO}"
    assert config.github.base_url == world.github.url
    assert config.github.app is not None
    assert config.server.listen == f"127.0.0.1:{world.listen_port}"
    assert {c.name for c in config.clusters} == set(world.clusters)


def test_the_repository_holds_valid_policies_and_fresh_keys(world: World) -> None:
    files = {
        path: world.github.read_file(OWNER, REPO, "main", path)
        for path in (
            "environments/production.yaml",
            "environments/staging.yaml",
            "policies/production-two-person.yaml",
            "policies/production-critical-security.yaml",
            "policies/staging-single-approval.yaml",
            "policies/governance.yaml",
            "policies/production-access.yaml",
        )
    }
    rules = parse_rules({path: data for path, data in files.items() if data is not None})
    assert set(rules.environments) == {"production", "staging"}
    with observe.open_store(world):
        pass  # the key directory and KEK the config names exist and open
    production = rules.environments["production"]
    assert production.clusters == ("prod-eu-1",)
    seeded = files["environments/production.yaml"]
    assert seeded is not None
    assert production.sealing_keys[0].public_key in seeded.decode()


def test_people_and_teams_are_visible_to_the_app_over_http(world: World) -> None:
    answer = requests.get(
        f"{world.github.url}/orgs/{OWNER}/teams/sre/members",
        headers={"Authorization": f"token {world.tokens[LEAD]}"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert sorted(m["login"] for m in answer.json()) == sorted(SRES)


def test_the_cluster_runs_the_deployment_that_reads_the_secret(world: World) -> None:
    for environment in ("production", "staging"):
        server = world.cluster_for(environment)
        deployment = server.get("apps/v1", "Deployment", NAMESPACE, DEPLOYMENT)
        assert deployment is not None
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["envFrom"] == [{"secretRef": {"name": SECRET.split("/")[1]}}]
        assert server.rollout_count(NAMESPACE, "Deployment", DEPLOYMENT) == 0
        assert observe.secret_object(world, environment, SECRET) is None


def test_the_access_policy_is_seeded_and_the_example_request_is_the_story_s(
    world: World,
) -> None:
    data = world.github.read_file(OWNER, REPO, "main", "policies/production-access.yaml")
    assert data is not None
    policy = parse_policy("policies/production-access.yaml", data)
    assert policy.actions == frozenset({Action.ACCESS})
    assert policy.max_duration == timedelta(hours=8)
    # The request dev1 writes is the documented example, comments aside.
    example = data_dir("examples") / story_access.REQUEST_FILE
    written = parse_access_request(story_access.REQUEST_FILE, story_access.request_document())
    documented = parse_access_request(story_access.REQUEST_FILE, example.read_bytes())
    assert written == documented
    assert written.duration == timedelta(hours=1)


def test_without_kubectl_the_act_falls_back_to_the_cluster_s_decision(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no kubectl on it
    answer = commands.kubectl_can_i(
        world, "get", "secret/stripe", context="prod-eu-1", subject="dev1", namespace=NAMESPACE
    )
    assert answer is None


def test_a_value_counts_as_printed_as_it_is_or_in_base64() -> None:
    value = b"sk_live_sandbox_0123"
    assert commands.printed(value, f"x {value.decode()} y")
    assert commands.printed(value, base64.b64encode(value).decode())
    assert not commands.printed(value, "sk_live_sandbox_")


def test_the_agents_rules_and_tokens_are_seeded(world: World) -> None:
    paths = (
        "environments/production.yaml",
        "environments/staging.yaml",
        world_agents.ACCESS_POLICY,
        world_agents.CRITICAL_ACCESS_POLICY,
    )
    files = {path: world.github.read_file(OWNER, REPO, "main", path) for path in paths}
    rules = parse_rules({path: data for path, data in files.items() if data is not None})
    production = rules.environments["production"]
    # The story's agent (payments/* in production), beside the client's release agent that
    # every environment lets ask; the stranger is listed nowhere.
    assert [(a.namespace, a.name, a.cluster) for a in production.agents] == [
        ("payments", "release-agent", world_agents.AGENT_CLUSTER),
        (world_agents.AGENT_NAMESPACE, world_agents.AGENT, world_agents.AGENT_CLUSTER),
    ]
    assert [a.name for a in rules.environments["staging"].agents] == ["release-agent"]
    assert all(
        a.name != world_agents.STRANGER
        for environment in rules.environments.values()
        for a in environment.agents
    )
    by_name = {policy.name: policy for policy in rules.policies}
    assert by_name["production-access"].tiers == frozenset({Tier.SENSITIVE, Tier.CRITICAL})
    critical = by_name["production-critical-access"]
    assert (critical.actions, critical.tiers) == (
        frozenset({Action.ACCESS}),
        frozenset({Tier.CRITICAL}),
    )
    assert critical.steps[0].teams == frozenset({"acme/security"})
    config = load_config(world.config, environ={})
    assert config.api.agents.enabled
    assert config.api.agents.audience == world_agents.AUDIENCE
    # Both tokens are real: the production cluster's TokenReview vouches for them.
    cluster = world.clusters[world_agents.AGENT_CLUSTER]
    for name in (world_agents.AGENT, world_agents.STRANGER):
        path = world.agent_tokens[name]
        assert path.stat().st_mode & 0o777 == 0o600
        review = requests.post(
            f"{cluster.url}/apis/authentication.k8s.io/v1/tokenreviews",
            json={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "spec": {"token": path.read_text(), "audiences": [world_agents.AUDIENCE]},
            },
            timeout=10,
        ).json()
        assert review["status"]["authenticated"] is True
        assert review["status"]["user"]["username"] == (
            f"system:serviceaccount:{world_agents.AGENT_NAMESPACE}:{name}"
        )
