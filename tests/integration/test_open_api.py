"""``POST /v1/open`` on a real loopback server, callers identified by the loopback GitHub's
``GET /user`` through PyGithub; and ``sealgate open``/``exec`` against it.

A planted value must never appear in a log line, an error body, a refusal or an audit record.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from werkzeug.test import Client
from werkzeug.wrappers import Request

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from controller.crypto.caller_box import (
    caller_public_text,
    new_caller_key,
    new_request_nonce,
    open_for_caller,
)
from controller.github.identity import GitHubIdentities
from controller.model import SecretAccess
from controller.reconciler.access_open import AccessOpener
from controller.run.metrics import Metrics
from controller.server.access_api import OpenApi
from controller.server.app import ControllerApp, Readiness
from controller.server.http import HttpServer
from controller.server.webhook_app import WebhookApp
from tests.integration.github_server_support import World
from tests.integration.github_server_support import github as github  # noqa: PLC0414
from tests.unit.access_fakes import CANARY, Clock, FakeGrants, FakeSecrets, grant, stripe_secrets
from tests.unit.cli_support import check_schema, sealgate_process

SECRET = "payments/stripe"


class Ticks:
    """A monotonic clock that only moves when told (rate-limit refills)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Opening:
    url: str
    github: World
    grants: FakeGrants
    secrets: FakeSecrets
    metrics: Metrics
    app: ControllerApp
    readiness: Readiness
    ticks: Ticks

    def token(self, login: str) -> str:
        return self.github.tokens[login]

    def post(self, body: Any, token: str | None = None, **headers: str) -> requests.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return requests.post(
            f"{self.url}/v1/open",
            data=data,
            headers={"Content-Type": "application/json", **headers},
            timeout=10,
        )


def _app(
    github: World,
    *,
    grants: FakeGrants,
    secrets: FakeSecrets,
    metrics: Metrics,
    readiness: Readiness,
    ticks: Ticks,
    rate: int = 1000,
    enabled: bool = True,
) -> ControllerApp:
    api = OpenApi(
        identities=GitHubIdentities(github.server.url),
        opener=AccessOpener(grants, secrets, clock=Clock(), observer=metrics),
        rate_per_minute=rate,
        clock=ticks,
    )
    return ControllerApp(
        webhooks=WebhookApp(b"s", queue.Queue()),
        readiness=readiness,
        metrics=metrics.render,
        metrics_content_type=metrics.content_type,
        status=lambda repo, number: None,
        open_api=api if enabled else None,
    )


def _parts(**given: Any) -> dict[str, Any]:
    parts: dict[str, Any] = {
        "grants": FakeGrants(),
        "secrets": stripe_secrets(),
        "metrics": Metrics(),
        "readiness": Readiness(),
        "ticks": Ticks(),
    }
    return {**parts, **given}


@pytest.fixture
def opening(github: World) -> Iterator[Opening]:
    github.tokens["dev1"] = github.server.add_user("dev1")
    grants = FakeGrants(
        grant(7, requester="dev1"),
        grant(8, requester="alice", secrets=(SecretAccess(SECRET, ("PUBLISHABLE",)),)),
    )
    secrets, metrics, readiness, ticks = stripe_secrets(), Metrics(), Readiness(), Ticks()
    app = _app(
        github, grants=grants, secrets=secrets, metrics=metrics, readiness=readiness, ticks=ticks
    )
    server = HttpServer("127.0.0.1", 0, app)
    server.start()
    try:
        yield Opening(server.url, github, grants, secrets, metrics, app, readiness, ticks)
    finally:
        server.stop()


def _request(**extra: Any) -> tuple[Any, dict[str, Any]]:
    key = new_caller_key()
    body = {
        "environment": "production",
        "secret": SECRET,
        "publicKey": caller_public_text(key),
        "nonce": new_request_nonce(),
        **extra,
    }
    return key, body


def _open(key: Any, body: dict[str, Any], answer: dict[str, Any]) -> dict[str, bytes]:
    return open_for_caller(
        answer["sealed"],
        key,
        grant_id=answer["grant"],
        environment=body["environment"],
        secret=body["secret"],
        nonce=answer["nonce"],
    )


