"""Controller figures, with ``sealgate run`` as a child process against the sandbox world.

``approval_to_secret_ms_p50`` / ``_p99``: from an approving review (its webhook is sent as
the review is created) of a staging pull request whose pending check already stands and
whose controller pass is over (nothing sent to GitHub for a while, and the previous
sample's ``sealgate/sync`` check completed: its rollout is no longer watched), to the
Secret in the cluster carrying that pull request's annotation: merge, store apply and sync
included, all on loopback. ``SAMPLES`` pull requests, one after the other.

The same run again with every answer of the loopback GitHub delayed by 100 ms (± 10 ms),
as api.github.com answers: ``approval_to_secret_ms_p50_rtt100`` beside
``approval_to_secret_ms_p50_rtt0`` (the same world without delay);
``critical_path_round_trips`` is their difference over 100 ms, the sequential GitHub round
trips between the approval and the Secret. ``github_requests_approval_to_secret``: the
controller's GitHub requests in that window (median, no delay).
``pr_open_to_pending_check_ms_p50_rtt100``: from the moment a new pull request exists (the
middle of the request creating it) until its pending check and sticky comment are visible.

``rss_mb_100prs_10k_secrets``: resident memory (``VmRSS``) of the ``sealgate run`` process
once it has handled 100 open pull requests, with 10,000 secrets in its store.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from controller.github.records import SYNC_CHECK_NAME
from controller.github.summary import MARKER
from controller.model import GenerateSpec, SecretChange
from controller.sandbox import observe
from controller.sandbox.observe import wait_for
from controller.sandbox.people import Person, open_change
from controller.sandbox.runner import ControllerProcess
from controller.sandbox.world import BOT, DEVELOPER, OWNER, REPO, SECRET, SRES, World, build_world
from controller.store import ApprovalRecord

ENVIRONMENT = "staging"
SAMPLES = 20
OPEN_PULLS = 100
STORED_SECRETS = 10_000
TIMEOUT_S = 60.0
PROBE_S = 0.002
RTT_S = 0.1


@dataclass
class Samples:
    approval_ms: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    """The controller's GitHub requests from the approval to the Secret."""
    open_ms: list[float] = field(default_factory=list)
    """A new pull request until its pending check and comment are visible."""


def _pending(world: World, sha: str) -> bool:
    run = observe.check_run(world, sha)
    return run is not None and run["status"] == "in_progress"


def _wait_pending(world: World, sha: str) -> None:
    wait_for("the pending check", lambda: _pending(world, sha), timeout=TIMEOUT_S)


def _sync_complete(world: World, sha: str) -> bool:
    run = observe.check_run(world, sha, SYNC_CHECK_NAME)
    return run is not None and run["status"] == "completed"


def _synced(world: World, number: int) -> bool:
    obj = observe.secret_object(world, ENVIRONMENT, SECRET)
    marks = observe.annotations_of(obj) if obj is not None else {}
    return marks.get(observe.PULL_REQUEST_ANNOTATION) == str(number)


def _commented(world: World, number: int) -> bool:
    comments = world.github.comments(OWNER, REPO, number)
    return any(MARKER in str(c["body"]) for c in comments)


def _wait_quiet(world: World, quiet_s: float) -> None:
    """Until the controller has sent GitHub nothing for ``quiet_s``: the pass that reported
    the pending check (and asked for reviews) is over, so the approval is measured alone, as
    a person approving minutes later would see it."""
    deadline = time.monotonic() + TIMEOUT_S
    seen = -1
    while time.monotonic() < deadline:
        count = sum(1 for r in world.github.request_log if r.user == BOT)
        if count == seen:
            return
        seen = count
        time.sleep(quiet_s)
    raise TimeoutError("the controller never went quiet")


def _opened_at(world: World, number: int) -> float:
    """The monotonic time the pull request came to exist: mid-way through its creation."""
    for record in world.github.request_log:
        created = record.method == "POST" and record.path.endswith("/pulls")
        if created and isinstance(record.body, dict) and record.body.get("number") == number:
            return (record.started + record.finished) / 2
    raise RuntimeError(f"no request created #{number}")


