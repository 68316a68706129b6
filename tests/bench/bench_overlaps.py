"""What naming the other open pull requests on the same keys costs on GitHub.

Two open pull requests, counted from the loopback GitHub's request log over three poll
cycles (``work_items`` then ``handle`` of each item), once with the two on different secrets
and once on the same key. The overlap map is filled from the passes the reconciler makes
anyway; its only cost is one more pass over a pull request whose rivals changed (the
second poll below), never a request per pull request per pass.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from tests.integration.test_reconciler_world import BOT, FULL, NAMESPACE, SECRET, build_world


def _polls(overlap: bool) -> list[tuple[int, int]]:
    with tempfile.TemporaryDirectory(prefix="bench-overlaps-") as tmp:
        world = build_world(Path(tmp))
        controller = world.controller()
        try:
            world.open_pull(b"first-value-0123456789")
            other = f"{NAMESPACE}/{SECRET}" if overlap else f"{NAMESPACE}/other"
            world.open_pull(b"second-value-0123456789", secret=other)
            world.hub.reset_request_log()
            counts: list[tuple[int, int]] = []
            for _ in range(3):
                for number in controller.reconciler.work_items(FULL):
                    controller.reconciler.handle(FULL, number)
                log = [r for r in world.hub.request_log if r.user == BOT]
                world.hub.reset_request_log()
                counts.append((len(log), sum(r.counted for r in log)))
            return counts
        finally:
            controller.close()
            world.hub.stop()
            world.kube.stop()


def run() -> dict[str, float]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    figures: dict[str, float] = {}
    for name, overlap in (("apart", False), ("same_key", True)):
        for poll, (requests, counted) in enumerate(_polls(overlap), start=1):
            figures[f"github_requests_two_prs_{name}_poll{poll}"] = float(requests)
            figures[f"github_counted_requests_two_prs_{name}_poll{poll}"] = float(counted)
    return figures


if __name__ == "__main__":
    for figure, value in run().items():
        print(f"{figure:<50} {value:>8.0f}")
