"""GitHub App authentication and check runs on the loopback GitHub, through the real PyGithub."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from github import Auth, GithubException

from tests.integration.github_server_support import (
    FULL,
    OWNER,
    REPO,
    World,
    client,
    rsa_private_key,
)
from tests.integration.github_server_support import github as github  # noqa: PLC0414

APP_ID = 4242
INSTALLATION_ID = 77


@pytest.fixture
def app_key(github: World) -> str:
    private, public = rsa_private_key()
    github.server.register_app(
        APP_ID, "sealgate", public, installation_id=INSTALLATION_ID, owner=OWNER
    )
    return private


def installation_client(github: World, private_key: str) -> Auth.AppInstallationAuth:
    return Auth.AppAuth(APP_ID, private_key).get_installation_auth(INSTALLATION_ID)


def test_installation_token_via_app_jwt(github: World, app_key: str) -> None:
    gh = client(github.server.url, installation_client(github, app_key))
    repo = gh.get_repo(FULL)
    number = github.open_change()
    pr = repo.get_pull(number)
    comment = pr.create_issue_comment("sealgate summary")
    assert comment.user.login == "sealgate[bot]"
    assert comment.performed_via_github_app is not None
    token_calls = [r for r in github.server.request_log if r.path.endswith("/access_tokens")]
    assert [(r.status, r.user) for r in token_calls] == [(201, f"app:{APP_ID}")]
    expires = token_calls[0].body["expires_at"]
    assert expires.endswith("Z")


def test_repository_installation_lookup_with_the_app_jwt(github: World, app_key: str) -> None:
    token = Auth.AppAuth(APP_ID, app_key).create_jwt()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
    found = requests.get(
        f"{github.server.url}/repos/{FULL}/installation", headers=headers, timeout=10
    )
    assert found.status_code == 200
    assert (found.json()["id"], found.json()["app_slug"]) == (INSTALLATION_ID, "sealgate")


def test_app_jwt_signed_by_another_key_is_refused(github: World, app_key: str) -> None:
    other_private, _ = rsa_private_key("stranger")
    now = int(time.time())
    forged = jwt.encode(
        {"iat": now - 60, "exp": now + 300, "iss": str(APP_ID)}, other_private, algorithm="RS256"
    )
    url = f"{github.server.url}/app/installations/{INSTALLATION_ID}/access_tokens"
    refused = requests.post(url, headers={"Authorization": f"Bearer {forged}"}, timeout=10)
    assert refused.status_code == 401
    expired = jwt.encode(
        {"iat": now - 1200, "exp": now - 600, "iss": str(APP_ID)}, app_key, algorithm="RS256"
    )
    late = requests.post(url, headers={"Authorization": f"Bearer {expired}"}, timeout=10)
    assert late.status_code == 401
    personal = requests.post(
        url, headers={"Authorization": f"token {github.tokens['alice']}"}, timeout=10
    )
    assert personal.status_code == 401


def test_check_runs_create_update_list(github: World, app_key: str) -> None:
    number = github.open_change()
    head = github.server.pull(OWNER, REPO, number)["head"]["sha"]
    repo = client(github.server.url, installation_client(github, app_key)).get_repo(FULL)
    run = repo.create_check_run(
        name="sealgate",
        head_sha=head,
        status="in_progress",
        output={"title": "Pending", "summary": "1 of 2 approvals", "text": "| a | b |"},
    )
    assert run.raw_data["conclusion"] is None
    assert (run.status, run.app.slug) == ("in_progress", "sealgate")
    assert [p.number for p in run.pull_requests] == [number]
    run.edit(conclusion="success", output={"title": "Approved", "summary": "2 of 2"})
    listed = list(repo.get_commit(head).get_check_runs(check_name="sealgate"))
    assert [(r.id, r.status, r.conclusion) for r in listed] == [(run.id, "completed", "success")]
    assert listed[0].output.title == "Approved"
    stored = github.server.check_runs(OWNER, REPO, head)
    assert [(c["name"], c["conclusion"]) for c in stored] == [("sealgate", "success")]
    # A second run of the same name: the latest wins unless all are asked for.
    repo.create_check_run(name="sealgate", head_sha=head, status="queued")
    assert [r.status for r in repo.get_commit(head).get_check_runs()] == ["queued"]
    assert len(list(repo.get_commit(head).get_check_runs(filter="all"))) == 2


def test_check_runs_need_a_github_app(github: World) -> None:
    number = github.open_change()
    head = github.server.pull(OWNER, REPO, number)["head"]["sha"]
    repo = github.client("carol").get_repo(FULL)
    with pytest.raises(GithubException) as refused:
        repo.create_check_run(name="sealgate", head_sha=head)
    assert refused.value.status == 403


def test_short_lived_installation_tokens_are_refreshed_and_expired_ones_refused(
    github: World, app_key: str
) -> None:
    # PyGithub renews a token 20 s before it expires, so a 10 s token is renewed every call.
    github.server.set_installation_token_lifetime(10)
    repo = client(github.server.url, installation_client(github, app_key)).get_repo(FULL)
    files = repo.get_pull(github.open_change()).get_files()
    assert [f.filename for f in files] == ["changes/production/c1.yaml"]
    token_calls = [r for r in github.server.request_log if r.path.endswith("/access_tokens")]
    assert len(token_calls) >= 2
    github.server.set_installation_token_lifetime(0)
    jwt_token = Auth.AppAuth(APP_ID, app_key).create_jwt()
    url = f"{github.server.url}/app/installations/{INSTALLATION_ID}/access_tokens"
    issued = requests.post(url, headers={"Authorization": f"Bearer {jwt_token}"}, timeout=10)
    stale = issued.json()["token"]
    refused = requests.get(
        f"{github.server.url}/repos/{FULL}",
        headers={"Authorization": f"token {stale}"},
        timeout=10,
    )
    assert refused.status_code == 401
    assert refused.json()["message"] == "Bad credentials"
