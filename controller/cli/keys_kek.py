"""``sealgate keys kek init`` and ``sealgate keys rewrap``: create and rotate the
key-encryption key (KEK) that wraps every other key.

A KEK is only ever created by these explicit commands (and ``keys init --new-kek``), each
saying on stderr where it is and that it must be backed up: a lost KEK cannot be replaced.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass, field
from pathlib import Path

import click

from controller.cli.exit_codes import SIMPLE
from controller.cli.keys import fail, key_dir_option
from controller.crashpoint import crashpoint
from controller.errors import IntegrityError, SealgateError
from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile, default_key_dir
from controller.keyring.files import fsync_directory
from controller.keyring.rewrap import (
    finish_files,
    next_kek_path,
    stage_files,
    switch_kek,
    wrapped_files,
)
from controller.store import Store

_kek_file_option = click.option(
    "--kek-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The key-encryption key file (default: <key dir>/kek.key).",
)
_output_option = click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)


def announce_new_kek(path: Path, note: str = "") -> None:
    """Said loudly, on stderr, whenever a KEK is created."""
    click.echo(
        f"\nA NEW KEY-ENCRYPTION KEY was created: {path}{note}\n"
        "Back it up now, offline (a password manager vault or an escrow, two people): every\n"
        "key sealgate keeps is wrapped by it, and without it nothing can be opened again.\n",
        err=True,
    )


def create_kek(key_dir: Path, kek_file: Path) -> LocalKekFile:
    """A KEK for a new installation only: refused where keys wrapped by another one are."""
    if Keyring(key_dir, _NoKek()).list_keys() or (key_dir / "checksum-key.json").exists():
        raise IntegrityError(
            f"{key_dir} already holds keys wrapped by a key-encryption key: a new one would "
            f"open none of them; restore {kek_file} from backup instead, or use "
            "`sealgate keys rewrap` to replace a KEK you still have"
        )
    kek = LocalKekFile.create_new(kek_file)
    announce_new_kek(kek_file)
    return kek


class _NoKek:
    """Lists public key facts without a KEK (listing never unwraps)."""

    key_id = "none"

    def wrap(self, plaintext: bytes, associated_data: bytes) -> bytes:
        raise IntegrityError("no key-encryption key")

    def unwrap(self, wrapped: bytes, associated_data: bytes) -> bytes:
        raise IntegrityError("no key-encryption key")


@click.group("kek", epilog=SIMPLE)
def kek() -> None:
    """Create the key-encryption key of a new installation."""


@kek.command("init", epilog=SIMPLE)
@key_dir_option
@_kek_file_option
def kek_init(key_dir: Path | None, kek_file: Path | None) -> None:
    """Create a new KEK (never over an existing one, never beside existing keys)."""
    directory = key_dir if key_dir is not None else default_key_dir()
    try:
        created = create_kek(directory, kek_file or directory / KEK_FILE_NAME)
    except SealgateError as exc:
        raise fail(exc) from exc
    click.echo(f"created key-encryption key {created.key_id} at {created.path}")


@dataclass
class RewrapReport:
    kek_file: Path
    new_kek: str
    old_kek: str | None = None
    retired_kek_file: Path | None = None
    resumed: bool = False
    key_files: int = 0
    data_keys: list[str] = field(default_factory=list)
    audited: bool = False
    staged_only: bool = False
    """The KEK file is a link: both KEKs open everything until it points at the new one."""
    next_kek_file: Path | None = None


@click.command("rewrap", epilog=SIMPLE)
@key_dir_option
@_kek_file_option
@click.option(
    "--store",
    "store_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="The store whose data keys the KEK wraps too (required unless --no-store).",
)
@click.option("--no-store", is_flag=True, help="This key directory has no store.")
@_output_option
def rewrap(
    key_dir: Path | None,
    kek_file: Path | None,
    store_dir: Path | None,
    no_store: bool,
    output: str,
) -> None:
    """Rotate the KEK: re-wrap every key under a new one, crash-safe and audited.

    Stop the controller first (it holds the old KEK in memory). A new KEK is written to
    <kek file>.next, every key gains a wrap by it beside the old one, the old KEK is kept as
    <kek file>.retired-<id> and the new one renamed into place, then the old wraps are
    dropped. Interrupted at any point, the KEK file in place opens everything; run the
    command again to finish.
    """
    if (store_dir is None) == (not no_store):
        raise click.UsageError(
            "name the store with --store (its data keys are wrapped by the KEK too), or "
            "pass --no-store if this key directory has none"
        )
    directory = key_dir if key_dir is not None else default_key_dir()
    try:
        report = _rewrap(directory, kek_file or directory / KEK_FILE_NAME, store_dir)
    except SealgateError as exc:
        raise fail(exc) from exc
    _print_report(report, output)


def _rewrap(key_dir: Path, kek_file: Path, store_dir: Path | None) -> RewrapReport:
    actor = getpass.getuser()
    current = LocalKekFile(kek_file)
    next_file = next_kek_path(kek_file)
    store = Store(store_dir, current, Keyring(key_dir, current)) if store_dir else None
    try:
        files = wrapped_files(key_dir, Keyring(key_dir, current))
        report = RewrapReport(kek_file=kek_file, new_kek=current.key_id)
        installed = next_file.exists() and LocalKekFile(next_file).key_id == current.key_id
        if installed:
            # A linked KEK file: the operator put the staged KEK where it comes from.
            next_file.unlink()
            fsync_directory(next_file.parent)
        if not next_file.exists():
            # Finishing first is a no-op unless a rotation stopped after its switch.
            report.key_files = finish_files(files, current)
            if store is not None:
                report.data_keys = store.rewrap_data_keys(
                    None, current, actor=actor, audit_always=installed
                )
            if installed or report.key_files or report.data_keys:
                report.resumed = True
                report.audited = store is not None and (installed or bool(report.data_keys))
                return _verified(report, key_dir, current, store_dir)
            new = LocalKekFile.create_new(next_file)
            announce_new_kek(next_file, f" (it replaces {kek_file})")
            crashpoint("rewrap:next-kek-created")
        else:
            new = LocalKekFile(next_file)
            report.resumed = True
        stage_files(files, current, new)
        crashpoint("rewrap:keys-staged")
        if store is not None:
            store.rewrap_data_keys(current, new, actor=actor)
            crashpoint("rewrap:store-staged")
        report.old_kek, report.new_kek = current.key_id, new.key_id
        if kek_file.is_symlink():
            # Provisioned from outside (docs/production.md links it from a Secret): replacing
            # the link would leave the only copy of the new KEK where a restart removes it.
            report.staged_only, report.next_kek_file = True, next_file
            _verified(report, key_dir, new, store_dir)
            return _verified(report, key_dir, current, store_dir)
        report.retired_kek_file = switch_kek(kek_file, next_file, current.key_id)
        final = LocalKekFile(kek_file)
        report.key_files = finish_files(files, final)
        crashpoint("rewrap:keys-finished")
        if store is not None:
            report.data_keys = store.rewrap_data_keys(
                None, final, actor=actor, audit_always=True, previous=current.key_id
            )
            report.audited = True
        return _verified(report, key_dir, final, store_dir)
    finally:
        if store is not None:
            store.close()


def _verified(
    report: RewrapReport, key_dir: Path, kek: LocalKekFile, store_dir: Path | None
) -> RewrapReport:
    """Everything opens with the KEK now in place, or the command fails saying so."""
    Keyring(key_dir, kek).key_set()
    if store_dir is not None:
        with Store(store_dir, kek, Keyring(key_dir, kek)) as store:
            store.unwrap_data_keys()
    return report


def _print_report(report: RewrapReport, output: str) -> None:
    if output == "json":
        body = {
            "kekFile": str(report.kek_file),
            "newKek": report.new_kek,
            "oldKek": report.old_kek,
            "retiredKekFile": str(report.retired_kek_file) if report.retired_kek_file else None,
            "nextKekFile": str(report.next_kek_file) if report.next_kek_file else None,
            "stagedOnly": report.staged_only,
            "resumed": report.resumed,
            "keyFiles": report.key_files,
            "dataKeys": report.data_keys,
            "audited": report.audited,
        }
        click.echo(json.dumps(body, sort_keys=True))
    elif report.staged_only:
        click.echo(
            f"staged: every key is wrapped by {report.old_kek} (in use, {report.kek_file}) and "
            f"by {report.new_kek} ({report.next_kek_file})"
        )
    else:
        click.echo(
            f"{'finished an interrupted rotation: ' if report.resumed else ''}every key is "
            f"wrapped by {report.new_kek} ({report.kek_file}): {report.key_files} key "
            f"file(s), {len(report.data_keys)} store data key(s)"
        )
    click.echo(_advice(report), err=True)


def _advice(report: RewrapReport) -> str:
    if report.staged_only:
        return (
            f"\n{report.kek_file} is a link (a KEK provisioned from outside, e.g. the Secret "
            "sealgate-kek), so it was not replaced. Both KEKs open everything now. Next:\n"
            f"  1. back up {report.next_kek_file} offline;\n"
            "  2. put its content where the KEK comes from (the Secret sealgate-kek) and "
            "restart the controller;\n"
            "  3. run this command again: it drops the old wraps and removes "
            f"{report.next_kek_file}. Then destroy every copy of the old KEK.\n"
        )
    retired = report.retired_kek_file
    text = (
        f"\nThe new KEK is {report.kek_file}: back it up now, and put it wherever the old one "
        "came from (e.g. the Secret sealgate-kek), then restart the controller.\n"
    )
    if retired is not None:
        text += (
            f"The old KEK is kept at {retired}: it opens nothing any more. Keep it until the "
            "controller runs and `sealgate audit verify` passes with the new KEK, then destroy "
            "it and its backups (shred -u).\n"
        )
    if not report.audited:
        text += "No store was named: nothing was audited.\n"
    return text
