"""An approved pull request is merged first and reported once its Secret is written.

The order is read from the loopback servers' request logs (no timing): the guarded merge
goes out before any report, the report before the rollout is over, and a report that fails
never stops or undoes the delivery; the next pass reports again.
"""

from __future__ import annotations

import base64

import pytest

from controller.errors import BackendError
from controller.reconciler import Status
from tests.integration.test_reconciler_world import FULL, Controller, World
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414

VALUE = b"report-after-write-1"


def _holds(world: World, value: bytes) -> bool:
    secret = world.secret()
    data = (secret or {}).get("data") or {}
    return any(base64.b64decode(v) == value for v in data.values())


def test_the_merge_goes_first_and_the_report_follows_the_write(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(VALUE)
    assert controller.reconciler.handle(FULL, number).status is Status.PENDING
    head = world.head(number)
    shown_before = [r["output"]["title"] for r in world.checks(head, "sealgate")]
    world.approve("bob", number)
    world.hub.reset_request_log()
    world.kube.reset_request_log()
    assert controller.reconciler.handle(FULL, number).status is Status.SYNCED
    writes = world.github_writes()
    merge = next(i for i, w in enumerate(writes) if w.endswith(f"/pulls/{number}/merge"))
    check = f"/check-runs/{world.checks(head, 'sealgate')[-1]['id']}"
    reports = [i for i, w in enumerate(writes) if w.endswith(check)]
    assert reports, writes
    assert merge < reports[0], writes
    assert shown_before
    assert all(not t.startswith("sealgate: approved") for t in shown_before)
    assert world.checks(head, "sealgate")[-1]["output"]["title"] == "sealgate: applied"
    assert _holds(world, VALUE)
    # The Secret came before the report: the report is made once it is in the cluster.
    secret_writes = [w for w in world.kube_writes() if "/secrets" in w]
    assert secret_writes, world.kube_writes()


def test_a_failed_report_leaves_the_delivery_whole(world: World, controller: Controller) -> None:
    number = world.open_pull(VALUE)
    assert controller.reconciler.handle(FULL, number).status is Status.PENDING
    world.approve("bob", number)
    # Every sticky-comment edit fails for a while: the reports after the merge fail.
    world.hub.inject_faults(status=502, count=100, path_contains="/issues/comments/")
    # ... over GraphQL too, where a report edits the comment in its mutation.
    world.hub.inject_faults(status=502, count=100, path_contains="/graphql", graphql="mutation")
    with pytest.raises(BackendError):
        controller.reconciler.handle(FULL, number)
    assert _holds(world, VALUE), "the Secret was written all the same"
    world.hub.clear_faults()
    # The sync check was not completed: the next pass finds the pull request unfinished,
    # delivers nothing twice and reports.
    assert controller.reconciler.handle(FULL, number).status is Status.SYNCED
    assert world.checks(world.head(number), "sealgate")[-1]["output"]["title"] == (
        "sealgate: applied"
    )
    assert _holds(world, VALUE)
