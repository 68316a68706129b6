"""``sealgate store ls|history``: what the store holds, never a value."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import click

from controller.cli.exit_codes import SIMPLE
from controller.cli.keys import fail, key_dir_option, open_keyring
from controller.cli.output import Column, Format, output_option, render, timestamp
from controller.errors import InputError, Problem, SealgateError
from controller.store import SecretInfo, Store, VersionInfo


def open_store(store_dir: Path, key_dir: Path | None) -> Store:
    kek, keyring = open_keyring(key_dir)
    return Store(store_dir, kek, keyring)


store_option = click.option(
    "--store",
    "store_dir",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The store repository (a bare git repository).",
)


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%SZ}"


@click.group("store")
def store() -> None:
    """Inspect the encrypted store: names, versions, tiers, fingerprints, change ids."""


@store.command("ls", epilog=SIMPLE)
@store_option
@click.option("--env", "env", default=None, help="Only this environment.")
@key_dir_option
@output_option(
    help="table: one row per key of every secret; json or yaml: one object per secret "
    "(schemas/cli/store-ls.schema.json)."
)
def ls(store_dir: Path, env: str | None, key_dir: Path | None, output: Format) -> None:
    """One row per key of every secret (fingerprints, never values)."""
    try:
        with open_store(store_dir, key_dir) as opened:
            infos = opened.list_secrets()
        if env is not None:
            _require_known_environment(env, infos, key_dir)
            infos = [i for i in infos if i.path.split("/", 1)[0] == env]
    except SealgateError as exc:
        raise fail(exc) from exc
    print_secrets(infos, output)


def print_secrets(infos: Sequence[SecretInfo], output: Format) -> None:
    document = [
        {
            "path": info.path,
            "version": info.version,
            "tier": info.tier.value,
            "changeId": info.change_id,
            "updatedAt": timestamp(info.updated_at),
            "keys": {
                key: {
                    "fingerprint": state.fingerprint,
                    "changeId": state.change_id,
                    "setAt": timestamp(state.set_at),
                }
                for key, state in sorted(info.keys.items())
            },
        }
        for info in sorted(infos, key=lambda i: i.path)
    ]
    rows = [
        {
            "secret": info.path,
            "version": info.version,
            "tier": info.tier.value,
            "key": key,
            "fingerprint": state.fingerprint,
            "change": state.change_id,
            "setAt": _when(state.set_at),
        }
        for info in infos
        for key, state in info.keys.items()
    ]
    rows += [
        {
            "secret": info.path,
            "version": info.version,
            "tier": info.tier.value,
            "change": info.change_id,
            "setAt": _when(info.updated_at),
        }
        for info in infos
        if not info.keys
    ]
    rows.sort(key=lambda row: (row["secret"], row.get("key") or ""))
    render(rows, _SECRET_COLUMNS, output, document=document)


_SECRET_COLUMNS = (
    Column("secret", "secret"),
    Column("version", "version"),
    Column("tier", "tier"),
    Column("key", "key"),
    Column("fingerprint", "fingerprint"),
    Column("change", "change"),
    Column("set at", "setAt"),
)


def _require_known_environment(env: str, infos: list[SecretInfo], key_dir: Path | None) -> None:
    """An environment neither the store nor the key directory knows is a typo, not an
    empty environment: an empty table would read as "nothing stored"."""
    known = {info.path.split("/", 1)[0] for info in infos}
    known |= {info.environment for info in open_keyring(key_dir)[1].list_keys()}
    if env not in known:
        raise InputError(
            [
                Problem(
                    "--env",
                    "",
                    f"environment {env!r} is not in the store nor the key directory (known: "
                    f"{', '.join(sorted(known)) or 'none'}): check the name",
                )
            ]
        )


@store.command("history", epilog=SIMPLE)
@store_option
@click.option("--env", "env", required=True, help="Environment name.")
@click.option("--secret", required=True, help="<namespace>/<name> of the secret.")
@key_dir_option
@output_option(
    Format.TABLE,
    Format.WIDE,
    Format.JSON,
    Format.YAML,
    help="table (wide: whole commit ids); json or yaml: one object per version "
    "(schemas/cli/store-history.schema.json).",
)
def history(store_dir: Path, env: str, secret: str, key_dir: Path | None, output: Format) -> None:
    """Every version of one secret, newest first, with its keys' fingerprints."""
    try:
        with open_store(store_dir, key_dir) as opened:
            versions = opened.history(env, secret)
    except SealgateError as exc:
        raise fail(exc) from exc
    print_history(versions, output)


def print_history(versions: Sequence[VersionInfo], output: Format) -> None:
    document = [
        {
            "version": v.version,
            "updatedAt": timestamp(v.time),
            "tier": v.tier.value,
            "changeId": v.change_id,
            "commit": v.commit,
            "fingerprints": dict(v.fingerprints),
        }
        for v in versions
    ]
    rows = [
        {
            "version": v.version,
            "time": _when(v.time),
            "tier": v.tier.value,
            "change": v.change_id,
            "commit": v.commit if output is Format.WIDE else v.commit[:12],
            "fingerprints": dict(v.fingerprints),
        }
        for v in versions
    ]
    columns = (
        Column("version", "version"),
        Column("time", "time"),
        Column("tier", "tier"),
        Column("change", "change"),
        Column("commit", "commit"),
        Column("fingerprints", "fingerprints"),
    )
    render(rows, columns, output, document=document)
