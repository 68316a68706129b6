"""``sealgate validate`` in a clone judges a pull request as the controller does.

On the loopback GitHub: a first rotation is approved, merged and applied, so its change
file stays under ``changes/`` as history. A second pull request, pushed with the real git
client from a clone, rotates the same key again and carries a change to a reserved
namespace. The controller's check run and ``validate`` (run in that clone, default base)
judge the same files and list the same problems.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from controller.reconciler import Status
from tests.integration.github_push_support import Identity, clone
from tests.integration.test_reconciler_world import (
    ENV,
    FULL,
    OWNER,
    REPO,
    Controller,
    World,
)
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414

ALICE = Identity("Alice", "alice@example.com")
FIX_THESE = "**Fix these files:**"


def _fixes(check_text: str) -> list[str]:
    """The problems a check run lists, as ``file: field: message``."""
    lines = check_text.split(FIX_THESE, 1)[1].strip().split("\n\n", 1)[0].splitlines()
    return [line.removeprefix("- `").removesuffix("`") for line in lines]


def test_the_controller_and_validate_judge_the_same_files_alike(
    world: World, controller: Controller, tmp_path: Path
) -> None:
    first = world.open_pull(b"first-password-2f9a8b7c6d")
    world.approve("bob", first)
    assert controller.reconciler.handle(FULL, first).status is Status.SYNCED
    history = f"changes/{ENV}/change-1.yaml"

    checkout = clone(world.hub, OWNER, REPO, tmp_path / "clone", world.tokens["alice"])
    assert (checkout.path / history).is_file()
    checkout.switch("rotate-again", start="origin/main")
    again = f"changes/{ENV}/rotate-again.yaml"
    stray = f"changes/{ENV}/stray.yaml"
    checkout.commit(
        {
            again: world.change_yaml("rotate-again", b"second-password-8e7d6c5b4a"),
            stray: world.change_yaml("stray", b"third-password-1a2b3c4d5e", "kube-system/db"),
        },
        "Rotate the database password again",
        author=ALICE,
    )
    assert checkout.push("rotate-again").returncode == 0
    number = world.hub.open_pull_request(
        OWNER, REPO, head="rotate-again", title="Rotate again", author="alice"
    )

    assert controller.reconciler.handle(FULL, number).status is Status.INVALID
    snapshot = controller.gateway.fetch(FULL, number)
    (check,) = world.checks(world.head(number), "sealgate")
    reported = _fixes(str(check["output"]["summary"]))

    result = CliRunner().invoke(
        main,
        ["validate", str(checkout.path), "--output", "json", "--key-dir", world.spec.keys],
        catch_exceptions=False,
    )
    report = json.loads(result.stdout)
    (compared,) = report["compared"]
    assert compared["base"] == "origin/HEAD"
    assert compared["judged"] == sorted(snapshot.change_files) == [again, stray]
    validated = [f"{p['file']}: {p['field']}: {p['message']}" for p in report["problems"]]
    assert sorted(validated) == sorted(reported)
    assert [p["file"] for p in report["problems"]] == [stray]
    assert "namespace 'kube-system' is reserved" in validated[0]
    assert result.exit_code == ExitCode.INVALID
