"""``sealgate completion bash|zsh|fish``: the shell completion script click generates.

Click answers completion requests when ``_SEALGATE_COMPLETE`` is set; this command only
prints the script that sets it, so nobody has to know the variable's name.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from controller.cli.exit_codes import SIMPLE

PROG_NAME = "sealgate"
COMPLETE_VARIABLE = "_SEALGATE_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


@click.command("completion", epilog=SIMPLE)
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL; load it from the shell's start-up file.

    \b
    bash  ~/.bashrc:  eval "$(sealgate completion bash)"
    zsh   ~/.zshrc:   eval "$(sealgate completion zsh)"
    fish  sealgate completion fish > ~/.config/fish/completions/sealgate.fish
    """
    script_class = get_completion_class(shell)
    if script_class is None:  # click knows every shell in SHELLS
        raise click.ClickException(f"click cannot complete for {shell}")
    root = ctx.find_root().command
    click.echo(script_class(root, {}, PROG_NAME, COMPLETE_VARIABLE).source())
