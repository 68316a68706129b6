"""The runner's work queue: webhooks and polls feed one de-duplicating queue; workers drain
it one pull request at a time; a standby holds its queue; shutdown waits for work in flight.

The reconciler here is a small recorder implementing the runner's ``Reconciling`` protocol
(sealgate's own interface, not a client library), so each test controls when a pass ends.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from controller.github import WebhookEvent
from controller.run import Metrics, Runner, Schedule, WorkQueue

REPO = "acme/requests"


class Recorder:
    def __init__(self) -> None:
        self.handled: Counter[int] = Counter()
        self.poll_answer: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.fail: set[int] = set()
        self.drift_runs = 0
        self.grant_runs = 0
        self.learned = 0
        self._lock = threading.Lock()

    def handle(self, repo: str, number: int) -> object:
        assert repo == REPO
        self.started.set()
        self.gate.wait(10)
        with self._lock:
            self.handled[number] += 1
        if number in self.fail:
            raise RuntimeError("boom")
        return None

    def work_items(self, repo: str) -> list[int]:
        return list(self.poll_answer)

    def learn_environments(self, repo: str) -> object:
        self.learned += 1
        return ()

    def repair_drift(self) -> object:
        self.drift_runs += 1
        return None

    def expire_and_remind(self, repo: str) -> object:
        return None

    def keep_grants(self) -> object:
        self.grant_runs += 1
        return None


def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def event(number: int, delivery: str, repo: str = REPO) -> WebhookEvent:
    return WebhookEvent("pull_request", "synchronize", repo, number, delivery, received_at=1.0)


@pytest.fixture
def active() -> threading.Event:
    flag = threading.Event()
    flag.set()
    return flag


@pytest.fixture
def parts(active: threading.Event) -> Iterator[tuple[Runner, Recorder, queue.Queue[WebhookEvent]]]:
    recorder = Recorder()
    events: queue.Queue[WebhookEvent] = queue.Queue()
    runner = Runner(
        recorder,
        REPO,
        events,
        Metrics(),
        Schedule(
            workers=3,
            poll_interval_s=3600,
            drift_interval_s=3600,
            expiry_interval_s=3600,
            grants_interval_s=3600,
            idle_wait_s=0.02,
        ),
        is_active=active.is_set,
    )
    yield runner, recorder, events
    recorder.gate.set()
    runner.stop(5)


def test_queue_deduplicates_waiting_keys() -> None:
    work: WorkQueue[tuple[str, int]] = WorkQueue()
    assert work.add((REPO, 1))
    assert not work.add((REPO, 1))
    assert work.add((REPO, 2))
    assert len(work) == 2
    assert work.get(0) == (REPO, 1)
    assert work.get(0) == (REPO, 2)
    assert work.get(0) is None


def test_key_added_while_active_runs_again_once_after_done() -> None:
    work: WorkQueue[tuple[str, int]] = WorkQueue()
    work.add((REPO, 1))
    key = work.get(0)
    assert key == (REPO, 1)
    assert work.add(key)
    assert not work.add(key)
    assert work.get(0) is None  # never to a second worker while the first has it
    work.done(key)
    assert work.get(0) == key
    work.done(key)
    assert work.get(0) is None
    assert work.wait_idle(0)


def test_shut_down_queue_hands_out_nothing() -> None:
    work: WorkQueue[tuple[str, int]] = WorkQueue()
    work.add((REPO, 1))
    work.shut_down()
    assert work.get(1) is None
    assert not work.add((REPO, 2))


def test_webhooks_and_poll_feed_one_queue_and_each_pr_is_handled_once(
    parts: tuple[Runner, Recorder, queue.Queue[WebhookEvent]], active: threading.Event
) -> None:
    runner, recorder, events = parts
    active.clear()  # a standby: accepts and queues, handles nothing
    runner.start()
    events.put(event(7, "d1"))
    events.put(event(7, "d2"))
    events.put(event(9, "d3", repo="other/repo"))  # not this controller's repository
    recorder.poll_answer = [7, 8]
    until(lambda: events.empty() and len(runner.queue) == 1)
    assert runner.poll() == 1  # 7 was already waiting
    assert len(runner.queue) == 2
    assert not recorder.handled
    active.set()  # takes over
    until(
        lambda: runner.queue.active == 0 and len(runner.queue) == 0 and len(recorder.handled) == 2
    )
    assert recorder.handled == Counter({7: 1, 8: 1})


def test_event_during_a_pass_runs_one_more_pass(
    parts: tuple[Runner, Recorder, queue.Queue[WebhookEvent]],
) -> None:
    runner, recorder, events = parts
    recorder.gate.clear()
    runner.start()
    events.put(event(7, "d1"))
    assert recorder.started.wait(10)
    for delivery in ("d2", "d3", "d4"):
        events.put(event(7, delivery))
    until(lambda: events.empty() and len(runner.queue) == 1)
    recorder.gate.set()
    until(lambda: recorder.handled[7] == 2 and runner.queue.active == 0)
    assert len(runner.queue) == 0
    assert recorder.handled == Counter({7: 2})


def test_failed_pass_is_counted_and_the_worker_goes_on(
    parts: tuple[Runner, Recorder, queue.Queue[WebhookEvent]],
) -> None:
    runner, recorder, _events = parts
    recorder.fail = {5}
    runner.start()
    runner.enqueue(5)
    until(lambda: recorder.handled[5] == 1 and runner.queue.active == 0)
    runner.enqueue(6)
    until(lambda: recorder.handled[6] == 1)
    text = runner.metrics.render().decode()
    assert 'sealgate_failures_total{step="handle"} 1.0' in text
    assert 'sealgate_pull_requests_handled_total{result="ok"}' in text


def test_a_failed_pass_is_retried_by_the_next_poll_until_it_succeeds(
    parts: tuple[Runner, Recorder, queue.Queue[WebhookEvent]],
) -> None:
    runner, recorder, _events = parts
    recorder.fail = {5}
    runner.start()
    runner.enqueue(5)
    until(lambda: recorder.handled[5] == 1 and runner.queue.active == 0)

    # Nothing moved on GitHub (the poll names nothing), yet the failed pass is redone.
    recorder.poll_answer = []
    recorder.fail = set()
    assert runner.poll() == 1
    until(lambda: recorder.handled[5] == 2 and runner.queue.active == 0)

    # It succeeded: a later quiet poll has nothing to retry.
    assert runner.poll() == 0
    assert recorder.handled[5] == 2


def test_stop_waits_for_work_in_flight(
    parts: tuple[Runner, Recorder, queue.Queue[WebhookEvent]],
) -> None:
    runner, recorder, _events = parts
    recorder.gate.clear()
    runner.start()
    runner.enqueue(3)
    assert recorder.started.wait(10)
    assert runner.stop(0.05) is False  # still in flight
    recorder.gate.set()
    assert runner.queue.wait_idle(10)
    assert recorder.handled == Counter({3: 1})
    assert not runner.enqueue(4)  # stopped: takes nothing new


def test_drift_repair_runs_on_gaining_leadership_not_on_standby(
    parts: tuple[Runner, Recorder, queue.Queue[WebhookEvent]], active: threading.Event
) -> None:
    runner, recorder, _events = parts
    active.clear()
    runner.start()
    runner.enqueue(1)
    # The start's kick found a standby: nothing ran (the interval is an hour).
    until(lambda: runner.queue.active == 0 and len(runner.queue) == 1)
    assert recorder.drift_runs == 0
    assert recorder.grant_runs == 0  # grant upkeep is leader-only too
    active.set()
    runner.leadership_changed(True)
    until(lambda: recorder.drift_runs >= 1 and recorder.handled[1] == 1)
    until(lambda: recorder.grant_runs >= 1)
    # Each drift pass first learns the environments' clusters from the default branch.
    assert recorder.learned >= recorder.drift_runs
    assert "sealgate_leader 1.0" in runner.metrics.render().decode()
