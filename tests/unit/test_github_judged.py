"""Which pull requests are judged at all: the accepted base branches and forks."""

from __future__ import annotations

from controller.github.judged import not_judged

REPO = "acme/requests"


def test_a_pull_request_into_the_accepted_branch_from_the_repository_is_judged() -> None:
    assert (
        not_judged(
            REPO, head_repo="Acme/Requests", base_ref="main", branches=("main",), allow_forks=False
        )
        is None
    )


def test_another_base_branch_is_not_judged_and_the_message_names_the_fix() -> None:
    message = not_judged(
        REPO, head_repo=REPO, base_ref="scratch", branches=("main",), allow_forks=True
    )
    assert message is not None
    assert "targets branch 'scratch'" in message
    assert "'main'" in message
    assert "github.branches" in message


def test_a_configured_branch_is_judged() -> None:
    assert (
        not_judged(
            REPO,
            head_repo=REPO,
            base_ref="release",
            branches=("main", "release"),
            allow_forks=False,
        )
        is None
    )


def test_forks_are_refused_unless_allowed_and_a_deleted_fork_always() -> None:
    fork = not_judged(
        REPO, head_repo="mallory/requests", base_ref="main", branches=("main",), allow_forks=False
    )
    assert fork is not None
    assert "fork mallory/requests" in fork
    assert (
        not_judged(
            REPO,
            head_repo="mallory/requests",
            base_ref="main",
            branches=("main",),
            allow_forks=True,
        )
        is None
    )
    deleted = not_judged(
        REPO, head_repo=None, base_ref="main", branches=("main",), allow_forks=True
    )
    assert deleted is not None
    assert "deleted" in deleted
