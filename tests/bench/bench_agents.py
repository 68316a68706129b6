"""Agents API figures, with ``sealgate run`` as a child process against the sandbox world.

``agent_standard_grant_ms_p50``: an agent's whole way from asking to holding the values, for
a standard request nobody needs to approve (staging of this world allows unmatched requests
and no policy covers the secret): ``request_access`` (the controller opens, judges and merges
the pull request and records the grant), ``wait`` when it was not granted at once, ``open``.
Through the agents client, on loopback, ``GRANT_SAMPLES`` requests one after the other,
each for a secret of its own (``payments/bench-agent-<n>``): every grant is the only live
one of its secret, so what is opened is unambiguously that request's grant.

``agent_status_poll_us_p50``: one ``status`` call answered ``304 Not Modified`` (the client
sends the ETag of the document it holds): what an agent polling an unchanged request costs,
token review included.
"""

from __future__ import annotations

import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from controller.client import SealgateClient
from controller.sandbox import observe
from controller.sandbox.agent_world import many_agent_calls, no_approval_needed
from controller.sandbox.observe import wait_for
from controller.sandbox.people import Person, open_change
from controller.sandbox.runner import ControllerProcess
from controller.sandbox.world import DEVELOPER, NAMESPACE, World, build_world

ENVIRONMENT = "staging"
GRANT_SAMPLES = 10
POLL_SAMPLES = 300
TIMEOUT_S = 60.0


def secret_of(index: int) -> str:
    return f"{NAMESPACE}/bench-agent-{index:02d}"


def _in_cluster(world: World, secret: str) -> Callable[[], bool]:
    return lambda: observe.secret_object(world, ENVIRONMENT, secret) is not None


def _seed_secrets(world: World, count: int) -> None:
    developer = Person(world, DEVELOPER)
    try:
        for index in range(count):
            secret = secret_of(index)
            values = {"TOKEN": secrets.token_hex(16).encode()}
            open_change(world, developer, values, environment=ENVIRONMENT, secret=secret)
            wait_for(f"{secret} in the cluster", _in_cluster(world, secret), timeout=TIMEOUT_S)
    finally:
        developer.close()


def _grant_ms(client: SealgateClient, index: int) -> float:
    started = time.perf_counter()
    status = client.request_access(
        ENVIRONMENT, [secret_of(index)], f"bench run {index}: deploy smoke test", "5m", "1h"
    )
    if not status.is_granted:
        status = client.wait(status.id, TIMEOUT_S)
    if not status.is_granted:
        raise RuntimeError(f"bench request {status.id} ended {status.state.value}")
    values = client.open(status.id)
    elapsed = (time.perf_counter() - started) * 1000
    if not values:
        raise RuntimeError(f"bench request {status.id} opened no values")
    return elapsed


def _poll_us(client: SealgateClient, request_id: str) -> list[float]:
    held = client.status(request_id)
    samples = []
    for _ in range(POLL_SAMPLES):
        started = time.perf_counter()
        again = client.status(request_id)
        samples.append((time.perf_counter() - started) * 1e6)
        if again is not held:  # a 200 with a new document: not the figure measured here
            raise RuntimeError(f"request {request_id} changed while polling")
    return samples


def _measure(root: Path) -> dict[str, float]:
    world = build_world(root, rollout_seconds=0.05)
    try:
        no_approval_needed(world, ENVIRONMENT)
        many_agent_calls(world)
        with ControllerProcess(world.config, root / "logs", world.controller_url) as controller:
            controller.start()
            _seed_secrets(world, GRANT_SAMPLES + 1)
            client = SealgateClient(world.controller_url, world.agent_token_file(ENVIRONMENT))
            grants = [_grant_ms(client, index) for index in range(GRANT_SAMPLES + 1)][1:]
            last = client.request_access(ENVIRONMENT, [secret_of(0)], "bench: poll", "5m", "1h")
            polls = _poll_us(client, last.id)
    finally:
        world.stop()
    return {
        "agent_standard_grant_ms_p50": statistics.median(grants),
        "agent_status_poll_us_p50": statistics.median(polls),
    }


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-agents-") as temporary:
        return _measure(Path(temporary))


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<32} {value:>10.1f}")
