"""``/v1/access-requests`` end to end: agents' tokens issued by the loopback cluster and
reviewed by its TokenReview API, pull requests opened on the loopback GitHub by the
controller, judged and granted by the reconciler, values opened sealed to the agent's key.

A planted value and every token must never appear in an answer, a log line or an audit
record.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.crashpoint import CRASHPOINT_VARIABLE
from controller.crypto.caller_box import caller_public_text, new_caller_key, open_for_caller
from controller.reconciler import Status
from controller.reconciler.agent_requests import RECORDED_CRASHPOINT
from tests.integration.agents_support import (
    CACHE,
    CANARY,
    DB,
    DEPLOYER,
    Agents,
    build_agents_world,
    iter_audit,
    seeded,
    start_agents,
)
from tests.integration.test_reconciler_world import FULL, OWNER, REPO, ROOT, World


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


def no_leaks(agents: Agents, caplog: pytest.LogCaptureFixture, *tokens: str) -> None:
    texts = [*agents.seen, caplog.text, *iter_audit(agents.controller)]
    for text in texts:
        assert CANARY.decode() not in text
        for token in tokens:
            assert token not in text
            assert token.rsplit(".", 1)[-1] not in text


def pull_of(document: dict[str, Any]) -> int:
    number: int = document["pullRequest"]["number"]
    return number


# ---------------------------------------------------------------------------- granted at once


def test_a_request_needing_no_approval_is_granted_at_once_and_opens(
    agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    token = agents.token()
    answer = agents.ask(token)
    assert answer.status_code == 202, answer.text
    document = answer.json()
    assert document["status"] == "approved", document
    assert document["autoApproved"] is True
    assert document["requester"] == DEPLOYER
    assert document["id"].startswith("agent-")
    assert len(document["id"]) == 18
    assert document["secrets"] == [{"secret": CACHE, "keys": ["password"]}]
    pull = agents.world.hub.pull(OWNER, REPO, pull_of(document))
    assert pull["merged"] is True
    assert pull["user"]["login"] == "sealgate[bot]"
    assert answer.headers["ETag"]
    assert answer.headers["Cache-Control"] == "no-store"

    key = new_caller_key()
    opened = agents.call(
        "POST", f"/v1/access-requests/{document['id']}/open", token,
        {"publicKey": caller_public_text(key)},
    )  # fmt: skip
    assert opened.status_code == 200, opened.text
    body = opened.json()
    assert set(body) == {"grant", "endsAt", "keys", "sealed", "nonce"}
    values = open_for_caller(
        body["sealed"], key, grant_id=body["grant"], environment="production", secret=CACHE,
        nonce=body["nonce"],
    )  # fmt: skip
    assert values == {"password": CANARY}
    after = agents.get(token, document["id"]).json()
    assert after["status"] == "active"
    assert after["grant"]["uses"] == 1
    events = [r.event for r in agents.controller.store.audit_records()]
    assert "agent-request" in events
    assert "agent-request-opened" in events
    no_leaks(agents, caplog, token)


# ---------------------------------------------------------------------------- pending, ETag


def test_a_pending_request_long_polls_until_approved(
    agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    token = agents.token()
    document = agents.ask(token, DB).json()
    assert document["status"] == "pending", document
    assert document["autoApproved"] is False
    assert (document["requiredApprovals"], document["currentApprovals"]) == (1, 0)
    assert {"bob", "carol"} <= set(document["canApprove"])
    assert document["tier"] == "sensitive"
    first = agents.get(token, document["id"])
    etag = first.headers["ETag"]
    same = agents.get(token, document["id"], **{"If-None-Match": etag})
    assert same.status_code == 304
    assert same.text == ""

    result: dict[str, Any] = {}

    def poll() -> None:
        result["answer"] = agents.call(
            "GET", f"/v1/access-requests/{document['id']}?wait=30s", token,
            **{"If-None-Match": etag},
        )  # fmt: skip

    poller = threading.Thread(target=poll)
    poller.start()
    number = pull_of(document)
    agents.world.approve("bob", number)
    assert agents.controller.reconciler.handle(FULL, number).status is Status.GRANTED
    poller.join(60)
    answer = result["answer"]
    assert answer.status_code == 200, answer.text
    assert answer.headers["ETag"] != etag
    assert answer.json()["status"] == "approved"
    assert answer.json()["approvers"] == ["bob"]
    assert answer.json()["autoApproved"] is False
    no_leaks(agents, caplog, token)


def test_a_wait_with_nothing_changing_answers_304(agents: Agents) -> None:
    token = agents.token()
    document = agents.ask(token, DB).json()
    etag = agents.get(token, document["id"]).headers["ETag"]
    answer = agents.call(
        "GET", f"/v1/access-requests/{document['id']}?wait=1s", token, **{"If-None-Match": etag}
    )
    assert answer.status_code == 304


# ---------------------------------------------------------------------------- tokens


def test_forged_expired_and_foreign_tokens_are_refused(
    agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    good = agents.token()
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    expired = agents.token(expires_s=-3600)
    foreign = agents.token(audience="vault")
    for token, reason in ((forged, "invalid"), (expired, "expired"), (foreign, "audience")):
        answer = agents.ask(token)
        assert answer.status_code == 401, answer.text
        assert answer.json()["reason"] == reason
    assert agents.ask(None).status_code == 401
    refusals = [r for r in agents.controller.store.audit_records()
                if r.event == "agent-request-refused"]  # fmt: skip
    assert len(refusals) >= 4
    assert agents.world.hub.pull(OWNER, REPO, 1)  # nothing else was opened
    no_leaks(agents, caplog, good, forged, expired, foreign)


def test_a_service_account_the_environment_does_not_list_is_refused(
    agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    token = agents.token("stranger")
    answer = agents.ask(token)
    assert answer.status_code == 403, answer.text
    assert "spec.agents" in answer.json()["message"]
    # An environment that does not exist answers the same way: nothing learnt about it.
    other = agents.ask(agents.token(), environment="staging")
    assert other.status_code == 403
    no_leaks(agents, caplog, token)


def test_an_agent_cannot_read_or_open_another_agents_request(agents: Agents) -> None:
    document = agents.ask(agents.token()).json()
    helper = agents.token("helper")
    assert agents.get(helper, document["id"]).status_code == 404
    assert agents.get(helper, "agent-aaaaaaaaaaaa").status_code == 404
    key = new_caller_key()
    opened = agents.call(
        "POST", f"/v1/access-requests/{document['id']}/open", helper,
        {"publicKey": caller_public_text(key)},
    )  # fmt: skip
    assert opened.status_code == 404


# ---------------------------------------------------------------------------- bad input


def test_malformed_and_invalid_requests(agents: Agents, caplog: pytest.LogCaptureFixture) -> None:
    token = agents.token()
    planted = CANARY.decode()
    answer = agents.call("POST", "/v1/access-requests", token, {"environment": planted})
    assert answer.status_code == 400
    assert planted not in answer.text
    answer = agents.call("POST", "/v1/access-requests", token, b"{not json")
    assert answer.status_code == 400
    missing = agents.ask(token, CACHE, secrets=[{"secret": CACHE, "keys": ["nope"]}])
    assert missing.status_code == 422, missing.text
    assert any("has no key nope" in p for p in missing.json()["problems"])
    too_long = agents.ask(token, DB, duration="7d")
    assert too_long.status_code == 422
    assert any("maxDuration" in p for p in too_long.json()["problems"])
    assert agents.controller.store.agent_requests() == []
    no_leaks(agents, caplog, token)


# ---------------------------------------------------------------------------- denial


def test_a_change_request_denies_with_the_first_line_of_the_review(agents: Agents) -> None:
    token = agents.token()
    document = agents.ask(token, DB).json()
    number = pull_of(document)
    pr = agents.world.as_user("bob").get_repo(FULL).get_pull(number)
    pr.create_review(event="REQUEST_CHANGES", body="Not during the freeze\nask after Friday")
    agents.controller.reconciler.handle(FULL, number)
    after = agents.get(token, document["id"]).json()
    assert after["status"] == "denied", after
    assert after["denialReason"] == "changes requested by bob: Not during the freeze"
    assert after["resolvedAt"] is not None
    key = new_caller_key()
    opened = agents.call(
        "POST", f"/v1/access-requests/{document['id']}/open", token,
        {"publicKey": caller_public_text(key)},
    )  # fmt: skip
    assert opened.status_code == 403
    assert opened.json()["reason"] == "denied"


def test_closing_the_pull_request_denies(agents: Agents) -> None:
    token = agents.token()
    document = agents.ask(token, DB).json()
    number = pull_of(document)
    agents.world.as_user("carol").get_repo(FULL).get_pull(number).edit(state="closed")
    agents.controller.reconciler.handle(FULL, number)
    after = agents.get(token, document["id"]).json()
    assert after["status"] == "denied"
    assert after["denialReason"] == "closed by carol"


# ---------------------------------------------------------------------------- attacks


def test_a_push_to_the_controllers_branch_makes_the_request_invalid(agents: Agents) -> None:
    token = agents.token()
    document = agents.ask(token, DB).json()
    number = pull_of(document)
    pull = agents.world.hub.pull(OWNER, REPO, number)
    path = f"access/production/{document['id']}.yaml"
    content = agents.world.hub.read_file(OWNER, REPO, pull["head"]["ref"], path)
    assert content is not None
    agents.world.hub.push(
        OWNER, REPO, pull["head"]["ref"], {path: content.replace(b'"5m"', b'"1d"')},
        message="longer", author="alice",
    )  # fmt: skip
    agents.world.approve("bob", number)
    status = agents.controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID, status.messages
    assert agents.world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert agents.controller.store.grants() == []
    assert agents.get(token, document["id"]).json()["status"] == "denied"


def test_a_human_pull_request_naming_an_agent_is_invalid(agents: Agents) -> None:
    from tests.integration.test_access_flow import open_access_pull

    document = agents.ask(agents.token(), DB).json()
    path = f"access/production/{document['id']}.yaml"
    record = agents.controller.store.agent_request(document["id"])
    assert record is not None
    # The very bytes the store vouches for, but in alice's pull request.
    number = open_access_pull(agents.world, {path: record.content}, author="alice")
    agents.world.approve("bob", number)
    status = agents.controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID, status.messages
    assert any("is not the author" in m for m in status.messages)


# ---------------------------------------------------------------------------- idempotency, crash


def test_the_same_idempotency_key_returns_the_same_request(agents: Agents) -> None:
    token = agents.token()
    first = agents.ask(token, DB, key="run-42").json()
    again = agents.ask(token, DB, key="run-42").json()
    assert again["id"] == first["id"]
    assert again["pullRequest"] == first["pullRequest"]
    other = agents.ask(agents.token("helper"), DB, key="run-42").json()
    assert other["id"] != first["id"]
    assert len(agents.controller.store.agent_requests()) == 2


def test_a_crash_after_the_record_is_finished_by_a_retry(world: World) -> None:
    spec = world.spec.write(world.root / "world.json")
    agents = start_agents(world)
    try:
        seeded(world, agents.controller)
        done = subprocess.run(
            [sys.executable, "-m", "tests.integration.agents_support", str(spec), "retry-1"],
            cwd=ROOT, env={**__import__("os").environ, CRASHPOINT_VARIABLE: RECORDED_CRASHPOINT},
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 137, done.stderr.decode()
        (record,) = agents.controller.store.agent_requests()
        assert record.pull_number is None
        answer = agents.ask(agents.token(), CACHE, key="retry-1")
        assert answer.status_code == 202, answer.text
        assert answer.json()["id"] == record.id
        assert answer.json()["status"] == "approved"
        assert len(agents.controller.store.agent_requests()) == 1
    finally:
        agents.close()


def test_finish_pending_opens_what_a_crash_left(world: World) -> None:
    spec = world.spec.write(world.root / "world.json")
    agents = start_agents(world)
    try:
        seeded(world, agents.controller)
        subprocess.run(
            [sys.executable, "-m", "tests.integration.agents_support", str(spec), "k"],
            cwd=ROOT, env={**__import__("os").environ, CRASHPOINT_VARIABLE: RECORDED_CRASHPOINT},
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        (record,) = agents.controller.store.agent_requests()
        assert agents.flow.finish_pending() == [record.id]
        finished = agents.controller.store.agent_request(record.id)
        assert finished is not None
        assert finished.pull_number is not None
    finally:
        agents.close()
