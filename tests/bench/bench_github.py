"""GitHub figures: requests per decision, idle-poll cost, and webhook-to-check-run latency.

``github_requests_per_review_decision`` counts every request the controller made after one
review event (304 answers included); ``github_counted_requests_per_review_decision`` only
those that spent rate-limit budget.

Everything runs on loopback: the GitHub imitation, the webhook receiver on a werkzeug server,
and one worker thread that takes events off the queue, snapshots, decides and reports, as
the controller does. Requests are counted by the GitHub imitation's request log.
"""

from __future__ import annotations

import logging
import queue
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.serving import make_server

from controller.github import PullPoller, WebhookEvent
from controller.server.webhook_app import WebhookApp
from tests.integration.test_github_adapter_world import FULL, SLUG, World, build_world

PULLS = 50
SECRET = "bench-secret"
BOT = f"{SLUG}[bot]"


@dataclass
class Worker:
    world: World
    events: queue.Queue[WebhookEvent]
    done: queue.Queue[tuple[WebhookEvent, float]] = field(default_factory=queue.Queue)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="bench-worker", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.events.put(WebhookEvent("stop", "", "", 0, ""))
        if self.thread is not None:
            self.thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            event = self.events.get()
            if event.kind == "stop":
                return
            self.world.evaluate(event.number)
            self.done.put((event, (time.monotonic() - event.received_at) * 1000.0))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run() -> dict[str, float]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    with tempfile.TemporaryDirectory(prefix="bench-github-") as tmp:
        world = build_world(Path(tmp))
        events: queue.Queue[WebhookEvent] = queue.Queue()
        http = make_server("127.0.0.1", 0, WebhookApp(SECRET, events), threaded=True)
        serving = threading.Thread(target=http.serve_forever, daemon=True)
        serving.start()
        worker = Worker(world, events)
        try:
            numbers = [world.open_pull() for _ in range(PULLS)]
            for number in numbers:
                world.evaluate(number)  # steady state: each already has its check and comment

            world.server.set_webhook(f"http://127.0.0.1:{http.server_port}/webhooks", SECRET)
            worker.start()
            latencies: list[float] = []
            requests: list[int] = []
            counted_requests: list[int] = []
            for number in numbers:
                world.server.reset_request_log()
                world.approve("bob", number)
                event, latency = worker.done.get(timeout=60)
                if event.number != number or event.kind != "pull_request_review":
                    raise RuntimeError(f"unexpected event {event}")
                latencies.append(latency)
                ours = [r for r in world.server.request_log if r.user == BOT]
                requests.append(len(ours))
                counted_requests.append(sum(r.counted for r in ours))
            world.server.set_webhook("", SECRET)  # no more deliveries during the idle poll

            poller = PullPoller(world.client)
            first = poller.poll(FULL)
            if len(first.pulls) != PULLS:
                raise RuntimeError(f"expected {PULLS} open pull requests, saw {len(first.pulls)}")
            world.server.reset_request_log()
            poller.poll(FULL)
            counted = sum(r.counted for r in world.server.request_log)
        finally:
            worker.stop()
            http.shutdown()
            world.client.close()
            world.server.stop()
    return {
        "github_requests_per_review_decision": statistics.median(requests),
        "github_counted_requests_per_review_decision": statistics.median(counted_requests),
        "github_idle_poll_counted_requests_50prs": float(counted),
        "decision_latency_ms_p50": percentile(latencies, 0.50),
        "decision_latency_ms_p99": percentile(latencies, 0.99),
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<45} {value:>12.3f}")