def _no_canary(*texts: str) -> None:
    for text in texts:
        assert CANARY not in text
        assert "whsec_CANARY" not in text


def test_open_hands_out_sealed_values(opening: Opening, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key, body = _request()
    response = opening.post(body, opening.token("dev1"))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["grant"] == "production-pr-7-incident"
    assert answer["endsAt"].endswith("Z")
    assert answer["keys"] == ["API_KEY", "PUBLISHABLE", "WEBHOOK_SECRET"]
    assert response.headers["Cache-Control"] == "no-store"
    assert _open(key, body, answer)["API_KEY"] == CANARY.encode()
    _no_canary(response.text, caplog.text, repr(opening.grants.audit))
    assert opening.token("dev1") not in caplog.text
    assert 'sealgate_access_opens_total{environment="production"} 1.0' in (
        opening.metrics.render().decode()
    )


def test_another_persons_key_filter(opening: Opening) -> None:
    key, body = _request(keys=["PUBLISHABLE"])
    response = opening.post(body, opening.token("alice"))
    assert response.status_code == 200, response.text
    assert _open(key, body, response.json()) == {"PUBLISHABLE": b"pk_live_public"}
    _key, body = _request(keys=["API_KEY"])
    refused = opening.post(body, opening.token("alice"))
    assert refused.status_code == 403
    assert refused.json()["reason"] == "key-not-granted"
    _no_canary(refused.text)


def test_unknown_secret_and_no_grant_answer_alike(opening: Opening) -> None:
    answers = []
    for secret in ("payments/db", "payments/no-such-secret"):
        _key, body = _request(secret=secret)
        response = opening.post(body, opening.token("bob"))
        assert response.status_code == 403
        answers.append(response.json())
    assert answers[0]["reason"] == answers[1]["reason"] == "no-grant"
    assert answers[0]["message"].replace("db", "X") == answers[1]["message"].replace(
        "no-such-secret", "X"
    )
    assert opening.grants.refusals() == ["no-grant", "no-grant"]
    _no_canary(repr(opening.grants.audit))


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Basic Zm9vOmJhcg==", "Bearer ", "Bearer ghp_not_a_known_token", "Bearer a b"],
)
def test_unauthenticated(
    opening: Opening, authorization: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _key, body = _request()
    headers = {} if authorization is None else {"Authorization": authorization}
    response = opening.post(body, **headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "ghp_not_a_known_token" not in response.text + caplog.text
    assert opening.grants.audit == []


def test_github_down_is_503_not_401(opening: Opening) -> None:
    opening.github.server.inject_faults(status=502, count=5, path_contains="/user")
    _key, body = _request()
    response = opening.post(body, opening.token("carol"))
    assert response.status_code == 503
    assert response.headers["Retry-After"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json " + CANARY.encode(),
        b"[1, 2]",
        {"environment": "production", "secret": SECRET},
        {"environment": "Prod " + CANARY, "secret": SECRET, "publicKey": "x"},
        {"environment": "production", "secret": CANARY, "publicKey": "x"},
        {"environment": "production", "secret": SECRET, "publicKey": CANARY},
        {"environment": "production", "secret": SECRET, "publicKey": "x", "keys": [CANARY + "="]},
        {"environment": "production", "secret": SECRET, "publicKey": "x", "keys": "API_KEY"},
        {"environment": "production", "secret": SECRET, "publicKey": "x", CANARY: 1},
        {"environment": "production", "secret": SECRET, "publicKey": "x", "nonce": CANARY + "!"},
        b"{" + b" " * 20000 + b"}",
        b"[" * 15000,
        b"\xff\xfe not utf-8",
        {"environment": "production", "secret": SECRET, "publicKey": "x", "keys": ["A"] * 300},
    ],
)
def test_bad_body_is_400_and_never_echoed(
    opening: Opening, body: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    if isinstance(body, dict) and body.get("publicKey") == "x":
        body["publicKey"] = caller_public_text(new_caller_key())
    response = opening.post(body, opening.token("dev1"))
    assert response.status_code == 400, response.text
    assert response.json()["message"]
    assert "CANARY" not in response.text + caplog.text
    assert opening.grants.audit == []


def test_disabled_is_an_unknown_path(github: World) -> None:
    app = _app(github, **_parts(), enabled=False)
    client = Client(app)
    for method in ("POST", "GET"):
        response = client.open("/v1/open", method=method)
        assert response.status_code == 404
        assert response.get_json() == {"message": "not found"}


def test_standby_does_not_open(opening: Opening) -> None:
    opening.readiness.set(leader=False)
    _key, body = _request()
    response = opening.post(body, opening.token("dev1"))
    assert response.status_code == 503
    assert opening.grants.audit == []


def test_rate_limited_per_address_before_authentication(github: World) -> None:
    ticks = Ticks()
    app = _app(github, **_parts(ticks=ticks), rate=3)
    client = Client(app)
    github.server.reset_request_log()
    statuses = [
        client.post("/v1/open", headers={"Authorization": "Bearer wrong"}).status_code
        for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]
    asked = [r for r in github.server.request_log if r.path == "/user"]
    assert len(asked) <= 3  # refused tokens may be remembered; never asked past the limit
    limited = client.post("/v1/open", headers={"Authorization": "Bearer wrong"})
    assert int(limited.headers["Retry-After"]) >= 1
    ticks.now += 60
    assert client.post("/v1/open").status_code == 401


def test_rate_limited_per_login_from_any_address(github: World) -> None:
    ticks = Ticks()
    grants = FakeGrants(grant(7, requester="alice"))
    app = _app(github, **_parts(grants=grants, ticks=ticks), rate=2)
    client = Client(app)
    statuses = []
    for number in range(4):
        _key, body = _request()
        response = client.post(
            "/v1/open",
            json=body,
            headers={"Authorization": f"Bearer {github.tokens['alice']}"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{number}"},
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 429, 429]


def test_identity_is_cached_by_token_digest(github: World) -> None:
    ticks = Ticks()
    identities = GitHubIdentities(github.server.url, ttl_s=60, clock=ticks)
    github.server.reset_request_log()
    assert identities.login_of(github.tokens["bob"]) == "bob"
    assert identities.login_of(github.tokens["bob"]) == "bob"
    assert [r.path for r in github.server.request_log] == ["/user"]
    ticks.now += 61
    assert identities.login_of(github.tokens["bob"]) == "bob"
    assert len(github.server.request_log) == 2
    assert github.tokens["bob"] not in repr(identities.__dict__)


# --------------------------------------------------------------------------- the CLI


def _cli(opening: Opening, *args: str, token: str | None = None) -> Any:
    env = {"SEALGATE_API": opening.url, "GITHUB_TOKEN": token or opening.token("dev1")}
    return CliRunner(env=env).invoke(main, list(args))


def test_cli_open_formats(opening: Opening) -> None:
    as_env = _cli(opening, "open", "production/payments/stripe", "--key", "API_KEY")
    assert as_env.exit_code == 0, as_env.output
    assert as_env.stdout == f"export API_KEY='{CANARY}'\n"
    dotenv = _cli(opening, "open", "production/payments/stripe", "-o", "dotenv")
    assert f'API_KEY="{CANARY}"\n' in dotenv.stdout
    as_json = _cli(opening, "open", "production/payments/stripe", "-o", "json")
    document = json.loads(as_json.stdout)
    check_schema("open.schema.json", document)
    assert document["grant"] == "production-pr-7-incident"
    assert document["values"]["WEBHOOK_SECRET"] == "whsec_CANARY_b2"


def test_cli_open_refused_and_unauthenticated(opening: Opening) -> None:
    refused = _cli(opening, "open", "production/payments/db")
    assert refused.exit_code == ExitCode.FORBIDDEN
    assert "no-grant" in refused.stderr
    assert refused.stdout == ""
    bad = _cli(opening, "open", "production/payments/stripe", token="ghp_wrong")
    assert bad.exit_code == ExitCode.UNAUTHENTICATED
    assert "ghp_wrong" not in bad.output


def test_cli_token_command(opening: Opening) -> None:
    command = f"{sys.executable} -c \"print('{opening.token('dev1')}')\""
    result = CliRunner(env={"SEALGATE_API": opening.url, "GITHUB_TOKEN": ""}).invoke(
        main,
        ["open", "production/payments/stripe", "--key", "PUBLISHABLE", "--token-command", command],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "export PUBLISHABLE='pk_live_public'\n"


def test_cli_exec_gives_values_to_the_child_only(opening: Opening) -> None:
    check = (
        "import os, sys; "
        f"sys.exit(42 if os.environ.get('API_KEY') == {CANARY!r} "
        "and 'WEBHOOK_SECRET' in os.environ else 3)"
    )
    env = {**os.environ, "SEALGATE_API": opening.url, "GITHUB_TOKEN": opening.token("dev1")}
    process = sealgate_process(
        "exec",
        "production/payments/stripe",
        "--",
        sys.executable,
        "-c",
        check,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = process.communicate(timeout=60)
    assert process.returncode == 42, err.decode()
    _no_canary(out.decode(), err.decode())


def test_cli_exec_refused_runs_nothing(opening: Opening, tmp_path: Any) -> None:
    marker = tmp_path / "ran"
    env = {**os.environ, "SEALGATE_API": opening.url, "GITHUB_TOKEN": opening.token("dev1")}
    process = sealgate_process(
        "exec",
        "production/payments/db",
        "--",
        sys.executable,
        "-c",
        f"open({str(marker)!r}, 'w')",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _out, err = process.communicate(timeout=60)
    assert process.returncode == ExitCode.FORBIDDEN
    assert b"no-grant" in err
    assert not marker.exists()


def test_cli_binary_value_needs_json(opening: Opening) -> None:
    opening.secrets.table = {
        **opening.secrets.table,
        "production/payments/stripe": {"CERT": b"\xff\x00\xfe"},
    }
    as_env = _cli(opening, "open", "production/payments/stripe")
    assert as_env.exit_code == ExitCode.ERROR
    assert "-o json" in as_env.stderr
    as_json = _cli(opening, "open", "production/payments/stripe", "-o", "json")
    document = json.loads(as_json.stdout)
    check_schema("open.schema.json", document)
    assert base64.b64decode(document["valuesBase64"]["CERT"]) == b"\xff\x00\xfe"


PLANTED = f"STRIPE_KEY={CANARY}"


@pytest.mark.parametrize("command", ["open", "exec"])
@pytest.mark.parametrize(
    "slot", ["PATH", "--key", "--api", "--token-command", "-o", "--output", "COMMAND"]
)
def test_no_argument_slot_echoes_a_planted_value(opening: Opening, command: str, slot: str) -> None:
    if command == "open" and slot == "COMMAND":
        return
    if command == "exec" and slot in ("-o", "--output"):
        return
    path = "production/payments/stripe"
    args = [command, path]
    if slot == "PATH":
        args = [command, PLANTED]
    elif slot != "COMMAND":
        args += [slot, PLANTED]
    if command == "exec":
        args += ["--", PLANTED if slot == "COMMAND" else sys.executable, "-c", "pass"]
    env = {"SEALGATE_API": opening.url, "GITHUB_TOKEN": opening.token("dev1")}
    result = CliRunner(env=env).invoke(main, args)
    assert result.exit_code != 0, (slot, result.output)
    assert "STRIPE_KEY" not in result.output, (slot, result.output)
    assert CANARY not in result.output, (slot, result.output)


class _Broken:
    def open(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("store object lacks grants")


def test_an_unexpected_failure_is_a_bare_500(
    github: World, caplog: pytest.LogCaptureFixture
) -> None:
    api = OpenApi(
        identities=GitHubIdentities(github.server.url), opener=_Broken(), rate_per_minute=10
    )
    _key, body = _request()

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        return api.handle(Request(environ))(environ, start_response)

    response = Client(wsgi).post(
        "/v1/open", json=body, headers={"Authorization": f"Bearer {github.tokens['alice']}"}
    )
    assert response.status_code == 500
    assert "lacks" not in response.get_data(as_text=True)
    assert "store object lacks grants" in caplog.text


def test_a_chunked_body_is_bounded(opening: Opening) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"environment": "'
        for _ in range(100):
            yield b"a" * 1024
        yield b'"}'

    response = requests.post(
        f"{opening.url}/v1/open",
        data=chunks(),
        headers={"Authorization": f"Bearer {opening.token('dev1')}"},
        timeout=10,
    )
    # Read no further than the bound: the truncated body is not an open request.
    assert response.status_code == 400
