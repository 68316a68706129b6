"""What one 100-file pull request costs on GitHub, pass by pass.

Counted from the loopback GitHub's request log, every request the controller made (304
answers included); the ``_counted`` figures only those that spent rate-limit budget.

- first pass: the pull request is new; every file is read once;
- second pass: after a review (one that does not count, so the request stays pending);
- expiry sweep: ``Reconciler.expire_and_remind`` over the unchanged pull request.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from tests.integration.test_reconciler_world import BOT, FULL, World, build_world
from tests.security.test_cost_attacks import open_many

FILES = 100


def _take(world: World) -> tuple[float, float]:
    log = [r for r in world.hub.request_log if r.user == BOT]
    world.hub.reset_request_log()
    return float(len(log)), float(sum(r.counted for r in log))


def run() -> dict[str, float]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        world = build_world(Path(tmp))
        controller = world.controller()
        try:
            number = open_many(world, FILES)
            world.hub.reset_request_log()
            controller.reconciler.handle(FULL, number)
            first = _take(world)
            world.approve("erin", number)
            world.hub.reset_request_log()
            controller.reconciler.handle(FULL, number)
            second = _take(world)
            controller.reconciler.expire_and_remind(FULL)
            sweep = _take(world)
        finally:
            controller.close()
            world.hub.stop()
            world.kube.stop()
    return {
        "github_requests_first_pass_100_files": first[0],
        "github_requests_second_pass_100_files": second[0],
        "github_requests_expiry_sweep_100_files": sweep[0],
        "github_counted_requests_first_pass_100_files": first[1],
        "github_counted_requests_second_pass_100_files": second[1],
        "github_counted_requests_expiry_sweep_100_files": sweep[1],
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<50} {value:>8.0f}")
