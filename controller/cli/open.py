"""``sealgate open`` and ``sealgate exec``: use an approved access grant.

``open`` prints the granted values; ``exec`` hands them to one command as environment
variables and prints nothing. Both ask the controller (``--api``, default ``$SEALGATE_API``)
with the caller's GitHub token (``--token-command``, else ``GITHUB_TOKEN``/``GH_TOKEN``);
the values travel sealed to a key pair made for that one call, which is never written.

``-o`` of ``open``: ``env`` (the default) prints ``export KEY='value'`` lines for ``eval``;
``dotenv`` prints ``KEY="value"`` lines for a ``.env`` file; ``json`` prints
``{grant, endsAt, environment, secret, values}`` (values that are not UTF-8 are in
``valuesBase64``). Values are printed whole whether stdout is a terminal or a pipe (as
``kubectl get secret -o jsonpath`` and ``gh auth token`` do): a person who asked to see them
sees them; a note on stderr when stdout is a terminal points to ``exec``, which keeps them
off the screen and out of scrollback.

With ``--request ID`` both use an agent's access request instead (``POST
/v1/access-requests/<id>/open``), identified by its ServiceAccount token (``--token-file``);
no ENV/NAMESPACE/NAME then: the request names the secret.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import click

from controller.cli.exit_codes import ExitCode, epilog
from controller.cli.open_client import (
    API_VARIABLE,
    OpenFailed,
    Values,
    api_url,
    fetch_values,
    github_token,
    target,
)
from controller.cli.open_request import request_values
from controller.cli.quiet import key_name_problem

_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FORMATS = ("env", "dotenv", "json")
_EXITS = epilog(
    (ExitCode.OK, "the values were printed"),
    (ExitCode.ERROR, "the controller could not be asked, or its answer did not open"),
    (ExitCode.FORBIDDEN, "refused: no live grant or key not granted (reason on stderr)"),
    (ExitCode.UNAUTHENTICATED, "no GitHub token, or GitHub refused it"),
)
_EXEC_EXITS = epilog(
    (ExitCode.OK, "the command's own status (any other too)"),
    (ExitCode.ERROR, "the controller could not be asked, or the command did not start"),
    (ExitCode.FORBIDDEN, "refused (reason on stderr); the command did not run"),
    (ExitCode.UNAUTHENTICATED, "no GitHub token, or GitHub refused it"),
)


def _common(function: click.decorators.FC) -> click.decorators.FC:
    function = click.option(
        "--token-command",
        default=None,
        metavar="COMMAND",
        help="Run this (no shell) and use its output as the GitHub token, e.g. 'gh auth "
        "token' (default: $GITHUB_TOKEN, then $GH_TOKEN).",
    )(function)
    function = click.option(
        "--api",
        default=None,
        metavar="URL",
        help=f"The controller's base URL (default: ${API_VARIABLE}).",
    )(function)
    function = click.option(
        "--key",
        "keys",
        multiple=True,
        metavar="KEY",
        help="Only this key (repeatable; default: every key granted).",
    )(function)
    function = click.option(
        "--token-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="With --request: the agent's projected ServiceAccount token (default: "
        "$SEALGATE_TOKEN_FILE).",
    )(function)
    function = click.option(
        "--request",
        "request_id",
        default=None,
        metavar="ID",
        help="An agent's access request (agent-...) instead of ENV/NAMESPACE/NAME.",
    )(function)
    return click.argument("path", metavar="ENV/NAMESPACE/NAME", required=False)(function)


def _values(
    path: str | None,
    keys: tuple[str, ...],
    api: str | None,
    token_command: str | None,
    agent: tuple[str | None, Path | None] = (None, None),
) -> Values:
    request_id, token_file = agent
    if (path is None) == (request_id is None):
        raise click.UsageError("give ENV/NAMESPACE/NAME, or --request ID of an agent's request")
    for key in keys:
        problem = key_name_problem("--key", key, fix="give the name of a key of the secret")
        if problem is not None:
            raise click.UsageError(str(problem))
    if request_id is not None:
        if token_command is not None:
            raise click.UsageError("--request takes --token-file, not --token-command")
        return request_values(api, token_file, request_id, keys)
    assert path is not None
    environment, secret = target(path)
    url = api_url(api)
    return fetch_values(url, github_token(token_command), environment, secret, keys)


@click.command("open", epilog=_EXITS)
@_common
@click.option(
    "-o",
    "--output",
    type=click.Choice(FORMATS),
    default="env",
    show_default=True,
    help="env: export lines for eval; dotenv: a .env file; json: for programs.",
)
def open_command(
    *,
    path: str | None,
    keys: tuple[str, ...],
    api: str | None,
    token_command: str | None,
    request_id: str | None,
    token_file: Path | None,
    output: str,
) -> None:
    """Print the values of a secret you were granted access to (starts the grant's clock)."""
    values = _values(path, keys, api, token_command, (request_id, token_file))
    text = render(values, output)
    sys.stdout.write(text)
    sys.stdout.flush()
    if sys.stdout.isatty():
        click.echo(
            f"sealgate: grant {values.grant} ends at {values.ends_at}; `sealgate exec "
            f"{path or '--request ' + str(request_id)} -- COMMAND` keeps values off the screen",
            err=True,
        )


_LOADER_VARIABLES = frozenset(
    {
        "PATH", "BASH_ENV", "ENV", "IFS", "PS4", "SHELLOPTS", "BASHOPTS", "CDPATH",
        "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "NODE_OPTIONS", "NODE_PATH",
        "PERL5OPT", "PERL5LIB", "RUBYOPT", "RUBYLIB", "JAVA_TOOL_OPTIONS", "GCONV_PATH",
    }
)  # fmt: skip
_LOADER_PREFIXES = ("LD_", "DYLD_", "BASH_FUNC_")


def loader_variable(key: str) -> bool:
    """Whether a key, as an environment variable, decides which code a shell or program runs.

    A secret's key names come from whoever proposed a change to it: one named ``LD_PRELOAD``
    or ``PATH`` would run code of their choosing on the machine of whoever opens the secret.
    """
    return key in _LOADER_VARIABLES or key.startswith(_LOADER_PREFIXES)


def _refuse_loader_keys(keys: Iterable[str], how: str) -> None:
    unsafe = sorted(k for k in keys if loader_variable(k))
    if unsafe:
        raise OpenFailed(
            f"key {', '.join(unsafe)} would decide which code runs if set as an environment"
            f" variable, so {how} refuses it; read the other keys with --key, or this one"
            " with -o json"
        )


@click.command("exec", epilog=_EXEC_EXITS)
@_common
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="-- COMMAND")
def exec_command(
    *,
    path: str | None,
    keys: tuple[str, ...],
    api: str | None,
    token_command: str | None,
    request_id: str | None,
    token_file: Path | None,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND with a granted secret's keys as its environment variables; prints nothing."""
    if request_id is not None and path is not None:
        # No ENV/NAMESPACE/NAME with --request: the first word is the command's.
        command = (path, *command)
        path = None
    if not command:
        raise click.UsageError("give the command to run after --, e.g. -- ./deploy.sh")
    values = _values(path, keys, api, token_command, (request_id, token_file))
    _refuse_loader_keys(values.data, "exec")
    env = dict(os.environ)
    for key, value in values.data.items():
        if "\0" in key or "=" in key or b"\0" in value:
            raise OpenFailed(f"key {key!r} cannot be an environment variable (NUL or '=')")
        env[key] = os.fsdecode(value)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        # Replace this process: signals reach the command directly, its status is ours,
        # and no parent lingers holding the values.
        os.execvpe(command[0], list(command), env)  # noqa: S606 - the person's own command
    except OSError as exc:
        raise OpenFailed(
            f"cannot run {command[0]!r}: {exc.strerror or type(exc).__name__}"
        ) from exc


def render(values: Values, output: str) -> str:
    """The values in ``output`` format; ``OpenFailed`` when a value cannot be written so."""
    if output == "json":
        return _json(values)
    if output == "env":
        # `eval` of the export lines sets them in the person's own shell.
        _refuse_loader_keys(values.data, "-o env")
    lines = []
    for key in sorted(values.data):
        text = _text(key, values.data[key], output)
        if output == "env":
            if not _SHELL_NAME.fullmatch(key):
                raise OpenFailed(
                    f"key {key!r} is not a shell variable name: use -o dotenv or -o json"
                )
            lines.append(f"export {key}={_shell_quote(text)}")
        else:
            lines.append(f"{key}={_dotenv_quote(text)}")
    return "".join(line + "\n" for line in lines)


def _text(key: str, value: bytes, output: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OpenFailed(f"key {key!r} holds binary data: use -o json (base64)") from exc


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _dotenv_quote(text: str) -> str:
    # A .env file is often sourced by a shell (`set -a; . ./.env`), where a backtick or `$`
    # inside double quotes runs a command: a value is set by people who cannot read it.
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("$", "\\$")
        .replace("`", "\\`")
    )
    return f'"{escaped}"'


def _json(values: Values) -> str:
    texts: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, value in sorted(values.data.items()):
        try:
            texts[key] = value.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(value).decode()
    document: Mapping[str, object] = {
        "grant": values.grant,
        "endsAt": values.ends_at,
        "environment": values.environment,
        "secret": values.secret,
        "values": texts,
        **({"valuesBase64": binary} if binary else {}),
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