def _approval_latencies(root: Path, *, latency: float = 0.0) -> Samples:
    world = build_world(root, rollout_seconds=0.05, github_latency=latency)
    developer, approver = Person(world, DEVELOPER), Person(world, SRES[0])
    samples = Samples()
    try:
        with ControllerProcess(world.config, root / "logs", world.controller_url) as controller:
            controller.start()
            for index in range(SAMPLES + 1):
                values = {"STRIPE_API_KEY": f"bench-{index}".encode()}
                world.github.reset_request_log()
                proposal = open_change(world, developer, values, environment=ENVIRONMENT)
                opened = _opened_at(world, proposal.number)
                shown = opened + TIMEOUT_S
                while not (
                    _pending(world, proposal.head_sha) and _commented(world, proposal.number)
                ):
                    if time.monotonic() > shown:
                        raise TimeoutError(f"#{proposal.number} got no pending check")
                    time.sleep(PROBE_S)
                open_ms = (time.monotonic() - opened) * 1000
                _wait_quiet(world, 0.3 + 2 * latency)
                world.github.reset_request_log()
                started = time.perf_counter()
                approver.approve(proposal.number)
                deadline = started + TIMEOUT_S
                while not _synced(world, proposal.number):
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"#{proposal.number} was not synced")
                    time.sleep(PROBE_S)
                elapsed_ms = (time.perf_counter() - started) * 1000
                ours = [r for r in world.github.request_log if r.user == BOT]
                if index > 0:  # the first one warms caches and connections
                    samples.approval_ms.append(elapsed_ms)
                    samples.requests.append(len(ours))
                    samples.open_ms.append(open_ms)
                # Let the rollout finish so the next sample starts from a quiet controller:
                # until its `sealgate/sync` check completes, the controller is still watching
                # that rollout, and the next delivery to the environment would wait on it.
                wait_for(
                    "the rollout", lambda: observe.rollout_complete(world, ENVIRONMENT), timeout=30
                )
                wait_for("the sync", partial(_sync_complete, world, proposal.head_sha), timeout=30)
    finally:
        developer.close()
        approver.close()
        world.stop()
    return samples


def _seed_store(world: World, count: int) -> None:
    changes = [
        SecretChange(
            name="bench-seed",
            environment=ENVIRONMENT,
            secret=f"bench-{i // 100:03d}/app-{i % 100:03d}",
            reason="bench",
            generate={"PASSWORD": GenerateSpec(24)},
        )
        for i in range(count)
    ]
    record = ApprovalRecord("bench-seed", 1, "0" * 40, ("alice",), "sealgate[bot]")
    with observe.open_store(world) as store:
        store.apply("bench-seed", changes, record)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line")


def _resident_memory(root: Path) -> float:
    # Drift repair would copy all 10,000 secrets into the loopback cluster: not measured here.
    world = build_world(root, drift_interval="24h")
    developer = Person(world, DEVELOPER)
    try:
        _seed_store(world, STORED_SECRETS)
        heads = [
            open_change(
                world, developer, {"STRIPE_API_KEY": f"rss-{i}".encode()}, environment=ENVIRONMENT
            ).head_sha
            for i in range(OPEN_PULLS)
        ]
        with ControllerProcess(world.config, root / "logs", world.controller_url) as controller:
            controller.start()
            wait_for(
                "every pull request to be handled",
                lambda: all(_pending(world, sha) for sha in heads),
                timeout=300,
            )
            time.sleep(1.0)  # let in-flight work and garbage settle
            assert controller.pid is not None
            return _rss_mb(controller.pid)
    finally:
        developer.close()
        world.stop()


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-controller-") as temporary:
        root = Path(temporary)
        fast = _approval_latencies(root / "latency")
        slow = _approval_latencies(root / "latency-rtt100", latency=RTT_S)
        rss = _resident_memory(root / "rss")
    samples = fast.approval_ms
    percentiles = statistics.quantiles(samples, n=100, method="inclusive")
    rtt0 = statistics.median(samples)
    rtt100 = statistics.median(slow.approval_ms)
    return {
        "approval_to_secret_ms_p50": rtt0,
        "approval_to_secret_ms_p99": percentiles[98],
        "approval_to_secret_ms_p50_rtt0": rtt0,
        "approval_to_secret_ms_p50_rtt100": rtt100,
        "critical_path_round_trips": (rtt100 - rtt0) / (RTT_S * 1000),
        "github_requests_approval_to_secret": statistics.median(fast.requests),
        "pr_open_to_pending_check_ms_p50_rtt100": statistics.median(slow.open_ms),
        "rss_mb_100prs_10k_secrets": rss,
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<32} {value:>10.1f}")
