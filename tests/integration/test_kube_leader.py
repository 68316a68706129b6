"""Leader election over a Lease on the loopback API server, through the real client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controller.kube import ClusterConfig, KubeApi, LeaderElector, RetryPolicy, connect
from controller.sandbox.kube_server import KubeApiServer

FAST = RetryPolicy(attempts=2, initial_s=0.01, max_s=0.02)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def server() -> Iterator[KubeApiServer]:
    srv = KubeApiServer()
    srv.start()
    srv.create_namespace("sealgate")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def kubeconfig(server: KubeApiServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return server.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")


@pytest.fixture
def api(kubeconfig: Path, server: KubeApiServer) -> Iterator[KubeApi]:
    server.clear_faults()
    client = connect(ClusterConfig("loop", kubeconfig=kubeconfig), retry=FAST)
    yield client
    client.close()


_leases = iter(range(10_000))


@pytest.fixture
def lease() -> str:
    return f"sealgate-leader-{next(_leases)}"


def elector(api: KubeApi, lease: str, identity: str, clock: Clock) -> LeaderElector:
    return LeaderElector(api, "sealgate", lease, identity, clock=clock)


def test_two_contenders_exactly_one_leads_and_the_other_takes_over(
    server: KubeApiServer, api: KubeApi, lease: str
) -> None:
    clock = Clock()
    a, b = elector(api, lease, "replica-a", clock), elector(api, lease, "replica-b", clock)

    assert a.try_acquire_or_renew() is True
    assert b.try_acquire_or_renew() is False
    assert (a.is_leader, b.is_leader) == (True, False)
    assert b.holder == "replica-a"

    # a keeps renewing: b never gets it, however long it waits.
    for _ in range(10):
        clock.advance(5)
        assert a.try_acquire_or_renew() is True
        assert b.try_acquire_or_renew() is False

    # a stops renewing. Within the lease duration b still must not take over ...
    clock.advance(10)
    assert b.try_acquire_or_renew() is False
    # ... and a stops calling itself leader once its renew deadline has passed.
    assert a.is_leader is False
    clock.advance(6)
    assert b.try_acquire_or_renew() is True
    assert b.is_leader

    record = server.get("coordination.k8s.io/v1", "Lease", "sealgate", lease)
    assert record is not None
    assert record["spec"]["holderIdentity"] == "replica-b"
    assert record["spec"]["leaseTransitions"] == 1

    # a comes back: it sees b holding a live lease and stays a follower.
    assert a.try_acquire_or_renew() is False
    assert a.holder == "replica-b"


def test_a_released_lease_is_taken_at_once(api: KubeApi, lease: str) -> None:
    clock = Clock()
    a, b = elector(api, lease, "replica-a", clock), elector(api, lease, "replica-b", clock)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    a.release()
    assert not a.is_leader
    assert b.try_acquire_or_renew()


def test_a_lost_write_race_does_not_make_a_leader(
    server: KubeApiServer, api: KubeApi, lease: str
) -> None:
    clock = Clock()
    a = elector(api, lease, "replica-a", clock)
    assert a.try_acquire_or_renew()
    b = elector(api, lease, "replica-b", clock)
    assert not b.try_acquire_or_renew()
    clock.advance(16)
    # a's renewal and b's take-over both read resourceVersion N; the server's 409 decides.
    server.inject_faults(status=409, count=1, verb="update", resource="leases")
    assert b.try_acquire_or_renew() is False
    assert not b.is_leader
    assert b.try_acquire_or_renew() is True


def test_a_failed_renewal_keeps_leadership_only_until_the_renew_deadline(
    server: KubeApiServer, api: KubeApi, lease: str
) -> None:
    clock = Clock()
    a = elector(api, lease, "replica-a", clock)
    assert a.try_acquire_or_renew()
    server.inject_faults(status=503, count=100, verb="update", resource="leases")
    try:
        clock.advance(5)
        assert a.try_acquire_or_renew() is True
        clock.advance(6)
        assert a.try_acquire_or_renew() is False
    finally:
        server.clear_faults()
    assert a.try_acquire_or_renew() is True


def test_forbidden_leases_never_lead(server: KubeApiServer, api: KubeApi, lease: str) -> None:
    server.forbid("create", "leases", "sealgate")
    try:
        assert elector(api, lease, "replica-a", Clock()).try_acquire_or_renew() is False
    finally:
        server.clear_faults()


def _until(condition: Callable[[], bool], limit_s: float = 15.0) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_running_electors_hand_over_when_the_leader_stops(api: KubeApi, lease: str) -> None:
    started: list[str] = []
    stopped: list[str] = []
    lock = threading.Lock()

    def make(identity: str) -> LeaderElector:
        def on_start() -> None:
            with lock:
                started.append(identity)

        def on_stop() -> None:
            with lock:
                stopped.append(identity)

        return LeaderElector(
            api,
            "sealgate",
            lease,
            identity,
            lease_duration_s=3.0,
            renew_deadline_s=2.0,
            retry_period_s=0.1,
            on_started_leading=on_start,
            on_stopped_leading=on_stop,
        )

    a, b = make("replica-a"), make("replica-b")
    a.start()
    assert _until(lambda: a.is_leader)
    b.start()
    try:
        for _ in range(5):
            time.sleep(0.1)
            assert (a.is_leader, b.is_leader) == (True, False)
        a.stop()
        assert not a.is_leader
        assert _until(lambda: b.is_leader)
    finally:
        a.stop()
        b.stop()
    assert started == ["replica-a", "replica-b"]
    assert stopped == ["replica-a", "replica-b"]
