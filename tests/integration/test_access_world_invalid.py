"""Access requests end to end, the invalid ones: mixed with governance files or with a
change in one pull request, or asked on behalf of someone else. Each is reported invalid on
its check run (naming the file and what to do), is never merged, even when approved, and
grants nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.reconciler import Status
from tests.integration.access_world_support import (
    REQUEST_ID,
    AccessWorld,
    access,
    access_yaml,
)
from tests.integration.test_access_flow import ACCESS_POLICY
from tests.integration.test_reconciler_world import ENV, FULL, OWNER, REPO

__all__ = ["access"]  # the fixture

REQUEST_FILE = f"access/{ENV}/{REQUEST_ID}.yaml"


def _refused(access: AccessWorld, files: Mapping[str, bytes | None], *, author: str) -> str:
    """Open, approve and handle; assert nothing happened; the check run's summary."""
    access.seed()
    commits = access.world.store_commits()
    number = access.ask(files, author=author)
    approver = "carol" if author == "bob" else "bob"
    access.world.approve(approver, number)
    status = access.controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID, status.messages
    assert access.controller.reconciler.handle(FULL, number).status is Status.INVALID
    assert access.world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert access.controller.store.grants() == []
    assert access.world.store_commits() == commits
    assert access.bindings() == []
    (check,) = access.world.checks(access.world.head(number), "sealgate")
    assert check["conclusion"] == "failure", check
    return str(check["output"]["summary"])


def test_access_with_a_policy_change_is_invalid(access: AccessWorld) -> None:
    widened = ACCESS_POLICY.replace(b"maxDuration: 1d", b"maxDuration: 30d")
    summary = _refused(
        access,
        {REQUEST_FILE: access_yaml(duration="20d"), "policies/production.yaml": widened},
        author="alice",
    )
    assert (
        f"(policies/production.yaml) and asks for access ({REQUEST_FILE}) together; split it"
        in summary
    ), summary


def test_access_with_a_change_is_invalid(access: AccessWorld) -> None:
    files = {
        REQUEST_FILE: access_yaml(),
        f"changes/{ENV}/mixed.yaml": access.world.change_yaml("mixed", b"other-value"),
    }
    summary = _refused(access, files, author="alice")
    assert (
        f"asks for access ({REQUEST_FILE}) and changes secrets under changes/ together; split"
        in summary
    ), summary


def test_access_asked_for_another_person_is_invalid(access: AccessWorld) -> None:
    # bob opens a request naming alice: alice never asked.
    summary = _refused(access, {REQUEST_FILE: access_yaml(requester="alice")}, author="bob")
    assert (
        f"{REQUEST_FILE}: spec.requester: 'alice' is not the author of the pull request (bob)"
        in summary
    ), summary
