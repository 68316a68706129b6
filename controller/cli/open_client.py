"""Ask a controller for a grant's values: the client side of ``POST /v1/open``.

A key pair and a request nonce are made for each call and kept in memory only; the answer
opens with that private key and that nonce, bound to the grant, environment and secret the
controller names, so an answer recorded, replayed or relabelled does not open.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import click
import requests

from controller.cli.exit_codes import ExitCode
from controller.cli.status import shown_url
from controller.crypto.caller_box import (
    caller_public_text,
    new_caller_key,
    new_request_nonce,
    open_for_caller,
)
from controller.errors import SealedValueError

API_VARIABLE = "SEALGATE_API"
TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")
REQUEST_TIMEOUT_S = 30.0
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
TOKEN_COMMAND_TIMEOUT_S = 30.0
_TARGET = re.compile(
    r"(?P<env>[a-z0-9][a-z0-9-]{0,62})/(?P<secret>[a-z0-9][a-z0-9.-]{0,252}/[a-z0-9][a-z0-9.-]{0,252})"
)


class OpenFailed(click.ClickException):
    """The values could not be had (exit 1); subclasses carry the other exit statuses."""

    def show(self, file: Any = None) -> None:
        click.echo(f"sealgate: {self.format_message()}", err=True)


class Forbidden(OpenFailed):
    exit_code = int(ExitCode.FORBIDDEN)


class NotAuthenticated(OpenFailed):
    exit_code = int(ExitCode.UNAUTHENTICATED)


@dataclass(frozen=True, slots=True)
class Values:
    grant: str
    ends_at: str
    environment: str
    secret: str
    data: Mapping[str, bytes] = field(repr=False)


def target(text: str) -> tuple[str, str]:
    """``production/payments/stripe`` -> (``production``, ``payments/stripe``)."""
    match = _TARGET.fullmatch(text)
    if match is None:
        raise click.UsageError(
            "ENV/NAMESPACE/NAME: expected e.g. production/payments/stripe (not shown)"
        )
    return match["env"], match["secret"]


def api_url(given: str | None) -> str:
    url = given or os.environ.get(API_VARIABLE, "")
    if not url:
        raise click.UsageError(f"give --api URL or set {API_VARIABLE} to the controller's URL")
    if not url.startswith(("http://", "https://")):
        raise click.UsageError("--api must be an http(s) URL (not shown)")
    host = (urlsplit(url).hostname or "").lower()
    if url.startswith("http://") and host not in _LOOPBACK:
        # The values travel sealed, but the GitHub token does not: only TLS protects it.
        click.echo(
            f"sealgate: warning: {shown_url(url)} is plain http; your GitHub token crosses "
            "the network unencrypted: use https",
            err=True,
        )
    return url.rstrip("/")


def github_token(command: str | None) -> str:
    """From ``--token-command``'s stdout, else ``GITHUB_TOKEN``/``GH_TOKEN``."""
    if command:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise OpenFailed("--token-command: cannot split it into words (not shown)") from exc
        if not argv:
            raise OpenFailed("--token-command is empty; e.g. --token-command 'gh auth token'")
        try:
            done = subprocess.run(  # noqa: S603 - the person's own command, no shell
                argv,
                capture_output=True,
                timeout=TOKEN_COMMAND_TIMEOUT_S,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OpenFailed(
                f"--token-command could not run ({type(exc).__name__}); the command is not shown"
            ) from exc
        if done.returncode != 0:
            raise OpenFailed(f"--token-command exited {done.returncode}; is gh logged in?")
        token = done.stdout.decode(errors="replace").strip()
        if not token:
            raise OpenFailed("--token-command printed no token")
        return token
    for name in TOKEN_VARIABLES:
        token = os.environ.get(name, "").strip()
        if token:
            return token
    raise NotAuthenticated(
        "no GitHub token: set GITHUB_TOKEN or pass --token-command 'gh auth token'"
    )


def fetch_values(
    api: str, token: str, environment: str, secret: str, keys: Sequence[str]
) -> Values:
    """The granted values, opened; ``OpenFailed`` with the controller's reason otherwise."""
    private_key = new_caller_key()
    nonce = new_request_nonce()
    body: dict[str, Any] = {
        "environment": environment,
        "secret": secret,
        "publicKey": caller_public_text(private_key),
        "nonce": nonce,
    }
    if keys:
        body["keys"] = list(keys)
    shown = shown_url(api)
    try:
        response = requests.post(
            f"{api}/v1/open",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=REQUEST_TIMEOUT_S,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise OpenFailed(f"cannot reach {shown}: {type(exc).__name__}") from exc
    answer = _json(response)
    message = str(answer.get("message", "")) if isinstance(answer, dict) else ""
    status = response.status_code
    if status == 200 and isinstance(answer, dict):
        return _opened(answer, private_key=private_key, nonce=nonce, env=environment, secret=secret)
    if status == 401:
        raise NotAuthenticated(f"not authenticated: {message}")
    if status == 403:
        reason = str(answer.get("reason", "refused")) if isinstance(answer, dict) else "refused"
        raise Forbidden(f"refused ({reason}): {message}")
    if status == 404:
        raise OpenFailed(
            f"{shown} does not serve /v1/open: the controller's api.open.enabled is off, "
            "or this is not a sealgate controller"
        )
    if status == 429:
        wait = response.headers.get("Retry-After", "a few")
        raise OpenFailed(f"rate limited by {shown}; try again in {wait}s")
    raise OpenFailed(f"{shown} answered {status}" + (f": {message}" if message else ""))


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _opened(answer: Mapping[str, Any], **how: Any) -> Values:
    grant, sealed = answer.get("grant"), answer.get("sealed")
    if not isinstance(grant, str) or not isinstance(sealed, str):
        raise OpenFailed("the controller's answer lacks grant or sealed; is this sealgate?")
    try:
        data = open_for_caller(
            sealed,
            how["private_key"],
            grant_id=grant,
            environment=how["env"],
            secret=how["secret"],
            nonce=how["nonce"],
        )
    except SealedValueError as exc:
        raise OpenFailed(str(exc)) from exc
    return Values(
        grant=grant,
        ends_at=str(answer.get("endsAt", "")),
        environment=how["env"],
        secret=how["secret"],
        data=data,
    )
