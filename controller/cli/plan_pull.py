"""``sealgate plan --pull OWNER/REPO#N``: the command-line side (see
``controller.run.plan_pull``): the token, the working tree's rules, the keys, the output.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import re
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from controller.cli._files import RULES_AREAS, read_repository
from controller.cli.keys import fail, open_keyring
from controller.cli.output import Format, dump, print_text, terminal_width
from controller.cli.plan import TOKEN_VARIABLE, as_json, render_text
from controller.cli.quiet import quiet_lines
from controller.documents.facts_json import facts_to_json
from controller.errors import Problem, SealgateError
from controller.model import Decision, Tier

TOKEN_COMMAND_TIMEOUT_S = 60
_TARGET = re.compile(r"(?P<repo>[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+)#(?P<number>[0-9]+)")
_TIER_PATH = re.compile(r"[a-z0-9-]+/[a-z0-9-]+/[a-z0-9.-]+")


def parse_target(text: str) -> tuple[str, int]:
    match = _TARGET.fullmatch(text)
    if match is None:
        # Not shown: text in the wrong place may be anything, a pasted token included.
        raise click.UsageError(
            "--pull: expected OWNER/REPO#NUMBER, e.g. acme/secret-requests#42 (not shown)"
        )
    return match["repo"], int(match["number"])


def parse_current_tiers(specs: Sequence[str]) -> dict[str, Tier]:
    tiers: dict[str, Tier] = {}
    allowed = ", ".join(tier.value for tier in Tier)
    for spec in specs:
        path, _, tier = spec.partition("=")
        if not _TIER_PATH.fullmatch(path) or tier not in {t.value for t in Tier}:
            raise click.UsageError(
                f"--current-tier: expected <env>/<namespace>/<name>=<tier>, the tier one of "
                f"{allowed} (not shown)"
            )
        tiers[path] = Tier(tier)
    return tiers


def resolve_token(token_command: str | None) -> str:
    """The token from ``--token-command`` (its stdout) or ``$GITHUB_TOKEN``; never printed."""
    if token_command is None:
        token = os.environ.get(TOKEN_VARIABLE, "").strip()
        if not token:
            raise click.UsageError(
                f"--pull needs a GitHub token: set {TOKEN_VARIABLE}, or pass --token-command "
                "such as 'gh auth token'"
            )
        return token
    try:
        done = subprocess.run(  # noqa: S603 - the operator's own command, without a shell
            shlex.split(token_command),
            capture_output=True,
            timeout=TOKEN_COMMAND_TIMEOUT_S,
            check=False,
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise click.ClickException(
            f"--token-command could not be run ({type(exc).__name__})"
        ) from exc
    token = done.stdout.decode("utf-8", "replace").strip()
    if done.returncode != 0 or not token:
        # Its output is not shown: it may hold the token, or part of it.
        raise click.ClickException(
            f"--token-command exited with {done.returncode} and printed "
            f"{'no token' if not token else 'something'}; its output is not shown"
        )
    return token


def run_pull(
    pull: str,
    config_dir: Path,
    *,
    github_url: str,
    token_command: str | None,
    key_dir: Path | None,
    current_tiers: tuple[str, ...],
    save_facts: Path | None,
    output: Format,
) -> Decision:
    repo, number = parse_target(pull)
    tiers = parse_current_tiers(current_tiers)
    token = resolve_token(token_command)
    files, problems = working_rules(config_dir)
    # By name: the CLI layer does not import the GitHub client (import contracts).
    runtime = importlib.import_module("controller.run.plan_pull")
    try:
        keys = None if key_dir is None else open_keyring(key_dir)[1]
        result = runtime.plan_pull(
            github_url=github_url,
            token=token,
            repo=repo,
            number=number,
            rule_files=files,
            rule_problems=problems,
            keys=keys,
            current_tiers=tiers,
        )
    except SealgateError as exc:
        raise fail(exc) from exc
    if save_facts is not None:
        save_facts.write_text(json.dumps(facts_to_json(result.facts), indent=2) + "\n")
    render_pull(result, output)
    working: Decision = result.working
    return working


def working_rules(config_dir: Path) -> tuple[dict[str, bytes], list[Problem]]:
    """The rules to try, and what kept them from being read whole."""
    read = read_repository(config_dir, RULES_AREAS)
    problems = list(read.problems)
    missing = [area for area in RULES_AREAS if not (config_dir / area).is_dir()]
    if missing:
        problems.append(
            Problem(
                config_dir.as_posix(),
                "",
                f"--config must name a directory holding {' and '.join(RULES_AREAS)}/; "
                f"missing: {', '.join(f'{area}/' for area in missing)}",
            )
        )
    return read.files, problems


def render_pull(result: Any, output: Format) -> None:
    """The one place ``plan --pull`` prints."""
    # Reasons name the files given; a path shaped like a value is not repeated.
    working = dataclasses.replace(result.working, reasons=quiet_lines(result.working.reasons))
    base_decision = dataclasses.replace(result.base, reasons=quiet_lines(result.base.reasons))
    base = f"{result.base_ref}@{result.rules_sha[:12]}"
    if not output.is_table:
        document = {
            "pullRequest": f"{result.repo}#{result.number}",
            "headSha": result.head_sha,
            "baseRef": result.base_ref,
            "rulesSha": result.rules_sha,
            "workingTree": as_json(working),
            "baseBranch": as_json(base_decision) if result.differs else None,
            "differs": result.differs,
            "notes": list(result.notes),
        }
        click.echo(dump(document, output))
        return
    width = terminal_width()
    print_text(f"Pull request {result.repo}#{result.number}, head {result.head_sha[:12]}")
    print_text("With the rules in --config:")
    render_text(working, width)
    if result.differs:
        click.echo()
        print_text(f"With the rules at {base} (what the controller decides now):")
        render_text(base_decision, width)
    else:
        print_text(f"The rules at {base} decide the same.")
    print_text("Notes:")
    for note in result.notes:
        print_text(f"  - {note}")
