"""``sealgate plan --pull``: a live pull request on the loopback GitHub, judged by the rules
in a working tree and by its base branch's, agreeing with the controller and writing nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from jsonschema import Draft202012Validator

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from controller.documents.facts import parse_facts
from controller.documents.facts_schema import facts_schema
from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from tests.integration.test_reconciler_world import (
    ENV,
    FULL,
    POLICY_YAML,
    World,
    build_world,
    environment_yaml,
)

TWO_APPROVALS = POLICY_YAML.replace(b"required: 1", b"required: 2")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(tmp_path)
    try:
        yield w
    finally:
        w.hub.stop()
        w.kube.stop()


def working_tree(world: World, policy: bytes = POLICY_YAML) -> Path:
    """A checkout of the rules as an operator edits them."""
    info = Keyring(
        Path(world.spec.keys), LocalKekFile(Path(world.spec.keys) / KEK_FILE_NAME)
    ).list_keys(ENV)[0]
    root = world.root / "checkout"
    (root / "environments").mkdir(parents=True, exist_ok=True)
    (root / "policies").mkdir(exist_ok=True)
    (root / "environments" / f"{ENV}.yaml").write_bytes(
        environment_yaml(info.key_id, info.public_key)
    )
    (root / "policies" / "production.yaml").write_bytes(policy)
    return root


def plan_pull(world: World, number: int, config: Path, *extra: str, login: str = "erin") -> Result:
    return CliRunner(env={"GITHUB_TOKEN": world.tokens[login]}).invoke(
        main,
        [
            "plan",
            "--pull",
            f"{FULL}#{number}",
            "--config",
            str(config),
            "--github-url",
            world.hub.url,
            *extra,
        ],
    )


def as_json(result: Result) -> dict[str, Any]:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def writes(world: World) -> list[str]:
    return [f"{r.method} {r.path}" for r in world.hub.request_log if r.writes]


def test_plan_pull_agrees_with_the_controller_and_writes_nothing(world: World) -> None:
    number = world.open_pull()
    world.approve("bob", number)
    config = working_tree(world)
    world.hub.reset_request_log()
    result = plan_pull(world, number, config, "--key-dir", world.spec.keys, "--output", "json")
    body = as_json(result)
    assert writes(world) == []
    assert world.hub.request_log, "plan read the pull request from the server"
    assert (result.exit_code, body["workingTree"]["decision"]) == (0, "approved")
    assert body["differs"] is False
    assert body["baseBranch"] is None
    assert body["pullRequest"] == f"{FULL}#{number}"
    assert body["headSha"] == world.head(number)
    [step] = body["workingTree"]["policies"]
    assert step["approvedBy"] == ["bob"]
    assert not any("not opened" in note for note in body["notes"])

    controller = world.controller()
    try:
        status = controller.reconciler.handle(FULL, number)
    finally:
        controller.close()
    assert status.decision == body["workingTree"]["decision"]
    assert [s.approved_by for s in status.steps] == [("bob",)]
    assert writes(world), "the controller's reports show up in the log plan was checked with"


def test_edited_rules_are_shown_beside_what_the_base_decides(world: World) -> None:
    number = world.open_pull()
    world.approve("bob", number)
    config = working_tree(world, TWO_APPROVALS)
    world.hub.reset_request_log()
    result = plan_pull(world, number, config, "--output", "json")
    body = as_json(result)
    assert writes(world) == []
    assert result.exit_code == ExitCode.PENDING
    assert body["differs"] is True
    assert body["workingTree"]["decision"] == "pending"
    assert body["baseBranch"]["decision"] == "approved"
    [step] = body["workingTree"]["policies"]
    assert (step["required"], step["approvedBy"]) == (2, ["bob"])
    assert "carol" in step["eligibleRemaining"]
    assert "alice" not in step["eligibleRemaining"], "the author cannot approve"
    assert any("not opened" in note for note in body["notes"])

    text = plan_pull(world, number, config)
    assert "With the rules in --config:" in text.output
    assert "Decision: PENDING" in text.output
    assert "With the rules at main@" in text.output
    assert "Decision: APPROVED" in text.output
    assert world.tokens["erin"] not in text.output


def test_a_pending_pull_request_and_saved_facts(world: World) -> None:
    number = world.open_pull()
    config = working_tree(world)
    saved = world.root / "facts.json"
    world.hub.reset_request_log()
    result = plan_pull(world, number, config, "--save-facts", str(saved))
    assert result.exit_code == ExitCode.PENDING, result.output
    assert "Decision: PENDING" in result.output
    assert "decide the same" in result.output
    assert writes(world) == []
    document = json.loads(saved.read_text())
    assert list(Draft202012Validator(dict(facts_schema())).iter_errors(document)) == []
    facts = parse_facts("facts.json", saved.read_bytes())
    assert (facts.number, facts.author, facts.head_sha) == (number, "alice", world.head(number))
    assert facts.changed_files == (f"changes/{ENV}/change-1.yaml",)


def test_the_token_can_come_from_a_command_and_is_required(world: World) -> None:
    number = world.open_pull()
    config = working_tree(world)
    token = world.tokens["erin"]
    command = f"{sys.executable} -c \"print('{token}')\""
    result = CliRunner(env={"GITHUB_TOKEN": None}).invoke(
        main,
        [
            "plan",
            "--pull",
            f"{FULL}#{number}",
            "--config",
            str(config),
            "--github-url",
            world.hub.url,
            "--token-command",
            command,
        ],
    )
    assert result.exit_code == ExitCode.PENDING, result.output
    assert token not in result.output
    missing = CliRunner(env={"GITHUB_TOKEN": None}).invoke(
        main, ["plan", "--pull", f"{FULL}#{number}", "--config", str(config)]
    )
    assert missing.exit_code == 2
    assert "set GITHUB_TOKEN, or pass --token-command" in missing.output
    failing = CliRunner(env={"GITHUB_TOKEN": None}).invoke(
        main,
        [
            "plan",
            "--pull",
            f"{FULL}#{number}",
            "--config",
            str(config),
            "--token-command",
            f"{sys.executable} -c \"print('{token}'); raise SystemExit(3)\"",
        ],
    )
    assert failing.exit_code == 1
    assert "--token-command exited with 3" in failing.output
    assert token not in failing.output


def test_usage_mistakes(world: World) -> None:
    config = working_tree(world)
    both = CliRunner().invoke(
        main, ["plan", "--config", str(config), "--facts", "f.json", "--pull", f"{FULL}#1"]
    )
    assert both.exit_code == 2
    assert "either --facts FACTS.json or --pull" in both.output
    files = CliRunner(env={"GITHUB_TOKEN": "x"}).invoke(
        main, ["plan", "--config", str(config), "--pull", f"{FULL}#1", "changes/"]
    )
    assert files.exit_code == 2
    assert "drop CHANGE_FILE" in files.output
    target = CliRunner(env={"GITHUB_TOKEN": "x"}).invoke(
        main, ["plan", "--config", str(config), "--pull", "acme-requests-1"]
    )
    assert target.exit_code == 2
    assert "expected OWNER/REPO#NUMBER" in target.output
    assert "acme-requests-1" not in target.output


def test_an_unknown_pull_request_is_a_clear_error(world: World) -> None:
    world.hub.reset_request_log()
    result = plan_pull(world, 999, working_tree(world))
    assert result.exit_code == 1
    assert f"read pull request {FULL}#999" in result.output
    assert writes(world) == []


def test_pull_options_are_refused_without_pull(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["plan", "--config", str(tmp_path), "--facts", "f.json", "--key-dir", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "--key-dir: only with --pull" in result.output


def test_team_approvals_are_read_from_github_as_the_controller_reads_them(world: World) -> None:
    number = world.open_pull()
    world.approve("dave", number)  # counts through acme/secops only
    world.approve("erin", number)  # an admin no policy names: does not count
    world.hub.reset_request_log()
    body = as_json(plan_pull(world, number, working_tree(world), "--output", "json"))
    assert writes(world) == []
    [step] = body["workingTree"]["policies"]
    assert (body["workingTree"]["decision"], step["approvedBy"]) == ("approved", ["dave"])
    controller = world.controller()
    try:
        status = controller.reconciler.handle(FULL, number)
    finally:
        controller.close()
    assert (status.decision, [s.approved_by for s in status.steps]) == ("approved", [("dave",)])
