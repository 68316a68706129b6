"""``sealgate access request``: an agent (or a pipeline) asks for access with its
ServiceAccount token, and optionally waits for the approval.

The controller opens the pull request itself; approvers review it as any other. The exit
status says where the request stands, so a pipeline can branch on it: 0 granted, 3 still
pending (without ``--wait``), 4 the wait ran out, 5 denied, expired or over, 6 this
ServiceAccount may not ask, 7 the token was refused. The status document is printed in
every case (``-o json``/``yaml`` for programs).
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from controller.cli.exit_codes import ExitCode, epilog
from controller.cli.open_request import agent_client, failure
from controller.cli.output import Column, Format, output_option, render
from controller.client import AccessRequestStatus, ClientError, WaitTimedOut
from controller.model import SecretAccess

_DURATION = re.compile(r"[1-9][0-9]{0,5}[mhdw]")
_TIMEOUT = re.compile(r"(?P<n>[1-9][0-9]{0,6})(?P<unit>[smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SECRET = re.compile(r"[a-z0-9][a-z0-9.-]{0,252}/[a-z0-9][a-z0-9.-]{0,252}")
COLUMNS = (
    Column("ID", "id"),
    Column("STATUS", "status"),
    Column("APPROVALS", "approvals"),
    Column("GRANT ENDS", "grantEnds"),
    Column("PULL REQUEST", "pullRequest"),
)
_EXITS = epilog(
    (ExitCode.OK, "granted: approved or active (open it with `sealgate open --request ID`)"),
    (ExitCode.ERROR, "the controller could not be asked, or it answered out of contract"),
    (ExitCode.PENDING, "pending: waiting for approvals (without --wait)"),
    (ExitCode.TIMED_OUT, "--wait: still pending after --timeout"),
    (ExitCode.INVALID, "denied, expired or over; or the request is invalid (problems on stderr)"),
    (ExitCode.FORBIDDEN, "this ServiceAccount may not ask for that (reason on stderr)"),
    (ExitCode.UNAUTHENTICATED, "no token file, or the token was refused (reason on stderr)"),
)


def _duration(option: str, value: str | None) -> str | None:
    if value is not None and not _DURATION.fullmatch(value):
        raise click.BadParameter(
            "a whole number and m, h, d or w, e.g. 5m, 2h, 1d", param_hint=option
        )
    return value


def timeout_seconds(value: str) -> float:
    match = _TIMEOUT.fullmatch(value)
    if match is None:
        raise click.BadParameter(
            "a whole number and s, m, h or d, e.g. 90s, 30m", param_hint="--timeout"
        )
    return float(int(match["n"]) * _UNITS[match["unit"]])


def exit_code(status: AccessRequestStatus) -> ExitCode:
    if status.is_granted:
        return ExitCode.OK
    if status.is_pending:
        return ExitCode.PENDING
    return ExitCode.INVALID


def _row(status: AccessRequestStatus) -> dict[str, object]:
    ends = status.grant.ends_at if status.grant is not None else None
    return {
        "id": status.id,
        "status": status.state.value + (" (auto-approved)" if status.auto_approved else ""),
        "approvals": f"{status.current_approvals}/{status.required_approvals}",
        "grantEnds": ends.isoformat().replace("+00:00", "Z") if ends is not None else "-",
        "pullRequest": status.pull_request_url or "-",
    }


def _show(status: AccessRequestStatus, output: Format) -> None:
    render([_row(status)], COLUMNS, output, document=status.to_json())
    if output.is_table and status.is_pending and status.can_approve:
        click.echo(f"sealgate: can approve: {', '.join(status.can_approve)}", err=True)
    if output.is_table and status.denial_reason:
        click.echo(f"sealgate: {status.state.value}: {status.denial_reason}", err=True)


@click.command("request", epilog=_EXITS)
@click.option(
    "--api", default=None, metavar="URL", help="The controller's base URL (default: $SEALGATE_API)."
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The projected ServiceAccount token (default: $SEALGATE_TOKEN_FILE); read on every call.",
)
@click.option("--env", "environment", required=True, help="The environment, e.g. production.")
@click.option("--secret", required=True, help="<namespace>/<name>, e.g. payments/stripe.")
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="KEY",
    help="Only this key (repeatable; default: every key).",
)
@click.option("--reason", required=True, help="Why: shown to the approvers and in the audit log.")
@click.option("--duration", required=True, help="How long access lasts from first use, e.g. 5m.")
@click.option(
    "--activate-within", default="1h", show_default=True, help="First use by then, or it lapses."
)
@click.option(
    "--cluster",
    default=None,
    help="The cluster whose TokenReview vouches for the token (default: each cluster of "
    "the environment).",
)
@click.option(
    "--idempotency-key",
    default=None,
    help="Asking again with the same key returns the same request.",
)
@click.option("--wait", "wait", is_flag=True, help="Wait until approved, denied or expired.")
@click.option(
    "--timeout", default="30m", show_default=True, help="How long --wait waits, e.g. 90s, 30m."
)
@output_option(
    Format.TABLE,
    Format.JSON,
    Format.YAML,
    help="table: one row; json or yaml: the status document.",
)
def request_command(
    *,
    api: str | None,
    token_file: Path | None,
    environment: str,
    secret: str,
    keys: tuple[str, ...],
    reason: str,
    duration: str,
    activate_within: str,
    cluster: str | None,
    idempotency_key: str | None,
    wait: bool,
    timeout: str,
    output: Format,
) -> None:
    """Ask for access to SECRET as this ServiceAccount; the controller opens the pull request."""
    _duration("--duration", duration)
    _duration("--activate-within", activate_within)
    if not _SECRET.fullmatch(secret):
        raise click.BadParameter("<namespace>/<name>, e.g. payments/stripe", param_hint="--secret")
    limit = timeout_seconds(timeout)
    client = agent_client(api, token_file)
    try:
        status = client.request_access(
            environment,
            [SecretAccess(secret, keys)],
            reason,
            duration,
            activate_within,
            idempotency_key=idempotency_key,
            cluster=cluster,
        )
        if wait and status.is_pending:
            where = f" ({status.pull_request_url})" if status.pull_request_url else ""
            click.echo(f"sealgate: {status.id} waits for approval{where}", err=True)
            status = client.wait(status.id, limit)
    except WaitTimedOut as exc:
        _show(exc.last, output)
        click.echo(f"sealgate: {exc}", err=True)
        raise click.exceptions.Exit(int(ExitCode.TIMED_OUT)) from None
    except ClientError as exc:
        raise failure(exc) from exc
    _show(status, output)
    code = exit_code(status)
    if code is not ExitCode.OK:
        raise click.exceptions.Exit(int(code))
