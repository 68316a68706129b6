"""``sealgate run --config FILE [--check]``: the long-running controller."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

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
    help="Validate the configuration (and that every secret it names is readable), then exit.",
)
def run(config_path: Path, check: bool) -> None:
    """Run the controller: webhooks, polling, reconciling, drift repair, metrics.

    Stops cleanly on SIGTERM or SIGINT: no new requests, work in flight finishes (up to
    reconcile.shutdownTimeout), the leader Lease is released.
    """
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
        auth = "GitHub App" if config.github.app is not None else "token"
        click.echo(
            f"{config_path}: OK (repository {config.github.repository}, {auth} authentication, "
            f"{len(config.clusters)} cluster(s), listening on {config.server.listen})"
        )
        return
    setup_logging(config.logging.level, config.logging.format)
    # Loaded by name, like every command: the CLI layer itself stays free of the GitHub and
    # Kubernetes clients (import contracts); only a real run pays for importing them.
    runtime = importlib.import_module("controller.run")
    sys.exit(runtime.main(config))
