"""End to end: the sandbox story against a real ``sealgate run`` child process.

The story is played in-process (the function ``sealgate sandbox`` calls) and every step is
then checked again from the servers' and the store's state; the command line itself runs
once with ``--serve`` and is inspected over HTTP while it serves.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import github
import pytest
import requests

from controller.sandbox import observe, story_access, story_agents
from controller.sandbox.runner import ControllerProcess
from controller.sandbox.story import Step, Story, StoryFailed, demo_values, play
from controller.sandbox.world import (
    BOT,
    DEPLOYMENT,
    DEVELOPER,
    NAMESPACE,
    SECRET,
    World,
    build_world,
)
from controller.sandbox.world_agents import FLAGS
from tests.e2e.test_sandbox_world import (
    assert_access_state,
    assert_agents_state,
    assert_story_state,
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(tmp_path / "world")
    try:
        yield w
    finally:
        w.stop()


def test_the_story_happens_for_real(world: World, tmp_path: Path) -> None:
    values = demo_values()
    steps: list[Step] = []
    with ControllerProcess(world.config, tmp_path / "logs", world.controller_url) as controller:
        controller.start()
        result = play(world, steps.append, values=values)
        assert controller.alive
    assert len(steps) == 14 + 10 + 8  # the change story, the access act, the agents act
    asked = next(s for s in steps if "asked for reviews" in s.title)
    assert "teams security, sre" in asked.title
    assert "@acme/security" in asked.details[0]
    early = next(s for s in steps if "too early" in s.title)
    assert any("needs 1 more approval" in line for line in early.details), early
    pending = next(s for s in steps if "is pending" in s.title)
    table = [line for line in pending.details if "fingerprint" in line]
    assert [line.split(":")[0] for line in table] == sorted(values), pending
    assert all("new key" in line and "new secret → v1" in line for line in table), table
    signed = next(s for s in steps if "signed off" in s.title)
    assert any(
        line.startswith("Next: a person who may merge comments /sealgate merge")
        for line in signed.details
    ), signed
    assert_story_state(world, result, values)

    access = steps[14:24]
    assert "can approve: alice, bob, carol" in access[1].details[0]
    assert any(line.startswith("summary: Active: access ends at") for line in access[3].details)
    refused = next(s for s in access if f"with {story_access.OUTSIDER}'s token" in s.title)
    assert refused.details[0].startswith("refused (no-grant): no grant for bob")
    can_i = [line for s in access for line in s.details if "auth can-i" in line]
    if shutil.which("kubectl") is not None:
        assert [line.rsplit(": ", 1)[1] for line in can_i] == ["yes", "no"]
    revoked = next(s for s in access if "/sealgate revoke" in s.title)
    assert any(line.startswith("summary: Revoked at") for line in revoked.details)
    audit = access[-1].details
    for event in story_access.AUDITED:
        assert any(f"  {event}  " in line for line in audit), (event, audit)
    assert_access_state(world, result, values)

    agents = steps[24:]
    assert "202 approved at once (autoApproved" in agents[1].title
    assert "202 pending" in agents[3].title
    assert agents[4].title.endswith(("wait returned approved", "wait returned active"))
    assert "403 not-allowed" in agents[6].title
    assert "spec.agents" in agents[6].details[0]
    audited = "\n".join(agents[7].details)
    for event in story_agents.AUDITED:
        assert f" {event}" in audited, (event, audited)
    assert_agents_state(world, result)

    # The values were printed once, to dev1's `sealgate open`, and sealed to the agent's
    # keys: never narrated, never logged; nor is any agent's token.
    narrated = repr(steps)
    logs = controller.stdout_log.read_text() + controller.stderr_log.read_text()
    secrets = [v.decode() for v in values.values()]
    secrets += [path.read_text() for path in world.agent_tokens.values()]
    with observe.open_store(world) as store:
        flags = store.read_secret("production", FLAGS)
    assert flags is not None
    secrets += [v.decode() for v in flags.data.values()]
    for value in secrets:
        assert value not in narrated
        assert value not in logs


def test_an_access_step_that_does_not_happen_fails_the_story_and_is_named(
    world: World, tmp_path: Path
) -> None:
    # A fresh world: the store holds no payments/stripe, so the request is invalid, and the
    # check never goes pending.
    steps: list[Step] = []
    story = Story(world, steps.append, timeout=3.0)
    with ControllerProcess(world.config, tmp_path / "logs", world.controller_url) as controller:
        controller.start()
        with pytest.raises(StoryFailed) as failed:
            story.run(story_access.AccessAct(story).steps())
    story.close()
    assert failed.value.step == "access pending"
    assert "the access request's check to go pending" in failed.value.reason
    assert "(last seen: check completed/failure" in failed.value.reason
    assert [s.title.split()[0] for s in steps] == [DEVELOPER]


def test_an_agents_step_that_fails_names_the_step_and_shows_no_token(
    world: World, tmp_path: Path
) -> None:
    # A fresh world: the store holds no payments/feature-flags, so the agent's request is
    # invalid (422) and the act stops there, named, before anything is narrated.
    steps: list[Step] = []
    story = Story(world, steps.append, timeout=3.0)
    act = story_agents.AgentsAct(story)
    with ControllerProcess(world.config, tmp_path / "logs", world.controller_url) as controller:
        controller.start()
        with pytest.raises(StoryFailed) as failed:
            story.run(act.steps()[1:])
    story.close()
    assert failed.value.step == "agent standard request"
    assert failed.value.reason.startswith("422")
    assert steps == []
    for token in act.tokens.values():
        assert token not in str(failed.value)
        assert token not in controller.stderr_log.read_text()


def test_a_step_that_does_not_happen_fails_the_story_and_is_named(world: World) -> None:
    # No controller: the developer's part happens, the check never appears.
    steps: list[Step] = []
    with pytest.raises(StoryFailed) as failed:
        play(world, steps.append, timeout=1.0)
    assert failed.value.step == "pending"
    assert "the sealgate check to go pending" in failed.value.reason
    assert [s.title.split()[0] for s in steps] == ["dev1"]


def _read_variables(process: subprocess.Popen[str], names: set[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        name, sep, value = line.strip().partition("=")
        if sep and name in names:
            found[name] = value
            if set(found) == names:
                return found
    raise AssertionError(f"sealgate sandbox exited before printing {sorted(names - set(found))}")


def test_the_command_plays_the_story_and_serves_it(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-c",
        "import sys; from controller.cli import main; sys.exit(main())",
        "sandbox",
        "--workdir",
        str(tmp_path / "sandbox"),
        "--serve",
    ]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        found = _read_variables(
            process,
            {
                "GITHUB_API",
                "SEALGATE_API",
                "KUBE_API",
                "REPOSITORY",
                "GITHUB_TOKENS_FILE",
                "AGENT_TOKEN_FILE",
            },
        )
        # The sandbox serves `sealgate open`: it asks for a token before anything else.
        anonymous = requests.post(f"{found['SEALGATE_API']}/v1/open", json={}, timeout=10)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
        # What a script would do with the printed variables: read the state over HTTP.
        pulls = requests.get(
            f"{found['GITHUB_API']}/repos/{found['REPOSITORY']}/pulls",
            params={"state": "closed"},
            timeout=10,
        )
        assert pulls.status_code == 200
        # The change story's pull request, then the access act's, then the agents act's:
        # all merged by sealgate.
        pull, access, *agents = sorted(pulls.json(), key=lambda p: int(p["number"]))
        assert len(agents) == 3
        assert all(p["merged_at"] is not None for p in agents)
        assert pull["merged_at"] is not None
        assert access["merged_at"] is not None
        assert access["title"].startswith("Access to production/payments/stripe")
        # PyGithub, as one of the people, with the token the sandbox wrote for scripts.
        tokens = json.loads(Path(found["GITHUB_TOKENS_FILE"]).read_text())
        client = github.Github(
            base_url=found["GITHUB_API"],
            auth=github.Auth.Token(tokens[DEVELOPER]),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        merged = client.get_repo(found["REPOSITORY"]).get_pull(pull["number"])
        assert merged.merged
        assert merged.merged_by.login == BOT
        client.close()
        namespace, name = SECRET.split("/")
        secret = requests.get(
            f"{found['KUBE_API']}/api/v1/namespaces/{namespace}/secrets/{name}", timeout=10
        ).json()
        annotations = secret["metadata"]["annotations"]
        assert annotations[observe.PULL_REQUEST_ANNOTATION] == str(pull["number"])
        deployment = requests.get(
            f"{found['KUBE_API']}/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{DEPLOYMENT}",
            timeout=10,
        ).json()
        template = deployment["spec"]["template"]["metadata"].get("annotations") or {}
        assert any(key.startswith("sealgate.dev/checksum") for key in template)
        # The agent's token file, as a script would use it: a standard secret at once.
        token = Path(found["AGENT_TOKEN_FILE"]).read_text()
        asked = requests.post(
            f"{found['SEALGATE_API']}/v1/access-requests",
            json={
                "environment": "production",
                "secrets": [{"secret": FLAGS}],
                "reason": "a script's own run",
                "duration": "5m",
                "activateWithin": "1h",
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert asked.status_code == 202, asked.text
        assert asked.json()["autoApproved"] is True
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output


def test_without_serve_it_points_at_serve_not_at_what_it_removes(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "from controller.cli import main; main()", "sandbox"]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Look around" not in done.stdout
    assert "Everything has stopped. Run sealgate sandbox --serve to look around" in done.stdout
    assert "which is removed now: add --workdir DIR to keep them" in done.stdout
    # The temporary directory the story ran in is gone, and no path into it was offered.
    assert list(tmp_path.iterdir()) == []
    assert "sealgate store ls --store" not in done.stdout
