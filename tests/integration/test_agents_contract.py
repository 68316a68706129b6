"""The agents API contract, checked on the wire: against the loopback fake the client is
tested with, and against the real controller (``sealgate run`` on the sandbox world) once
the agents API is part of it. Both must pass the same tests: what the client relies on.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from controller.client import (
    AccessRequestStatus,
    Forbidden,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    RequestState,
    SealgateClient,
)
from controller.model import SecretAccess
from controller.sandbox.world import SECRET
from tests.integration.agents_contract_support import (
    AUTOMATIC,
    REVIEWED,
    Target,
    fake_target,
    sandbox_target,
)

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "schemas" / "cli" / "access-request.schema.json").read_text()
)
REAL_SERVER = importlib.util.find_spec("controller.server.agents_api") is not None
WAIT_S = 60.0


@pytest.fixture(
    scope="module",
    params=[
        "fake",
        pytest.param(
            "sandbox",
            marks=pytest.mark.skipif(
                not REAL_SERVER, reason="the controller does not serve the agents API yet"
            ),
        ),
    ],
)
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    root = tmp_path_factory.mktemp(f"contract-{request.param}")
    serve = fake_target if request.param == "fake" else sandbox_target
    with serve(root) as running:
        yield running


def client(target: Target, environment: str = REVIEWED) -> SealgateClient:
    return SealgateClient(target.url, target.token_file(environment), poll_interval=0.2)


def ask(target: Target, environment: str = REVIEWED, **extra: Any) -> AccessRequestStatus:
    return client(target, environment).request_access(
        environment, [SECRET], "contract test: incident 4711", "5m", "1h", **extra
    )


def raw(
    target: Target,
    method: str,
    path: str,
    *,
    token_file: Path | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    token = (token_file or target.token_file(REVIEWED)).read_text().strip()
    sent = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        **(headers or {}),
    }
    request = urllib.request.Request(  # noqa: S310 - the loopback target
        target.url + path, data=body, headers=sent, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=WAIT_S) as answer:  # noqa: S310
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def valid(document: Any) -> None:
    errors = sorted(Draft202012Validator(SCHEMA).iter_errors(document), key=str)
    assert not errors, [e.message for e in errors]


def test_a_reviewed_request_is_pending_with_its_pull_request(target: Target) -> None:
    status = ask(target)
    assert status.state is RequestState.PENDING
    assert status.pull_request is not None
    assert status.etag
    assert not status.auto_approved
    assert status.required_approvals >= 1
    code, headers, body = raw(target, "GET", f"/v1/access-requests/{status.id}")
    assert code == 200
    valid(json.loads(body))
    tag = headers.get("ETag") or headers.get("Etag")
    assert tag
    code, _, body = raw(
        target, "GET", f"/v1/access-requests/{status.id}", headers={"If-None-Match": tag}
    )
    assert (code, body) == (304, b"")


def test_approved_then_opened_then_active(target: Target) -> None:
    agent = client(target)
    status = ask(target)
    with pytest.raises(Forbidden) as early:
        agent.open(status.id)
    assert early.value.reason == "not-approved"
    assert status.pull_request is not None
    number = status.pull_request.number
    threading.Timer(0.3, target.approve, (number, status.id)).start()
    granted = agent.wait(status.id, WAIT_S)
    assert granted.state is RequestState.APPROVED, granted
    assert granted.grant is not None
    values = agent.open(status.id)
    assert values == {"API_KEY": target.canary}
    after = agent.status(status.id)
    assert after.state is RequestState.ACTIVE
    assert after.grant is not None
    assert after.grant.uses == 1


def test_denied_is_final_and_does_not_open(target: Target) -> None:
    agent = client(target)
    status = ask(target)
    assert status.pull_request is not None
    threading.Timer(0.3, target.deny, (status.pull_request.number, status.id)).start()
    done = agent.wait(status.id, WAIT_S)
    assert done.state is RequestState.DENIED
    assert done.denial_reason
    with pytest.raises(Forbidden) as refused:
        agent.open(status.id)
    assert refused.value.reason == "denied"


def test_automatic_is_granted_at_once(target: Target) -> None:
    agent = client(target, AUTOMATIC)
    status = ask(target, AUTOMATIC)
    if status.is_pending:  # the contract allows the grant to follow shortly after the 202
        status = agent.wait(status.id, WAIT_S)
    assert status.state in (RequestState.APPROVED, RequestState.ACTIVE)
    assert status.auto_approved
    assert agent.open(status.id) == {"API_KEY": target.canary}


def test_each_request_opens_its_own_grant(target: Target) -> None:
    agent = client(target, AUTOMATIC)
    first, second = ask(target, AUTOMATIC), ask(target, AUTOMATIC)
    for status in (first, second):
        granted = agent.wait(status.id, WAIT_S) if status.is_pending else status
        assert granted.grant is not None
        opened = agent.open_grant(status.id)  # refuses an answer for another grant
        assert opened.grant == granted.grant.id


def test_the_same_idempotency_key_is_the_same_request(target: Target) -> None:
    first = ask(target, idempotency_key="contract-job-1")
    again = ask(target, idempotency_key="contract-job-1")
    other = ask(target, idempotency_key="contract-job-2")
    assert again.id == first.id
    assert other.id != first.id


def test_another_agents_request_is_not_found(target: Target) -> None:
    status = ask(target)
    stranger = SealgateClient(target.url, target.stranger_token_file)
    with pytest.raises(NotFound):
        stranger.status(status.id)


def test_a_stranger_may_not_ask(target: Target) -> None:
    stranger = SealgateClient(target.url, target.stranger_token_file)
    with pytest.raises(Forbidden):
        stranger.request_access(REVIEWED, [SECRET], "r", "5m")


def test_a_forged_token_is_refused_with_a_reason(target: Target) -> None:
    forged = SealgateClient(target.url, target.forged_token_file)
    with pytest.raises(NotAuthenticated) as refused:
        forged.request_access(REVIEWED, [SECRET], "r", "5m")
    assert refused.value.reason


def test_an_invalid_request_lists_its_problems(target: Target) -> None:
    with pytest.raises(InvalidRequest) as invalid:
        client(target).request_access(
            REVIEWED, [SecretAccess(SECRET, ("NO_SUCH_KEY",))], "contract", "5m"
        )
    assert any("NO_SUCH_KEY" in problem for problem in invalid.value.problems)


def test_a_malformed_body_is_400_and_not_echoed(target: Target) -> None:
    planted = "CONTRACT_BODY_" + "x" * 8
    code, _, body = raw(
        target, "POST", "/v1/access-requests", body=json.dumps({"nonsense": planted}).encode()
    )
    assert code == 400
    assert planted.encode() not in body


def test_no_value_or_token_in_the_servers_logs(target: Target) -> None:
    token = target.token_file(REVIEWED).read_text().strip()
    logged = target.logs()
    assert target.canary.decode() not in logged
    assert token not in logged
