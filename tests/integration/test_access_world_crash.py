"""Access requests end to end, crashes: a controller process killed after merging an
access pull request, or in the middle of recording its grant, and a new process over the
same store that finishes the job (one grant, delivered once, audited once).
"""

from __future__ import annotations

import pytest

from tests.integration.access_world_support import (
    REQUEST_ID,
    AccessWorld,
    access,
    access_yaml,
)
from tests.integration.test_reconciler_world import ENV, OWNER, REPO

__all__ = ["access"]  # the fixture

KILLED = 137


@pytest.mark.parametrize(
    "crashpoint", ["reconciler.after-merge", "grant:commit-written", "grant:ref-updated"]
)
def test_a_crash_while_granting_is_finished_by_the_next_process(
    access: AccessWorld, crashpoint: str
) -> None:
    access.seed()
    number = access.ask(
        {f"access/{ENV}/{REQUEST_ID}.yaml": access_yaml(deliver=("open", "kubernetes"))}
    )
    access.world.approve("bob", number)
    child = access.world.run_child(number, crashpoint)
    assert child.returncode == KILLED, child.stderr.decode(errors="replace")[-2000:]
    assert access.world.hub.pull(OWNER, REPO, number)["merged"] is True

    access.restart()
    assert number in access.poll()
    grant = access.grant()
    assert grant.pull_request == number
    assert access.can_i() == "yes"
    assert access.grant().first_used_at is not None
    approvals = [r for r in access.controller.store.audit_records() if r.event == "grant-approved"]
    assert len(approvals) == 1
    assert access.controller.store.audit_verify().ok
    assert access.endpoint.open(access.token("alice")).status_code == 200
    (sync,) = access.world.checks(access.world.head(number), "sealgate/sync")
    assert sync["conclusion"] == "success"
    assert "sealgate: access active" in access.summary(number)
    # Finished: the next poll takes it only because its grant lives, and writes nothing.
    access.poll()
    assert len(access.world.checks(access.world.head(number), "sealgate/sync")) == 1
