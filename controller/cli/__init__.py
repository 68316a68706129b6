"""The ``sealgate`` command line.

Commands load lazily: ``sealgate validate`` must not pay for importing the Kubernetes client.
Each area adds its command to ``COMMANDS`` as ``name -> "module:attribute"``.
"""

from __future__ import annotations

import importlib

import click

from controller import __version__

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module:attribute, one-line help shown by `sealgate --help`)
    "validate": (
        "controller.cli.validate:validate",
        "Check environment, policy and change files.",
    ),
    "keys": ("controller.cli.keys:keys", "Create, rotate, retire and list sealing keys."),
    "seal": ("controller.cli.seal:seal_command", "Seal a value (from stdin) for one key."),
    "propose": ("controller.cli.propose:propose", "Write a SecretChange file for a PR."),
    "rollback": (
        "controller.cli.restore:rollback",
        "Write a SecretChange restoring a secret to an earlier version.",
    ),
    "store": ("controller.cli.store:store", "List the store's secrets and their history."),
    "audit": ("controller.cli.audit:audit", "Verify or show the store's audit log."),
    "rules": (
        "controller.cli.rules:rules",
        "Trust the rules at a commit after an out-of-band change.",
    ),
    "plan": ("controller.cli.plan:plan", "Dry-run the approval policy on changes and PR facts."),
    "run": ("controller.cli.run:run", "Run the controller (webhooks, polling, reconciling)."),
    "status": ("controller.cli.status:status", "Show where a pull request stands."),
    "wait": ("controller.cli.status:wait", "Wait until a pull request is approved or applied."),
    "sandbox": (
        "controller.cli.sandbox:sandbox",
        "Play the whole flow on loopback GitHub and Kubernetes servers.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attribute = COMMANDS[cmd_name][0].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help from the table, so `--help` imports nothing heavy.
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sealgate")
def main() -> None:
    """Change production secrets you cannot read, with the review policy demands.

    Developers seal values to an environment's public key and propose them in pull
    requests; the controller checks reviews against policy, applies approved changes to an
    encrypted store and syncs them to Kubernetes.
    """
