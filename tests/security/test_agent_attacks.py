"""Attacks on the pull requests of the agents API, each asserting it is blocked: pushes to
the controller's branch, a swapped or edited file, a reopened or retargeted pull request,
an agent revoked in spec.agents while its request waits (fixtures for
``test_agent_attacks_api``).

Through the loopback servers only: the agents' HTTP API, git pushes to the loopback GitHub,
reviews and pull-request edits by its users, tokens issued by the loopback cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
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


def test_retargeting_the_controllers_pull_request_onto_another_branch_grants_nothing(
    agents: Agents,
) -> None:
    token = agents.token()
    document = agents.ask(token, DB).json()
    number = pull_of(document)
    main = agents.world.hub.pull(OWNER, REPO, number)["base"]["sha"]
    loose = agents.world.as_user("alice").get_repo(FULL)
    loose.create_git_ref("refs/heads/loose", str(main))
    loose.get_pull(number).edit(base="loose")
    agents.world.approve("bob", number)
    status = agents.controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID, status.messages
    assert agents.world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert agents.controller.store.grants() == []
    assert open_grant(agents, token, document["id"]).status_code == 403


def test_a_change_request_withdrawn_after_the_denial_grants_nothing(agents: Agents) -> None:
    token = agents.token()
    document = agents.ask(token, DB).json()
    number = pull_of(document)
    bob = agents.world.as_user("bob").get_repo(FULL).get_pull(number)
    review = bob.create_review(event="REQUEST_CHANGES", body="not now")
    agents.controller.reconciler.handle(FULL, number)
    assert agents.get(token, document["id"]).json()["status"] == "denied"
    review.dismiss("changed my mind")
    agents.world.approve("carol", number)
    status = agents.controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID, status.messages
    assert agents.controller.store.grants() == []
    assert open_grant(agents, token, document["id"]).status_code == 403


def test_a_branch_made_ready_by_someone_else_before_the_pull_request_is_a_foreign_push(
    agents: Agents,
) -> None:
    """The crash window between the branch and the pull request: whoever saw the branch
    appear pushes to it (here: prepares it with exactly the controller's bytes)."""
    from controller.github.agent_pulls import AgentPulls
    from controller.model import AgentIdentity, SecretAccess
    from controller.reconciler.agent_requests import AgentAsk, AgentRequestFlow, request_file
    from tests.integration.agents_support import DEPLOYER
    from tests.integration.test_reconciler_world import CLUSTER

    request_id = "agent-aaaaaaaaaaaa"
    ask = AgentAsk(ENV, (SecretAccess(DB, ("password",)),), "nightly", "5m", "1h")
    controller = agents.controller
    flow = AgentRequestFlow(
        repo=FULL, github=controller.gateway, pulls=AgentPulls(controller.gateway.client),
        records=controller.store, store=controller.store, handle=controller.reconciler.handle,
        clock=lambda: datetime.now(UTC), new_id=lambda: request_id,
    )  # fmt: skip
    controller.reconciler.agents = flow
    agents.world.hub.push(
        OWNER, REPO, f"sealgate/access/{ENV}/{request_id}",
        {f"access/{ENV}/{request_id}.yaml": request_file(request_id, DEPLOYER, ask)},
        message="ready for you", author="alice", base="main",
    )  # fmt: skip
    record = flow.submit(AgentIdentity("ci", "deployer", "uid", CLUSTER), ask)
    assert record.pull_number is not None
    agents.world.approve("bob", record.pull_number)
    status = controller.reconciler.handle(FULL, record.pull_number)
    assert status.status is Status.INVALID, status.messages
    assert any("pushed to by alice" in m for m in status.messages), status.messages
    assert controller.store.grants() == []
