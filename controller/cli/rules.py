"""``sealgate rules trust``: mark the rules at a commit as trusted to judge pull requests.

The controller refuses to judge by rules that changed outside an approved governance pull
request. After such a change was reviewed (or fixed by hand), an operator trusts it here;
the store audits who did and why.
"""

from __future__ import annotations

import getpass
import importlib
from pathlib import Path

import click

from controller.cli.exit_codes import SIMPLE
from controller.cli.keys import fail
from controller.config import ConfigError, load_config
from controller.errors import SealgateError


@click.group("rules")
def rules() -> None:
    """Trust the rules (environments/ and policies/) the controller judges by."""


@rules.command("trust", epilog=SIMPLE)
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The controller's configuration file.",
)
@click.option(
    "--sha",
    default=None,
    help="The commit whose rules to trust (default: the tip of the default branch).",
)
@click.option("--reason", required=True, help="Why, for the audit log (e.g. the review).")
@click.option(
    "--actor", default=None, help="Who trusts them, for the audit log (default: your login)."
)
def trust(config_path: Path, sha: str | None, reason: str, actor: str | None) -> None:
    """Trust the rules at the default branch's tip (or --sha) after reviewing them."""
    if not reason.strip():
        raise click.BadParameter("say why the rules are trusted", param_hint="--reason")
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException("the configuration has problems") from exc
    # Loaded by name: the CLI layer stays free of the GitHub client (import contracts).
    runtime = importlib.import_module("controller.run.rules_trust")
    try:
        trusted = runtime.trust_rules(
            config, sha=sha, actor=actor or getpass.getuser(), reason=reason
        )
    except SealgateError as exc:
        raise fail(exc) from exc
    click.echo(
        f"trusted the rules of {trusted.repository} at {trusted.ref}@{trusted.sha[:12]} "
        f"({trusted.digest}, {len(trusted.files)} files: {', '.join(trusted.files) or 'none'})"
    )
