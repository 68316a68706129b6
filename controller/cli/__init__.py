"""The ``sealgate`` command line.

Commands load lazily: ``sealgate validate`` must not pay for importing the Kubernetes client.
Each area adds its command to ``COMMANDS`` as ``name -> "module:attribute"``.
"""

from __future__ import annotations

import importlib
import os
import select
import sys
from typing import Any

import click
from click.shell_completion import CompletionItem

from controller import __version__
from controller.cli.exit_codes import EVERY, ExitCode
from controller.cli.quiet import ARGV_KEY, quiet_error

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module:attribute, one-line help shown by `sealgate --help`)
    "validate": (
        "controller.cli.validate:validate",
        "Check environment, policy and change files.",
    ),
    "keys": (
        "controller.cli.keys:keys",
        "Create, rotate, retire and list sealing keys; create and rotate the KEK.",
    ),
    "seal": ("controller.cli.seal:seal_command", "Seal a value (from stdin) for one key."),
    "propose": ("controller.cli.propose:propose", "Write a SecretChange file for a PR."),
    "rollback": (
        "controller.cli.restore:rollback",
        "Write a SecretChange restoring a secret to an earlier version.",
    ),
    "store": ("controller.cli.store:store", "List the store's secrets and their history."),
    "audit": ("controller.cli.audit:audit", "Verify or show the store's audit log."),
    "access": (
        "controller.cli.access:access",
        "List the store's access grants; revoke one; ask for access (agents).",
    ),
    "rules": (
        "controller.cli.rules:rules",
        "Trust the rules at a commit after an out-of-band change.",
    ),
    "plan": ("controller.cli.plan:plan", "Dry-run the approval policy on changes and PR facts."),
    "run": ("controller.cli.run:run", "Run the controller (webhooks, polling, reconciling)."),
    "open": (
        "controller.cli.open:open_command",
        "Print the values of a secret you were granted access to.",
    ),
    "exec": (
        "controller.cli.open:exec_command",
        "Run a command with a granted secret's values in its environment.",
    ),
    "status": ("controller.cli.status:status", "Show where a pull request stands."),
    "wait": ("controller.cli.status:wait", "Wait until a pull request is approved or applied."),
    "sandbox": (
        "controller.cli.sandbox:sandbox",
        "Play the whole flow on loopback GitHub and Kubernetes servers.",
    ),
    "completion": (
        "controller.cli.completion:completion",
        "Print the shell completion script (bash, zsh or fish).",
    ),
}


class LazyGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[ARGV_KEY] = list(args)
        try:
            return super().parse_args(ctx, args)
        except click.ClickException as error:
            quiet_error(error, args)
            raise

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attribute = COMMANDS[cmd_name][0].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        # Names and help from the table: completing `sealgate st<TAB>` imports no command.
        names = [name for name in self.list_commands(ctx) if name.startswith(incomplete)]
        items = [CompletionItem(name, help=COMMANDS[name][1]) for name in names]
        return items + click.Command.shell_complete(self, ctx, incomplete)

    def invoke(self, ctx: click.Context) -> Any:
        # Every command's errors, click's usage errors included, leave through here.
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            quiet_error(error, ctx.meta.get(ARGV_KEY, ()))
            raise
        except KeyboardInterrupt:
            # Ctrl-C is the person's choice, not a failure to explain: no traceback, no
            # "Aborted!", the status a shell gives a program stopped by SIGINT.
            if sys.stderr.isatty():
                click.echo(err=True)  # end the line the terminal's ^C echo is on
            raise click.exceptions.Exit(ExitCode.INTERRUPTED) from None
        except BrokenPipeError:
            if not _stdout_closed():
                raise  # some other pipe or socket broke: that is an error worth showing
            # The reader went away (`sealgate audit show | head -1`): stop quietly. Output
            # still buffered would fail again at exit, so stdout now goes nowhere.
            _discard_stdout()
            raise click.exceptions.Exit(ExitCode.OUTPUT_CLOSED) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help from the table, so `--help` imports nothing heavy.
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EVERY)
@click.version_option(__version__, prog_name="sealgate")
def main() -> None:
    """Change production secrets you cannot read, with the review policy demands.

    Developers seal values to an environment's public key and propose them in pull
    requests; the controller checks reviews against policy, applies approved changes to an
    encrypted store and syncs them to Kubernetes.
    """


def _stdout_closed() -> bool:
    """True when nobody reads stdout any more (poll reports an error on a widowed pipe)."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return False  # an in-memory buffer (a test runner's) cannot be the pipe that broke
    if not hasattr(select, "poll"):
        return True
    poller = select.poll()
    poller.register(descriptor, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _discard_stdout() -> None:
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return  # not a real file (a test runner's buffer): nothing is flushed at exit
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, descriptor)
    os.close(null)
