"""Attacks on the agents API itself, each asserting it is blocked: what the controller
writes from an agent's words, tokens that are not an agent's, another agent's requests,
floods (fixtures: ``test_agent_attacks``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controller.crypto.caller_box import caller_public_text, new_caller_key
from controller.reconciler import Status
from tests.integration.agents_support import CACHE, DB, Agents, seeded, start_agents
from tests.integration.test_reconciler_world import ENV, FULL, OWNER, REPO, World
from tests.security.test_agent_attacks import agents as agents  # noqa: PLC0414
from tests.security.test_agent_attacks import pull_of
from tests.security.test_agent_attacks import world as world  # noqa: PLC0414

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


def test_a_persons_github_token_is_not_an_agents_token(
    agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    github_token = agents.world.tokens["alice"]
    answer = agents.ask(github_token)
    assert answer.status_code == 401, answer.text
    assert agents.controller.store.agent_requests() == []
    assert github_token not in caplog.text
    assert all(github_token not in text for text in agents.seen)


def test_a_secret_outside_the_agents_globs_refuses_the_whole_request(agents: Agents) -> None:
    token = agents.token()
    for secrets in (
        [{"secret": CACHE}, {"secret": "orders/ledger"}],
        [{"secret": "paymentsx/db"}],
        [{"secret": "payments.evil/db"}],
    ):
        answer = agents.ask(token, secrets=secrets)
        assert answer.status_code == 403, (secrets, answer.text)
    assert agents.controller.store.agent_requests() == []


def test_an_idempotency_key_holding_a_credential_is_kept_only_as_a_digest(
    agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    planted = "ghp_" + "Z9y8X7w6" * 5
    token = agents.token()
    first = agents.ask(token, CACHE, key=planted)
    assert first.status_code == 202, first.text
    assert agents.ask(token, CACHE, key=planted).json()["id"] == first.json()["id"]
    assert all(planted.encode() not in blob for blob in agents.world.store_blobs())
    texts = [*agents.seen, caplog.text, *(repr(r) for r in agents.controller.store.audit_records())]
    assert all(planted not in text for text in texts)
