"""The agents API from the command line: the pieces ``access request`` and ``open
--request`` share (the controller's URL, the token file, the errors' exit statuses).

The token is a Kubernetes ServiceAccount token (a projected one, audience as the
controller's ``api.agents.audience``), read from ``--token-file`` on every call.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import click

from controller.cli.exit_codes import ExitCode
from controller.cli.open_client import (
    API_VARIABLE,
    Forbidden,
    NotAuthenticated,
    OpenFailed,
    Values,
)
from controller.cli.status import shown_url
from controller.client import (
    ClientError,
    InvalidRequest,
    SealgateClient,
    TokenFileError,
)
from controller.client import Forbidden as ClientForbidden
from controller.client import NotAuthenticated as ClientNotAuthenticated

TOKEN_FILE_VARIABLE = "SEALGATE_TOKEN_FILE"  # noqa: S105 - the name of a variable
CA_FILE_VARIABLE = "SEALGATE_CA_FILE"
"""A PEM bundle to verify the controller's https certificate with (an internal CA)."""
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class Invalid(OpenFailed):
    exit_code = int(ExitCode.INVALID)


def agent_client(api: str | None, token_file: Path | None) -> SealgateClient:
    url = api or os.environ.get(API_VARIABLE, "")
    if not url:
        raise click.UsageError(f"give --api URL or set {API_VARIABLE} to the controller's URL")
    if not url.startswith(("http://", "https://")):
        raise click.UsageError("--api must be an http(s) URL (not shown)")
    if url.startswith("http://") and (urlsplit(url).hostname or "").lower() not in _LOOPBACK:
        click.echo(
            f"sealgate: warning: {shown_url(url)} is plain http; the ServiceAccount token "
            "crosses the network unencrypted: use https",
            err=True,
        )
    path = token_file or (
        Path(os.environ[TOKEN_FILE_VARIABLE]) if os.environ.get(TOKEN_FILE_VARIABLE) else None
    )
    if path is None:
        raise click.UsageError(
            f"give --token-file PATH (a projected ServiceAccount token) or set "
            f"{TOKEN_FILE_VARIABLE}"
        )
    try:
        return SealgateClient(url, path, ca_file=os.environ.get(CA_FILE_VARIABLE) or None)
    except ClientError as exc:
        raise click.UsageError(str(exc)) from exc


def failure(exc: ClientError) -> click.ClickException:
    """The command-line error of a client error, with the exit status of its kind."""
    if isinstance(exc, ClientNotAuthenticated | TokenFileError):
        return NotAuthenticated(str(exc))
    if isinstance(exc, ClientForbidden):
        return Forbidden(str(exc))
    if isinstance(exc, InvalidRequest):
        return Invalid(str(exc))
    return OpenFailed(str(exc))


def request_values(
    api: str | None, token_file: Path | None, request_id: str, keys: Sequence[str]
) -> Values:
    """The values of an agent's granted access request (``POST .../<id>/open``)."""
    client = agent_client(api, token_file)
    try:
        opened = client.open_grant(request_id, list(keys) or None)
    except ClientError as exc:
        raise failure(exc) from exc
    return Values(
        grant=opened.grant,
        ends_at=opened.ends_at,
        environment=opened.environment,
        secret=opened.secret,
        data=opened.values,
    )
