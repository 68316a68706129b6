"""``sealgate access ls|revoke``: the store's access grants, and an operator's revocation.

A grant holds names, people and times, never a value, but each is MACed under its
environment's data key (a grant opens values, so nobody who merely writes the store's
repository may mint one): listing verifies and revoking signs, so both need the key
directory's KEK, like ``sealgate store ls``. A revocation written here takes effect at once
for ``open`` (the controller reads the store before handing out anything); the running
controller removes a ``kubernetes`` delivery and records the grant's end on its next expiry
pass.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path

import click

from controller.cli.access_request import request_command
from controller.cli.access_rows import GRANT_COLUMNS, grant_json, grant_rows
from controller.cli.exit_codes import ExitCode, epilog
from controller.cli.keys import fail, key_dir_option
from controller.cli.output import Format, dump, output_option, print_text, render
from controller.cli.store import open_store, store_option
from controller.documents.reason_check import REASON_CREDENTIAL_MESSAGE, credential_in
from controller.errors import SealgateError
from controller.store import Store


def open_grants(store_dir: Path, key_dir: Path | None) -> Store:
    if not (store_dir / "HEAD").is_file():
        raise click.BadParameter(
            f"{store_dir} is not a store (a bare git repository): give the store's path",
            param_hint="--store",
        )
    return open_store(store_dir, key_dir)


# ------------------------------------------------------------------------------ commands


@click.group("access")
def access() -> None:
    """List the access grants in the store; revoke one; ask for access as an agent."""


access.add_command(request_command)


@access.command("ls", epilog=epilog(ExitCode.OK, ExitCode.ERROR))
@store_option
@click.option("--env", "env", default=None, help="Only this environment's grants.")
@click.option(
    "--all", "show_all", is_flag=True, help="Also grants that ended (lapsed, ended, revoked)."
)
@key_dir_option
@output_option(help="table: one row per grant; json or yaml: one object per grant.")
def ls(
    store_dir: Path, env: str | None, show_all: bool, key_dir: Path | None, output: Format
) -> None:
    """The grants whose end is not recorded yet (with --all: every grant), oldest first."""
    now = datetime.now(UTC)
    try:
        with open_grants(store_dir, key_dir) as store:
            grants = store.grants(live_only=not show_all)
    except SealgateError as exc:
        raise fail(exc) from exc
    if env is not None:
        grants = [g for g in grants if g.environment == env]
    render(
        grant_rows(grants, now),
        GRANT_COLUMNS,
        output,
        document=[grant_json(g, now) for g in grants],
    )


@access.command(
    "revoke",
    epilog=epilog(
        (ExitCode.OK, "revoked, or over already (nothing written)"),
        (ExitCode.ERROR, "no such grant, or the store cannot be read or written"),
    ),
)
@click.argument("grant_id")
@store_option
@click.option("--reason", required=True, help="Why, for the audit log and the requester.")
@click.option("--actor", default=None, help="Who revokes, for the audit log (default: your login).")
@key_dir_option
@output_option(help="table: what happened; json or yaml: the grant after the revocation.")
def revoke(
    *,
    grant_id: str,
    store_dir: Path,
    reason: str,
    actor: str | None,
    key_dir: Path | None,
    output: Format,
) -> None:
    """Revoke GRANT_ID at once; the controller then removes its delivery."""
    if not reason.strip():
        raise click.BadParameter("say why the grant is revoked", param_hint="--reason")
    kind = credential_in(reason)
    if kind is not None:
        raise click.BadParameter(REASON_CREDENTIAL_MESSAGE.format(kind=kind), param_hint="--reason")
    now = datetime.now(UTC)
    try:
        with open_grants(store_dir, key_dir) as store:
            before = store.grant(grant_id)
            if before is None:
                raise click.ClickException(
                    f"no grant {grant_id!r} in {store_dir}; list them with "
                    "`sealgate access ls --all`"
                )
            after = store.revoke_grant(
                grant_id, at=now, actor=actor or getpass.getuser(), reason=reason
            )
    except SealgateError as exc:
        raise fail(exc) from exc
    if not output.is_table:
        click.echo(dump(grant_json(after, now), output))
    elif after is before or after == before:
        print_text(f"grant {grant_id} is {after.state(now)} already: nothing written")
    else:
        print_text(f"revoked grant {grant_id}; the controller removes its delivery next")
