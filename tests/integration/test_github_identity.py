"""``GitHubIdentities``: a person's token checked with ``GET /user`` on the loopback GitHub,
through PyGithub. Refused tokens and outages are told apart, neither is remembered for long,
and the token never shows in a message or a log line."""

from __future__ import annotations

import logging
import socket

import pytest
from github import Auth

from controller.errors import GitHubError, Unauthenticated
from controller.github.identity import REFUSED_TTL_S, GitHubIdentities
from tests.integration.github_server_support import OWNER, World, client, rsa_private_key
from tests.integration.github_server_support import github as github  # noqa: PLC0414

APP_ID = 4243
INSTALLATION_ID = 78


class Ticks:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def _user_calls(github: World) -> int:
    return sum(1 for record in github.server.request_log if record.path == "/user")


def test_a_refused_token_is_remembered_briefly(
    github: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ticks = Ticks()
    identities = GitHubIdentities(github.server.url, clock=ticks)
    token = "ghp_CANARYnotAToken000"
    for _ in range(3):
        with pytest.raises(Unauthenticated) as caught:
            identities.login_of(token)
        assert token not in str(caught.value)
    assert _user_calls(github) == 1
    ticks.now += REFUSED_TTL_S + 0.1
    with pytest.raises(Unauthenticated):
        identities.login_of(token)
    assert _user_calls(github) == 2
    assert token not in caplog.text


def test_an_outage_is_retryable_and_not_remembered(github: World) -> None:
    identities = GitHubIdentities(github.server.url, clock=Ticks())
    github.server.inject_faults(status=503, count=1, path_contains="/user")
    with pytest.raises(GitHubError) as caught:
        identities.login_of(github.tokens["carol"])
    assert caught.value.retryable
    assert github.tokens["carol"] not in str(caught.value)
    assert identities.login_of(github.tokens["carol"]) == "carol"


def test_unreachable_github_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    identities = GitHubIdentities(f"http://127.0.0.1:{port}", timeout_s=2)
    with pytest.raises(GitHubError) as caught:
        identities.login_of("ghp_whatever_token_1234")
    assert caught.value.retryable
    assert "ghp_whatever" not in str(caught.value)


def test_an_app_installation_token_is_not_a_person(github: World) -> None:
    private, public = rsa_private_key()
    github.server.register_app(
        APP_ID, "other-app", public, installation_id=INSTALLATION_ID, owner=OWNER
    )
    installation = Auth.AppAuth(APP_ID, private).get_installation_auth(INSTALLATION_ID)
    gh = client(github.server.url, installation)
    token = gh.requester.auth.token  # type: ignore[union-attr]
    with pytest.raises(Unauthenticated):
        GitHubIdentities(github.server.url).login_of(token)


@pytest.mark.parametrize("token", ["", "a b", "tab\there", "x" * 600, "new\nline"])
def test_a_token_that_cannot_be_one_is_refused_without_asking(github: World, token: str) -> None:
    github.server.reset_request_log()
    with pytest.raises(Unauthenticated):
        GitHubIdentities(github.server.url).login_of(token)
    assert _user_calls(github) == 0


def test_the_cache_is_bounded(github: World) -> None:
    identities = GitHubIdentities(github.server.url, clock=Ticks(), max_entries=2)
    for login in ("alice", "bob", "carol"):
        assert identities.login_of(github.tokens[login]) == login
    github.server.reset_request_log()
    assert identities.login_of(github.tokens["carol"]) == "carol"
    assert _user_calls(github) == 0
    assert identities.login_of(github.tokens["alice"]) == "alice"  # dropped first
    assert _user_calls(github) == 1
