"""The loopback GitHub's requested reviewers, driven through PyGithub as GitHub answers them.

Every JSON answer is checked against GitHub's description by the `github` fixture.
"""

from __future__ import annotations

import pytest
from github import GithubException

from tests.integration.github_server_support import FULL, OWNER, REPO, World
from tests.integration.github_server_support import github as github  # noqa: PLC0414


def _requested(github: World, number: int) -> tuple[list[str], list[str]]:
    pr = github.client("carol").get_repo(FULL).get_pull(number)
    users, teams = pr.get_review_requests()
    return sorted(u.login for u in users), sorted(t.slug for t in teams)


def test_request_list_and_remove_reviewers_and_teams(github: World) -> None:
    number = github.open_change()
    pr = github.client("alice").get_repo(FULL).get_pull(number)
    pr.create_review_request(reviewers=["bob"], team_reviewers=["approvers"])
    pr.create_review_request(reviewers=["bob", "carol"])  # asking again adds nothing
    assert _requested(github, number) == (["bob", "carol"], ["approvers"])
    shown = github.server.pull(OWNER, REPO, number)
    assert [u["login"] for u in shown["requested_reviewers"]] == ["bob", "carol"]
    assert [t["slug"] for t in shown["requested_teams"]] == ["approvers"]

    pr.delete_review_request(reviewers=["carol"], team_reviewers=["approvers"])
    assert _requested(github, number) == (["bob"], [])


def test_a_review_removes_its_author_from_the_requested_reviewers(github: World) -> None:
    number = github.open_change()
    github.client("alice").get_repo(FULL).get_pull(number).create_review_request(
        reviewers=["bob", "carol"]
    )
    github.client("bob").get_repo(FULL).get_pull(number).create_review(event="APPROVE")
    assert _requested(github, number) == (["carol"], [])


@pytest.mark.parametrize(
    ("reviewers", "teams", "message"),
    [
        (["alice"], [], "Review cannot be requested from pull request author."),
        (["nobody-here"], [], "is not a collaborator"),
        (["bob"], ["no-such-team"], "is not a collaborator"),
    ],
)
def test_github_refuses_the_author_strangers_and_unknown_teams_and_adds_nothing(
    github: World, reviewers: list[str], teams: list[str], message: str
) -> None:
    number = github.open_change()
    pr = github.client("carol").get_repo(FULL).get_pull(number)
    with pytest.raises(GithubException) as refused:
        pr.create_review_request(reviewers=reviewers, team_reviewers=teams)
    assert refused.value.status == 422
    assert message in str(refused.value.data)
    assert _requested(github, number) == ([], [])


def test_asking_for_reviews_needs_the_triage_role(github: World) -> None:
    number = github.open_change()
    github.tokens["erin"] = github.server.add_user("erin")  # no role on the repository
    pr = github.client("erin").get_repo(FULL).get_pull(number)
    with pytest.raises(GithubException) as refused:
        pr.create_review_request(reviewers=["bob"])
    assert refused.value.status == 403
    github.client("dave").get_repo(FULL).get_pull(number).create_review_request(["bob"])
    assert _requested(github, number) == (["bob"], [])
