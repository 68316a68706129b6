"""``sealgate store ls|history``: what the store holds, never a value."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from controller.cli.keys import fail, format_table, key_dir_option, open_keyring
from controller.errors import InputError, Problem, SealgateError
from controller.store import SecretInfo, Store


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


@store.command("ls")
@store_option
@click.option("--env", "env", default=None, help="Only this environment.")
@key_dir_option
def ls(store_dir: Path, env: str | None, key_dir: Path | None) -> None:
    """One row per key of every secret (fingerprints, never values)."""
    try:
        with open_store(store_dir, key_dir) as opened:
            infos = opened.list_secrets()
        if env is not None:
            _require_known_environment(env, infos, key_dir)
            infos = [i for i in infos if i.path.split("/", 1)[0] == env]
    except SealgateError as exc:
        raise fail(exc) from exc
    rows = [
        [
            info.path,
            str(info.version),
            info.tier.value,
            key,
            state.fingerprint,
            state.change_id,
            _when(state.set_at),
        ]
        for info in infos
        for key, state in info.keys.items()
    ]
    rows += [
        [
            info.path,
            str(info.version),
            info.tier.value,
            "-",
            "-",
            info.change_id,
            _when(info.updated_at),
        ]
        for info in infos
        if not info.keys
    ]
    headers = ["secret", "version", "tier", "key", "fingerprint", "change", "set at"]
    click.echo(format_table(headers, sorted(rows)))


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


@store.command("history")
@store_option
@click.option("--env", "env", required=True, help="Environment name.")
@click.option("--secret", required=True, help="<namespace>/<name> of the secret.")
@key_dir_option
def history(store_dir: Path, env: str, secret: str, key_dir: Path | None) -> None:
    """Every version of one secret, newest first, with its keys' fingerprints."""
    try:
        with open_store(store_dir, key_dir) as opened:
            versions = opened.history(env, secret)
    except SealgateError as exc:
        raise fail(exc) from exc
    rows = [
        [
            str(v.version),
            _when(v.time),
            v.tier.value,
            v.change_id,
            v.commit[:12],
            " ".join(f"{k}={fp}" for k, fp in v.fingerprints.items()) or "-",
        ]
        for v in versions
    ]
    headers = ["version", "time", "tier", "change", "commit", "fingerprints"]
    click.echo(format_table(headers, rows))
