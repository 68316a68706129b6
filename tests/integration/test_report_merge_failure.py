"""A merge that fails leaves the pull request reported as approved, not as pending."""

from __future__ import annotations

from controller.reconciler import Status
from tests.integration.test_reconciler_world import FULL, OWNER, REPO, Controller, World
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414


def test_a_merge_that_fails_is_still_reported(world: World, controller: Controller) -> None:
    number = world.open_pull(b"report-after-value-2")
    assert controller.reconciler.handle(FULL, number).status is Status.PENDING
    world.approve("bob", number)
    world.hub.inject_faults(status=405, count=1, path_contains=f"/pulls/{number}/merge")
    done = controller.reconciler.handle(FULL, number)
    assert done.status is not Status.SYNCED
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    runs = world.checks(world.head(number), "sealgate")
    assert runs[-1]["output"]["title"].startswith("sealgate: approved"), runs[-1]["output"]
