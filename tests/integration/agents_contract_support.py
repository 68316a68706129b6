"""Servers the agents API contract tests run against: the fake, and the real controller.

A ``Target`` is a running server speaking the contract plus what the tests cannot do over
the API itself: approve or deny a request (as its approvers would), and tokens of an agent
the environments allow, of one they do not, and one no cluster issued. ``fake_target`` is
the loopback fake of ``agents_fake_server``; ``sandbox_target`` is ``sealgate run`` as a
child process against the sandbox world (the real server, TokenReview, pull requests and
all), where ``production`` needs one SRE's approval and ``staging`` none.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from controller.sandbox import observe
from controller.sandbox.agent import AGENT_AUDIENCE, AGENT_NAMESPACE, service_account
from controller.sandbox.agent_world import many_agent_calls, no_approval_needed
from controller.sandbox.observe import wait_for
from controller.sandbox.people import Person, open_change
from controller.sandbox.runner import ControllerProcess
from controller.sandbox.world import DEVELOPER, SECRET, SRES, World, build_world
from tests.integration.agents_fake_server import CANARY, AgentsFakeServer

REVIEWED = "production"
"""An environment whose access requests need an approval."""
AUTOMATIC = "staging"
"""An environment whose access requests are granted at once."""
TIMEOUT_S = 60.0


@dataclass
class Target:
    url: str
    token_file: Callable[[str], Path]
    """The allowed agent's token file for an environment."""
    stranger_token_file: Path
    """A ServiceAccount of the reviewed environment's cluster no spec.agents lists."""
    forged_token_file: Path
    """A token no cluster issued."""
    approve: Callable[[int, str], None]
    """(pull request number, request id): approvers approve."""
    deny: Callable[[int, str], None]
    """(pull request number, request id): an approver requests changes."""
    canary: bytes
    """The value of ``SECRET`` in both environments."""
    logs: Callable[[], str]
    """Everything the server logged so far."""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@contextmanager
def fake_target(root: Path) -> Iterator[Target]:
    fake = AgentsFakeServer()
    fake.values[SECRET] = {"API_KEY": CANARY}
    token, _ = fake.add_agent(AGENT_NAMESPACE, "release-agent")
    stranger, _ = fake.add_agent("web", "stranger", environments=())
    with fake.running() as url:
        yield Target(
            url=url,
            token_file=lambda _environment: _write(root / "agent-token", token),
            stranger_token_file=_write(root / "stranger-token", stranger),
            forged_token_file=_write(root / "forged-token", "eyJforged." + secrets.token_hex(8)),
            approve=lambda _number, request_id: fake.approve(request_id),
            deny=lambda _number, request_id: fake.deny(request_id),
            canary=CANARY,
            logs=lambda: "",
        )


def _seed(world: World, environment: str, canary: bytes, approvers: tuple[str, ...]) -> None:
    developer = Person(world, DEVELOPER)
    people = [Person(world, login) for login in approvers]
    try:
        proposal = open_change(world, developer, {"API_KEY": canary}, environment=environment)
        for person in people:
            person.approve(proposal.number)
        wait_for(
            f"{SECRET} in {environment}'s cluster",
            lambda: observe.secret_object(world, environment, SECRET) is not None,
            timeout=TIMEOUT_S,
        )
    finally:
        for person in (developer, *people):
            person.close()


@contextmanager
def sandbox_target(root: Path) -> Iterator[Target]:
    world = build_world(root / "world", rollout_seconds=0.05)
    lock = threading.Lock()
    try:
        no_approval_needed(world, AUTOMATIC)
        many_agent_calls(world)
        cluster = world.cluster_for(REVIEWED)
        cluster.put(service_account("web", "stranger"))
        stranger = cluster.issue_token("web", "stranger", AGENT_AUDIENCE, 3600)
        canary = b"sk_live_CONTRACT_" + secrets.token_hex(6).encode()
        approver = Person(world, SRES[0])

        def approve(number: int, _request_id: str) -> None:
            with lock:
                approver.approve(number)

        def deny(number: int, _request_id: str) -> None:
            with lock:
                approver.review(number, "REQUEST_CHANGES", "Not during the freeze.")

        with ControllerProcess(world.config, root / "logs", world.controller_url) as controller:
            controller.start()
            # Production's changes need both SREs (two-person rule); staging's none now.
            _seed(world, REVIEWED, canary, SRES)
            _seed(world, AUTOMATIC, canary, ())

            def logs() -> str:
                return "".join(
                    path.read_text(errors="replace") for path in (root / "logs").glob("*.log")
                )

            try:
                yield Target(
                    url=world.controller_url,
                    token_file=world.agent_token_file,
                    stranger_token_file=_write(root / "stranger-token", stranger),
                    forged_token_file=_write(
                        root / "forged-token", "eyJforged." + secrets.token_hex(8)
                    ),
                    approve=approve,
                    deny=deny,
                    canary=canary,
                    logs=logs,
                )
            finally:
                approver.close()
    finally:
        world.stop()
