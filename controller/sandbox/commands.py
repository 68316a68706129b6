"""Commands the sandbox's people run as child processes, as they would at a terminal:
``sealgate open`` with their own GitHub token, ``kubectl auth can-i`` with ``--as``, and an
operator's read-only ``sealgate`` commands on the store.

Each refuses (``StoryFailed``) output that holds one of the story's values where no value
belongs.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import click
from click.testing import CliRunner

from controller.sandbox.observe import StoryFailed
from controller.sandbox.runner import sealgate_command
from controller.sandbox.world import World

COMMAND_TIMEOUT = 60.0


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str


def printed(value: bytes, text: str) -> bool:
    """Whether ``text`` shows ``value``, as it is or in base64."""
    return value.decode("utf-8", "replace") in text or base64.b64encode(value).decode() in text


def _refuse_leaks(what: str, text: str, values: Iterable[bytes]) -> None:
    if any(printed(value, text) for value in values):
        raise StoryFailed(what, "a value was printed where it must not be")


def sealgate_open(world: World, login: str, target: str, values: Mapping[str, bytes]) -> Ran:
    """``sealgate open TARGET -o json`` as ``login`` runs it: their loopback GitHub token,
    the controller's URL. Only a successful run's stdout may hold ``values``."""
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GH_TOKEN")}
    env.update(SEALGATE_API=world.controller_url, GITHUB_TOKEN=world.tokens[login], NO_COLOR="1")
    done = subprocess.run(  # noqa: S603 - our own interpreter and command line
        sealgate_command("open", target, "-o", "json"),
        capture_output=True,
        text=True,
        env=env,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    ran = Ran(done.returncode, done.stdout, done.stderr)
    _refuse_leaks("sealgate open", (ran.stdout if ran.code else "") + ran.stderr, values.values())
    return ran


def kubectl_can_i(
    world: World, verb: str, resource: str, *, context: str, subject: str, namespace: str
) -> str | None:
    """kubectl's answer to ``auth can-i VERB RESOURCE --as SUBJECT -n NAMESPACE`` (``yes``
    or ``no``), or None when kubectl is not installed."""
    binary = shutil.which("kubectl")
    if binary is None:
        return None
    done = subprocess.run(  # noqa: S603 - kubectl with fixed arguments
        [
            binary,
            *("--kubeconfig", str(world.kubeconfig), "--context", context),
            # Its discovery cache stays in the sandbox, not in the person's home.
            *("--cache-dir", str(world.workdir / "kubectl-cache")),
            *("auth", "can-i", verb, resource, "--as", subject, "-n", namespace),
        ],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    return done.stdout.strip() or done.stderr.strip()


def operator(
    world: World, command: click.Command, args: Iterable[str], values: Mapping[str, bytes]
) -> list[str]:
    """A read-only sealgate command on the store, as an operator runs it: its lines."""
    args = list(args)
    where = ("--store", str(world.store), "--key-dir", str(world.keys))
    result = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"}).invoke(
        command, [*args, *where], catch_exceptions=False
    )
    what = f"sealgate {command.name} {args[0]}"
    if result.exit_code != 0:
        raise StoryFailed(what, result.output.strip())
    _refuse_leaks(what, result.output, values.values())
    return [line.rstrip() for line in result.output.splitlines() if line.strip()]
