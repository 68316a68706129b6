"""The agents client against a loopback server speaking exactly the agents API contract.

Every status, ETag and 304, long polls, each error status, the token file read on every
call, and the canary value nowhere but in the opened values.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from controller.client import (
    AccessRequestStatus,
    ApiError,
    ApprovalRequired,
    AsyncSealgateClient,
    ClientError,
    Forbidden,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    ProtocolError,
    RateLimited,
    RequestClosed,
    RequestState,
    SealgateClient,
    TokenFileError,
    Unavailable,
    WaitTimedOut,
)
from controller.model import SecretAccess
from tests.integration.agents_fake_server import CANARY, AgentsFakeServer

SECRET = "payments/stripe"


@dataclass
class Setup:
    fake: AgentsFakeServer
    url: str
    token: str
    token_file: Path
    client: SealgateClient


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    fake = AgentsFakeServer()
    token, _ = fake.add_agent("payments", "release-agent")
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    with fake.running() as url:
        yield Setup(fake, url, token, token_file, SealgateClient(url, token_file, poll_interval=0))


def ask(
    setup: Setup, environment: str = "production", idempotency_key: str | None = None
) -> AccessRequestStatus:
    return setup.client.request_access(
        environment,
        [SECRET],
        "incident 4711: payouts fail",
        "5m",
        "1h",
        idempotency_key=idempotency_key,
    )


def test_a_request_needing_approval_is_pending_with_its_pull_request(setup: Setup) -> None:
    status = ask(setup)
    assert status.state is RequestState.PENDING
    assert status.is_pending
    assert status.id.startswith("agent-")
    assert (status.required_approvals, status.current_approvals) == (2, 0)
    assert status.pull_request_url == "https://github.example/acme/r/pull/1"
    assert status.secrets == (SecretAccess(SECRET),)
    assert status.requester == "system:serviceaccount:payments:release-agent@prod-eu-1"
    assert not status.auto_approved
    assert status.grant is None
    (post,) = [s for s in setup.fake.seen if s.method == "POST"]
    assert "Idempotency-Key" not in post.headers


def test_the_body_is_the_contracts(setup: Setup) -> None:
    setup.client.request_access(
        "production",
        [SecretAccess(SECRET, ("API_KEY",)), "payments/db"],
        "why",
        timedelta(hours=2),
        timedelta(minutes=90),
        cluster="prod-eu-1",
    )
    (held,) = setup.fake.requests.values()
    assert held.document["secrets"] == [
        {"secret": SECRET, "keys": ["API_KEY"]},
        {"secret": "payments/db", "keys": []},
    ]


def test_auto_approved_access_opens_at_once(setup: Setup) -> None:
    values = setup.client.access("staging", SECRET, reason="deploy 812", duration="5m")
    assert values == {"API_KEY": CANARY, "PUBLISHABLE": b"pk_test_1"}
    assert CANARY.decode() not in repr(values)
    assert CANARY.decode() not in str(values)
    assert "API_KEY" in repr(values)
    (held,) = setup.fake.requests.values()
    assert held.document["status"] == "active"


def test_access_raises_approval_required_then_resumes_with_the_same_key(setup: Setup) -> None:
    with pytest.raises(ApprovalRequired) as raised:
        setup.client.access(
            "production", SECRET, reason="rotate", duration="5m", idempotency_key="task-17"
        )
    waiting = raised.value
    assert waiting.status.is_pending
    assert waiting.pull_request_url == "https://github.example/acme/r/pull/1"
    setup.fake.approve(waiting.request_id)
    values = setup.client.access(
        "production", SECRET, reason="rotate", duration="5m", idempotency_key="task-17"
    )
    assert values["API_KEY"] == CANARY
    assert setup.fake.pulls == 1  # the same request answered: no second pull request


def test_access_to_a_denied_request_is_closed_not_pending(setup: Setup) -> None:
    first = ask(setup, idempotency_key="k")
    setup.fake.deny(first.id, "not during the freeze")
    with pytest.raises(RequestClosed, match="denied: not during the freeze"):
        setup.client.access("production", SECRET, reason="r", duration="5m", idempotency_key="k")


def test_status_uses_the_etag_and_a_304_answers_from_the_cache(setup: Setup) -> None:
    created = ask(setup)
    first = setup.client.status(created.id)
    second = setup.client.status(created.id)
    assert second == first
    gets = [s for s in setup.fake.seen if s.method == "GET"]
    assert gets[0].headers.get("If-None-Match") == created.etag
    assert gets[1].headers.get("If-None-Match") == first.etag
    setup.fake.approve(created.id)
    third = setup.client.status(created.id)
    assert third.state is RequestState.APPROVED
    assert third.etag != first.etag
    assert third.grant is not None
    assert third.grant.uses == 0


@pytest.mark.parametrize(
    ("final", "state"),
    [
        ("approved", RequestState.APPROVED),
        ("active", RequestState.ACTIVE),
        ("denied", RequestState.DENIED),
        ("expired", RequestState.EXPIRED),
        ("lapsed", RequestState.LAPSED),
        ("ended", RequestState.ENDED),
        ("revoked", RequestState.REVOKED),
    ],
)
def test_wait_long_polls_until_the_request_leaves_pending(
    setup: Setup, final: str, state: RequestState
) -> None:
    created = ask(setup)
    timer = threading.Timer(0.2, setup.fake.set_status, (created.id, final))
    timer.start()
    try:
        done = setup.client.wait(created.id, timeout=30)
    finally:
        timer.cancel()
    assert done.state is state
    waits = [s for s in setup.fake.seen if "wait=" in s.path]
    assert waits
    assert all(s.headers.get("If-None-Match") for s in waits)


def test_wait_times_out_with_a_dedicated_error(setup: Setup) -> None:
    created = ask(setup)
    with pytest.raises(WaitTimedOut) as raised:
        setup.client.wait(created.id, timeout=1)
    assert isinstance(raised.value, TimeoutError)
    assert raised.value.request_id == created.id
    assert raised.value.last.is_pending


def test_wait_sits_out_a_rate_limit(setup: Setup) -> None:
    created = ask(setup)
    setup.fake.approve(created.id)
    setup.fake.fail_next(429, retry_after="0")
    assert setup.client.wait(created.id, timeout=30).is_granted


def test_open_before_approval_is_forbidden_with_the_reason(setup: Setup) -> None:
    created = ask(setup)
    with pytest.raises(Forbidden) as raised:
        setup.client.open(created.id)
    assert raised.value.reason == "not-approved"
    assert raised.value.status == 403


def test_open_some_keys(setup: Setup) -> None:
    created = ask(setup)
    setup.fake.approve(created.id)
    opened = setup.client.open_grant(created.id, ["PUBLISHABLE"])
    assert dict(opened.values) == {"PUBLISHABLE": b"pk_test_1"}
    assert opened.grant == f"production-pr-1-{created.id}"
    assert "pk_test_1" not in repr(opened)


def test_open_a_request_of_several_secrets_needs_the_secret(setup: Setup) -> None:
    created = setup.client.request_access("production", [SECRET, "payments/db"], "r", "5m")
    setup.fake.approve(created.id)
    with pytest.raises(ClientError, match="several secrets"):
        setup.client.open(created.id)
    assert setup.client.open(created.id, secret="payments/db") == {"PASSWORD": b"db-" + CANARY}


def test_a_refused_token_is_not_authenticated_with_the_reason(setup: Setup) -> None:
    setup.fake.refused[setup.token] = "expired"
    with pytest.raises(NotAuthenticated) as raised:
        ask(setup)
    assert raised.value.reason == "expired"
    assert raised.value.status == 401
    assert setup.token not in str(raised.value)


def test_a_servers_message_echoing_the_token_is_scrubbed(setup: Setup) -> None:
    setup.fake.fail_next(403, body={"reason": "not-allowed", "message": f"token {setup.token}"})
    with pytest.raises(Forbidden) as raised:
        ask(setup)
    assert setup.token not in str(raised.value)
    assert "[token]" in str(raised.value)


def test_not_allowed_invalid_rate_limited_unavailable(setup: Setup) -> None:
    with pytest.raises(Forbidden, match="not-allowed"):
        ask(setup, environment="qa")
    with pytest.raises(InvalidRequest) as invalid:
        setup.client.request_access("production", [SecretAccess(SECRET, ("NOPE",))], "r", "5m")
    assert invalid.value.problems == (
        "access/production/request.yaml: spec.secrets: payments/stripe has no key NOPE",
    )
    with pytest.raises(ApiError) as malformed:
        setup.client.request_access("production", [SECRET], "r", "5 minutes")
    assert malformed.value.status == 400
    setup.fake.fail_next(429, retry_after="7")
    with pytest.raises(RateLimited) as limited:
        ask(setup)
    assert limited.value.retry_after == 7.0
    setup.fake.fail_next(503, retry_after="3")
    with pytest.raises(Unavailable) as down:
        ask(setup)
    assert down.value.retry_after == 3.0


def test_another_requesters_request_is_not_found(setup: Setup, tmp_path: Path) -> None:
    created = ask(setup)
    other, _ = setup.fake.add_agent("web", "bot")
    (tmp_path / "other").write_text(other)
    with pytest.raises(NotFound):
        SealgateClient(setup.url, tmp_path / "other").status(created.id)


def test_the_token_file_is_read_again_on_every_call(setup: Setup) -> None:
    created = ask(setup)
    rotated, _ = setup.fake.add_agent("payments", "release-agent")
    setup.fake.tokens[rotated] = setup.fake.tokens[setup.token]
    setup.token_file.write_text(rotated)
    setup.client.status(created.id)
    assert setup.fake.seen[-1].headers["Authorization"] == f"Bearer {rotated}"
    assert setup.fake.seen[0].headers["Authorization"] == f"Bearer {setup.token}"


def test_a_missing_or_empty_token_file_names_the_file_not_the_token(setup: Setup) -> None:
    setup.token_file.write_text("  \n")
    with pytest.raises(TokenFileError, match="does not hold one token"):
        ask(setup)
    setup.token_file.unlink()
    with pytest.raises(TokenFileError, match=str(setup.token_file)):
        ask(setup)


def test_a_redirect_is_not_followed(setup: Setup) -> None:
    setup.fake.fail_next(307, retry_after=None, body={})
    with pytest.raises(ClientError):
        ask(setup)
    assert len(setup.fake.seen) == 1


def test_an_answer_that_is_not_the_contract_is_a_protocol_error(setup: Setup) -> None:
    setup.fake.fail_next(202, body={"status": "pending"})
    with pytest.raises(ProtocolError, match="no id"):
        ask(setup)


def test_nothing_listening_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("eyJtoken")
    client = SealgateClient("http://127.0.0.1:9", tmp_path / "t")
    with pytest.raises(Unavailable, match="cannot reach"):
        client.status("agent-abcdefghijkl")


def test_no_token_or_value_in_reprs_or_logs(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    created = setup.client.request_access("staging", [SECRET], "r", "5m")
    values = setup.client.open(created.id)
    shown = repr(setup.client) + repr(created) + repr(values) + caplog.text
    assert setup.token not in shown
    assert CANARY.decode() not in shown


def test_the_async_twin(setup: Setup) -> None:
    client = AsyncSealgateClient(setup.url, setup.token_file, poll_interval=0)

    async def story() -> bytes:
        created = await client.request_access("production", [SECRET], "r", "5m")
        setup.fake.approve(created.id)
        assert (await client.wait(created.id, 10)).is_granted
        assert (await client.status(created.id)).is_granted
        return (await client.open(created.id))["API_KEY"]

    assert asyncio.run(story()) == CANARY
    assert setup.token not in repr(client)


def test_the_async_access_raises_approval_required(setup: Setup) -> None:
    client = AsyncSealgateClient(setup.url, setup.token_file)
    with pytest.raises(ApprovalRequired):
        asyncio.run(client.access("production", SECRET, reason="r", duration="5m"))


def test_open_a_secret_the_request_does_not_name_is_refused_before_asking(setup: Setup) -> None:
    created = ask(setup)
    setup.fake.approve(created.id)
    with pytest.raises(ClientError, match="not payments/db"):
        setup.client.open(created.id, secret="payments/db")
    assert not [s for s in setup.fake.seen if s.path.endswith("/open")]


def test_an_unreadable_ca_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    with pytest.raises(ClientError, match=r"ca\.pem"):
        SealgateClient("https://sealgate.internal", tmp_path / "t", ca_file=tmp_path / "ca.pem")
