"""Rate limits, conditional requests, bad tokens and injected faults on the loopback GitHub."""

from __future__ import annotations

import pytest
import requests
from github import (
    Auth,
    BadCredentialsException,
    Github,
    GithubException,
    RateLimitExceededException,
)
from github.GithubRetry import GithubRetry

from tests.integration.github_server_support import FULL, OWNER, REPO, World, client
from tests.integration.github_server_support import github as github  # noqa: PLC0414


def _get(github: World, path: str, login: str = "bob", **headers: str) -> requests.Response:
    auth = {"Authorization": f"token {github.tokens[login]}", **headers}
    return requests.get(f"{github.server.url}{path}", headers=auth, timeout=10)


def test_rate_limit_headers_count_down_and_exhaust(github: World) -> None:
    github.server.set_rate_limit(5, remaining=3)
    first = _get(github, f"/repos/{FULL}")
    assert first.headers["X-RateLimit-Limit"] == "5"
    assert first.headers["X-RateLimit-Remaining"] == "2"
    assert first.headers["X-RateLimit-Used"] == "3"
    assert first.headers["X-RateLimit-Resource"] == "core"
    assert int(first.headers["X-RateLimit-Reset"]) > 0
    # /rate_limit itself is free, as on GitHub.
    overview = _get(github, "/rate_limit")
    assert overview.json()["resources"]["core"]["remaining"] == 2
    assert _get(github, "/rate_limit").headers["X-RateLimit-Remaining"] == "2"
    # Budgets are per caller: alice still has hers.
    assert _get(github, f"/repos/{FULL}", login="alice").headers["X-RateLimit-Remaining"] == "2"
    gh = github.client("bob")
    gh.get_repo(FULL)
    gh.get_repo(FULL)
    with pytest.raises(RateLimitExceededException) as exhausted:
        gh.get_repo(FULL)
    assert exhausted.value.status == 403
    assert exhausted.value.headers is not None
    assert exhausted.value.headers["x-ratelimit-remaining"] == "0"
    counted = [r.counted for r in github.server.request_log if r.user == "bob"]
    assert counted == [True, False, False, True, True, False]


def test_etag_and_last_modified_answer_304_without_spending_budget(github: World) -> None:
    number = github.open_change()
    path = f"/repos/{FULL}/pulls/{number}"
    first = _get(github, path)
    etag = first.headers["ETag"]
    remaining = int(first.headers["X-RateLimit-Remaining"])
    again = _get(github, path, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert int(again.headers["X-RateLimit-Remaining"]) == remaining
    since = _get(github, path, **{"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    # A push changes the pull request, so the old ETag no longer matches.
    github.server.push(OWNER, REPO, "change-1", {"b.txt": b"b\n"}, message="b", author="alice")
    changed = _get(github, path, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert [r.counted for r in github.server.request_log if r.path == path] == [
        True,
        False,
        False,
        True,
    ]


def test_bad_token_is_401(github: World) -> None:
    gh = Github(
        base_url=github.server.url,
        auth=Auth.Token("ghp_not-a-token"),
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    with pytest.raises(BadCredentialsException):
        gh.get_repo(FULL)


def test_injected_server_errors_then_recovery(github: World) -> None:
    github.server.inject_faults(status=502, count=2, path_contains="/pulls")
    number = github.open_change()
    gh = github.client("bob")
    repo = gh.get_repo(FULL)
    for _ in range(2):
        with pytest.raises(GithubException) as failed:
            repo.get_pull(number)
        assert failed.value.status == 502
    assert repo.get_pull(number).number == number
    statuses = [r.status for r in github.server.request_log if "/pulls/" in r.path]
    assert statuses == [502, 502, 200]


def test_retrying_client_rides_out_a_server_error(github: World) -> None:
    github.server.inject_faults(status=503, count=1, path_contains=f"/repos/{FULL}")
    retrying = Github(
        base_url=github.server.url,
        auth=Auth.Token(github.tokens["bob"]),
        retry=GithubRetry(total=3, backoff_factor=0.01),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    assert retrying.get_repo(FULL).name == REPO
    assert [r.status for r in github.server.request_log] == [503, 200]


def test_secondary_rate_limit_with_retry_after(github: World) -> None:
    github.server.inject_faults(status=403, count=1, retry_after=7)
    answer = _get(github, f"/repos/{FULL}")
    assert answer.status_code == 403
    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["message"].startswith("You have exceeded a secondary rate limit")
    gh = client(github.server.url, Auth.Token(github.tokens["bob"]))
    github.server.inject_faults(status=403, count=1, retry_after=1)
    with pytest.raises(RateLimitExceededException):
        gh.get_repo(FULL)
    # Throttled answers do not spend the primary budget.
    assert [r.counted for r in github.server.request_log] == [False, False]


def test_slow_response_still_answers_and_faults_can_be_cleared(github: World) -> None:
    github.server.inject_faults(status=200, count=1, delay_seconds=0.05)
    assert _get(github, f"/repos/{FULL}").status_code == 200
    github.server.inject_faults(status=500, count=5)
    github.server.clear_faults()
    assert _get(github, f"/repos/{FULL}").status_code == 200
    assert [r.status for r in github.server.request_log] == [200, 200]


def test_pygithub_conditional_refresh_uses_the_etag(github: World) -> None:
    number = github.open_change()
    pr = github.client("bob").get_repo(FULL).get_pull(number)
    assert pr.update() is False
    github.server.push(OWNER, REPO, "change-1", {"b.txt": b"b\n"}, message="b", author="alice")
    assert pr.update() is True
    assert pr.changed_files == 2
    refreshes = [(r.status, r.counted) for r in github.server.request_log][-2:]
    assert refreshes == [(304, False), (200, True)]


def test_anonymous_callers_read_but_cannot_write(github: World) -> None:
    number = github.open_change()
    url = f"{github.server.url}/repos/{FULL}/issues/{number}/comments"
    assert requests.get(url, timeout=10).status_code == 200
    refused = requests.post(url, json={"body": "hi"}, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["message"] == "Requires authentication"
    assert requests.get(f"{github.server.url}/nowhere", timeout=10).status_code == 404
    assert _get(github, "/rate_limit").json()["rate"]["limit"] == 5000
    anonymous = requests.get(f"{github.server.url}/rate_limit", timeout=10)
    assert anonymous.headers["X-RateLimit-Limit"] == "60"
