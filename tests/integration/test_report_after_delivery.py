"""The Secret first, the report after: an approved pull request is merged and delivered
before sealgate spends round trips on its check run, comment and labels, and a merge that
fails is still reported."""

from __future__ import annotations

from controller.reconciler import Status
from tests.integration.test_reconciler_world import FULL, OWNER, REPO, Controller, World
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414

REPORTS = ("/check-runs", "/issues/comments", "/labels")


def _is_report(write: str) -> bool:
    return any(part in write for part in REPORTS) or write.endswith("/comments")


def test_nothing_is_reported_between_the_approval_and_the_merge(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(b"report-after-value")
    assert controller.reconciler.handle(FULL, number).status is Status.PENDING
    world.approve("bob", number)
    world.hub.reset_request_log()
    done = controller.reconciler.handle(FULL, number)
    assert done.status is Status.SYNCED, done.messages
    writes = world.github_writes()
    merge = next(i for i, w in enumerate(writes) if w.endswith(f"/pulls/{number}/merge"))
    assert not [w for w in writes[:merge] if _is_report(w)], writes
    # ... and the applied summary follows, with the Secret already in the cluster.
    assert any("/check-runs" in w for w in writes[merge:]), writes
    runs = world.checks(world.head(number), "sealgate")
    assert runs[-1]["output"]["title"].startswith("sealgate: applied")
    assert world.secret() is not None


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
