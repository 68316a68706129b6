"""Attacks on the agents API and its pull requests, each asserting it is blocked.

Through the loopback servers only: the agents' HTTP API, git pushes to the loopback GitHub,
reviews and pull-request edits by its users, tokens issued by the loopback cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.crypto.caller_box import caller_public_text, new_caller_key
from controller.documents.rules_digest import rules_digest
from controller.reconciler import Status
from controller.reconciler.trust import OPERATOR
from tests.integration.agents_support import (
    CACHE,
    DB,
    Agents,
    build_agents_world,
    seeded,
    start_agents,
)
from tests.integration.test_reconciler_world import ENV, FULL, OWNER, REPO, World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_agents_world(tmp_path)
    try:
        yield w
    finally:
        w.hub.stop()
        w.kube.stop()


@pytest.fixture
def agents(world: World, caplog: pytest.LogCaptureFixture) -> Iterator[Agents]:
    caplog.set_level(logging.DEBUG)
    a = start_agents(world)
    seeded(world, a.controller)
    try:
        yield a
    finally:
        a.close()


def pull_of(document: dict[str, Any]) -> int:
    number: int = document["pullRequest"]["number"]
    return number


def open_grant(agents: Agents, token: str, request_id: str) -> Any:
    key = new_caller_key()
    return agents.call(
        "POST", f"/v1/access-requests/{request_id}/open", token,
        {"publicKey": caller_public_text(key)},
    )  # fmt: skip


def set_environment(agents: Agents, content: bytes) -> None:
    path = f"environments/{ENV}.yaml"
    sha = agents.world.hub.push(
        OWNER, REPO, "main", {path: content}, message="governance", author="erin"
    )
    # As an operator's `sealgate rules trust` after reviewing the change.
    files = agents.controller.gateway.current_rules(FULL).files
    agents.controller.store.trust_rules(
        rules_digest(files), how=OPERATOR, repo=FULL, ref="main", sha=sha, actor="erin",
        reason="governance change reviewed",
    )  # fmt: skip


def test_an_agent_removed_from_spec_agents_is_not_granted_its_pending_request(
    agents: Agents,
) -> None:
    token = agents.token()
    document = agents.ask(token, DB).json()
    assert document["status"] == "pending", document
    path = f"environments/{ENV}.yaml"
    current = agents.world.hub.read_file(OWNER, REPO, "main", path)
    assert current is not None
    revoked = current.split(b"  agents:\n", 1)[0]
    set_environment(agents, revoked)
    number = pull_of(document)
    agents.world.approve("bob", number)
    status = agents.controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID, status
    assert agents.controller.store.grants() == []
    assert open_grant(agents, token, document["id"]).status_code == 403


def test_reopening_a_denied_request_grants_nothing(agents: Agents) -> None:
    token = agents.token()
    document = agents.ask(token, DB).json()
    number = pull_of(document)
    carol = agents.world.as_user("carol").get_repo(FULL).get_pull(number)
    carol.edit(state="closed")
    agents.controller.reconciler.handle(FULL, number)
    assert agents.get(token, document["id"]).json()["status"] == "denied"
    agents.world.as_user("alice").get_repo(FULL).get_pull(number).edit(state="open")
    agents.world.approve("bob", number)
    status = agents.controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID, status
    assert agents.controller.store.grants() == []
    # Denied is final: the agent was told so and stopped waiting.
    assert agents.get(token, document["id"]).json()["status"] == "denied"
    assert open_grant(agents, token, document["id"]).status_code == 403


# ---------------------------------------------------------------------------- the bot's branch


def branch_and_file(agents: Agents, document: dict[str, Any]) -> tuple[str, str, bytes]:
    pull = agents.world.hub.pull(OWNER, REPO, pull_of(document))
    path = f"access/{ENV}/{document['id']}.yaml"
    content = agents.world.hub.read_file(OWNER, REPO, pull["head"]["ref"], path)
    assert content is not None
    return str(pull["head"]["ref"]), path, content


def test_a_second_file_pushed_to_the_controllers_branch_grants_nothing(agents: Agents) -> None:
    token = agents.token()
    document = agents.ask(token, DB).json()
    branch, _, _ = branch_and_file(agents, document)
    agents.world.hub.push(
        OWNER, REPO, branch, {f"access/{ENV}/extra.yaml": b"kind: AccessRequest\n"},
        message="one more", author="alice",
    )  # fmt: skip
    number = pull_of(document)
    agents.world.approve("bob", number)
    status = agents.controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID, status.messages
    assert agents.controller.store.grants() == []
    assert agents.get(token, document["id"]).json()["status"] == "denied"


def test_another_agents_recorded_file_swapped_into_a_pull_request_grants_nothing(
    agents: Agents,
) -> None:
    mine = agents.ask(agents.token(), DB).json()
    theirs = agents.ask(agents.token("helper"), DB).json()
    branch, path, _ = branch_and_file(agents, mine)
    _, their_path, their_content = branch_and_file(agents, theirs)
    # The store vouches for exactly these bytes at exactly this path, but for the other
    # pull request: the record is bound to the pull request the controller opened for it.
    agents.world.hub.push(
        OWNER, REPO, branch, {path: None, their_path: their_content},
        message="swap", author="alice",
    )  # fmt: skip
    number = pull_of(mine)
    agents.world.approve("bob", number)
    status = agents.controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID, status.messages
    assert agents.controller.store.grants() == []


def test_a_force_push_back_to_the_controllers_bytes_is_still_a_foreign_push(
    agents: Agents,
) -> None:
    token = agents.token()
    document = agents.ask(token, DB).json()
    branch, path, content = branch_and_file(agents, document)
    agents.world.hub.push(
        OWNER, REPO, branch, {path: content.replace(b'"5m"', b'"1d"')},
        message="longer", author="alice",
    )  # fmt: skip
    agents.world.hub.push(OWNER, REPO, branch, {path: content}, message="as it was", author="alice")
    number = pull_of(document)
    agents.world.approve("bob", number)
    status = agents.controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID, status.messages
    assert any("was pushed to by alice" in m for m in status.messages), status.messages
    assert agents.controller.store.grants() == []


def test_a_human_pull_request_editing_an_agents_merged_file_is_invalid(agents: Agents) -> None:
    from tests.integration.test_access_flow import open_access_pull

    document = agents.ask(agents.token(), CACHE).json()
    assert document["status"] == "approved", document
    path = f"access/{ENV}/{document['id']}.yaml"
    merged = agents.world.hub.read_file(OWNER, REPO, "main", path)
    assert merged is not None
    longer = merged.replace(b'"5m"', b'"20h"')
    number = open_access_pull(agents.world, {path: longer}, author="alice")
    status = agents.controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID, status.messages
    assert any("is not the author" in m for m in status.messages)
    assert len(agents.controller.store.grants()) == 1


# ---------------------------------------------------------------------------- what the bot writes


def test_a_reason_with_mentions_links_and_html_is_inert_in_the_pull_request(
    agents: Agents,
) -> None:
    reason = "@acme/security please look <img src=x onerror=alert(1)> | broken | table\n# heading"
    answer = agents.ask(agents.token(), DB, reason=reason)
    assert answer.status_code == 202, answer.text
    number = pull_of(answer.json())
    pull = agents.world.hub.pull(OWNER, REPO, number)
    texts = [str(pull["title"]), str(pull["body"] or "")]
    texts += [str(c["body"]) for c in agents.world.hub.comments(OWNER, REPO, number)]
    for text in texts:
        assert "@acme/security" not in text, text
        assert "<img" not in text, text


def test_a_reason_outside_the_basic_plane_neither_fails_nor_breaks_the_pass(
    agents: Agents,
) -> None:
    answer = agents.ask(agents.token(), DB, reason="rollback \U0001f525 now \u0000 \ud800")
    assert answer.status_code in (202, 400, 422), answer.text
    if answer.status_code == 202:
        number = pull_of(answer.json())
        status = agents.controller.reconciler.handle(FULL, number)
        assert status.status is Status.PENDING, status.messages


def test_a_reason_quoting_the_agents_own_token_is_refused_and_never_repeated(
    agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    token = agents.token()
    answer = agents.ask(token, DB, reason=f"use this if needed: {token}")
    assert answer.status_code == 422, answer.text
    assert agents.controller.store.agent_requests() == []
    texts = [*agents.seen, caplog.text, *(repr(r) for r in agents.controller.store.audit_records())]
    for text in texts:
        assert token.rsplit(".", 1)[-1] not in text


def test_a_denial_quoting_a_credential_is_withheld_from_the_agent(agents: Agents) -> None:
    planted = "ghp_" + "A1b2C3d4" * 5
    token = agents.token()
    document = agents.ask(token, DB).json()
    number = pull_of(document)
    pr = agents.world.as_user("bob").get_repo(FULL).get_pull(number)
    pr.create_review(event="REQUEST_CHANGES", body=f"no, and the deploy key is {planted}")
    agents.controller.reconciler.handle(FULL, number)
    after = agents.get(token, document["id"])
    assert after.json()["status"] == "denied"
    assert planted not in after.text
    assert all(planted not in repr(r) for r in agents.controller.store.audit_records())


# ---------------------------------------------------------------------------- tokens


def test_a_token_of_a_deleted_and_recreated_service_account_is_refused(agents: Agents) -> None:
    token = agents.token()
    agents.world.kube.delete("v1", "ServiceAccount", "ci", "deployer")
    agents.world.kube.put(
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "deployer", "namespace": "ci"}}
    )  # fmt: skip
    answer = agents.ask(token)
    assert answer.status_code == 401, answer.text
    assert agents.controller.store.agent_requests() == []
    assert agents.ask(agents.token()).status_code == 202


def test_a_cluster_the_environment_does_not_use_is_refused(agents: Agents) -> None:
    token = agents.token()
    for cluster in ("elsewhere", "loop-2"):
        answer = agents.ask(token, cluster=cluster)
        assert answer.status_code == 401, answer.text
    assert agents.ask(token, cluster="Loop/../x").status_code == 400
    assert agents.controller.store.agent_requests() == []


def test_an_oversized_or_malformed_bearer_is_refused_before_any_review(agents: Agents) -> None:
    for bearer in ("x" * 20000, "\u00e9t\u00e9", "Basic Zm9vOmJhcg==", ""):
        answer = agents.call(
            "POST", "/v1/access-requests", None,
            {"environment": ENV, "secrets": [{"secret": CACHE}], "reason": "r", "duration": "5m"},
            Authorization=bearer if bearer.startswith("Basic") else f"Bearer {bearer}",
        )  # fmt: skip
        assert answer.status_code in (400, 401), answer.text
    assert agents.controller.store.agent_requests() == []


# ---------------------------------------------------------------------------- other agents


def test_another_agents_request_is_indistinguishable_from_a_missing_one(agents: Agents) -> None:
    document = agents.ask(agents.token()).json()
    helper = agents.token("helper")
    missing = "agent-aaaaaaaaaaaa"
    for path in ("", "/open"):
        method = "POST" if path else "GET"
        body = {"publicKey": caller_public_text(new_caller_key())} if path else None
        theirs = agents.call(method, f"/v1/access-requests/{document['id']}{path}", helper, body)
        absent = agents.call(method, f"/v1/access-requests/{missing}{path}", helper, body)
        assert theirs.status_code == absent.status_code == 404
        assert theirs.text.replace(document["id"], missing) == absent.text
        assert set(theirs.headers) == set(absent.headers)
    for odd in ("..%2f..%2fv1%2fopen", "AGENT-AAAAAAAAAAAA", "agent-" + "a" * 400):
        assert agents.get(helper, odd).status_code == 404


def test_another_agents_idempotency_key_does_not_reach_their_request(agents: Agents) -> None:
    first = agents.ask(agents.token(), DB, key="nightly").json()
    mine = agents.ask(agents.token("helper"), DB, key="nightly").json()
    assert mine["id"] != first["id"]
    assert mine["requester"] != first["requester"]
    assert agents.get(agents.token("helper"), first["id"]).status_code == 404


# ---------------------------------------------------------------------------- floods


def test_a_body_too_large_is_refused_with_or_without_a_length(agents: Agents) -> None:
    import requests

    token = agents.token()
    huge = b'{"reason": "' + b"x" * 200_000 + b'"}'
    assert agents.call("POST", "/v1/access-requests", token, huge).status_code == 400

    def chunks() -> Iterator[bytes]:
        yield huge[:100_000]
        yield huge[100_000:]

    answer = requests.post(
        f"{agents.url}/v1/access-requests", data=chunks(), timeout=60,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert answer.status_code in (400, 413), answer.text
    assert agents.controller.store.agent_requests() == []


def test_many_requests_are_rate_limited_per_agent_before_any_pull_request(
    world: World,
) -> None:
    agents = start_agents(world, rate=3)
    try:
        seeded(world, agents.controller)
        token = agents.token()
        answers = [agents.ask(token, DB) for _ in range(5)]
        codes = [a.status_code for a in answers]
        assert codes[:3] == [202, 202, 202], codes
        assert codes[3:] == [429, 429], codes
        assert answers[3].headers["Retry-After"]
        assert len(agents.controller.store.agent_requests()) == 3
        # Another agent is not held up by this one.
        assert agents.ask(agents.token("helper"), DB).status_code == 202
    finally:
        agents.close()
