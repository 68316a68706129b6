"""``sealgate run --config FILE [--check [--online]]``: the long-running controller."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from controller.cli.exit_codes import ExitCode, epilog
from controller.config import ConfigError, load_config
from controller.logs import setup_logging


@click.command(
    "run",
    epilog=epilog(
        (ExitCode.OK, "stopped cleanly (--check: the configuration is valid)"),
        (ExitCode.ERROR, "could not start, or work in flight did not finish on shutdown"),
        (ExitCode.INVALID, "the configuration has problems (each is printed)"),
    ),
)
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The controller's configuration file (YAML, see schemas/config.schema.json).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Check everything the start would refuse (files, permissions, keys, the store, "
    "kubeconfig contexts, secrets), list every problem, then exit.",
)
@click.option(
    "--online",
    is_flag=True,
    help="With --check: also reach GitHub (authentication, repository, rules, key ids) and "
    "every cluster (API, namespaces, access).",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format of --check.",
)
def run(config_path: Path, check: bool, online: bool, output: str) -> None:
    """Run the controller: webhooks, polling, reconciling, drift repair, metrics.

    Stops cleanly on SIGTERM or SIGINT: no new requests, work in flight finishes (up to
    reconcile.shutdownTimeout), the leader Lease is released.
    """
    if online and not check:
        raise click.UsageError("--online only goes with --check")
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        # Problems name file, line, field and fix; never a secret value.
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        count = len(exc.problems)
        click.echo(f"{count} problem{'s' if count != 1 else ''} in the configuration", err=True)
        sys.exit(ExitCode.INVALID)
    if check:
        # Loaded by name (see below): the checks use the store, Kubernetes and GitHub adapters.
        preflight = importlib.import_module("controller.run.preflight")
        findings = list(preflight.offline_checks(config))
        if online:
            findings += importlib.import_module("controller.run.preflight_online").online_checks(
                config
            )
        errors = [f for f in findings if f.level == "error"]
        _print_check(config_path, config, findings, output, online=online)
        sys.exit(ExitCode.INVALID if errors else ExitCode.OK)
    setup_logging(config.logging.level, config.logging.format)
    # Loaded by name, like every command: the CLI layer itself stays free of the GitHub and
    # Kubernetes clients (import contracts); only a real run pays for importing them.
    runtime = importlib.import_module("controller.run")
    sys.exit(runtime.main(config))


def _print_check(
    path: Path, config: Any, findings: Sequence[Any], output: str, *, online: bool
) -> None:
    errors = [f for f in findings if f.level == "error"]
    if output == "json":
        body = {
            "config": str(path),
            "ok": not errors,
            "online": online,
            "problems": [
                {"setting": f.setting, "level": f.level, "message": f.message} for f in findings
            ],
        }
        click.echo(json.dumps(body, sort_keys=True))
        return
    for finding in findings:
        label = "" if finding.level == "error" else f"{finding.level}: "
        click.echo(f"{path}: {label}{finding}", err=finding.level == "error")
    if errors:
        count = len(errors)
        click.echo(
            f"{count} problem{'s' if count != 1 else ''}: the controller would not start", err=True
        )
        return
    auth = "GitHub App" if config.github.app is not None else "token"
    click.echo(
        f"{path}: OK (repository {config.github.repository}, {auth} authentication, "
        f"{len(config.clusters)} cluster(s), listening on {config.server.listen}"
        f"{', reached GitHub and every cluster' if online else ''})"
    )
