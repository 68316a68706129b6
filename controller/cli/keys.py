"""``sealgate keys``: the controller's sealing keys (init, rotate, retire, list, fingerprint).

Private keys never leave the key directory and are never printed; what is printed is the
``sealingKeys`` entry to paste into ``environments/<env>.yaml``.
"""

from __future__ import annotations

import getpass
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from controller.cli.exit_codes import SIMPLE
from controller.cli.output import Column, Format, output_option, render, timestamp
from controller.cli.quiet import key_name_problem
from controller.errors import InputError, IntegrityError, Problem, SealgateError
from controller.keyring import (
    KEK_FILE_NAME,
    KEY_DIR_VARIABLE,
    KeyInfo,
    Keyring,
    KeyStatus,
    LocalKekFile,
    default_key_dir,
)
from controller.store import Store

F = TypeVar("F", bound=Callable[..., Any])
KEY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def key_dir_option(function: F) -> F:
    return click.option(
        "--key-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"Key directory (default: ${KEY_DIR_VARIABLE}, else ~/.config/sealgate/keys).",
    )(function)


def open_keyring(key_dir: Path | None) -> tuple[LocalKekFile, Keyring]:
    """The key directory's KEK and keyring; never creates a KEK."""
    directory = key_dir if key_dir is not None else default_key_dir()
    try:
        kek = LocalKekFile(directory / KEK_FILE_NAME)
    except IntegrityError as exc:
        if key_dir is not None or (directory / KEK_FILE_NAME).exists():
            raise
        # The usual cause is a forgotten --key-dir, not a lost KEK: say which one was used.
        source = (
            f"${KEY_DIR_VARIABLE}"
            if os.environ.get(KEY_DIR_VARIABLE)
            else f"the default; pass --key-dir or set ${KEY_DIR_VARIABLE}"
        )
        raise IntegrityError(
            f"{exc} (no --key-dir was given: key directory from {source})"
        ) from exc
    return kek, Keyring(directory, kek)


def read_value(prompt: str, *, raw: bool) -> bytes:
    """A secret value from stdin, or a no-echo prompt on a terminal; never from argv.

    One trailing newline is dropped unless ``raw``: ``echo value | sealgate seal`` means the
    value, not the value and a newline.
    """
    if sys.stdin.isatty():
        text: str = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
        return text.encode()
    data = sys.stdin.buffer.read()
    if not raw and data.endswith(b"\n"):
        data = data[:-1]
        if data.endswith(b"\r"):
            data = data[:-1]
    return data


def fail(exc: SealgateError) -> click.ClickException:
    # Messages of sealgate errors name places and fixes, never values: safe to print.
    return click.ClickException(str(exc))


def _record_key_event(
    store_dir: Path | None,
    kek: LocalKekFile,
    keyring: Keyring,
    *,
    env: str,
    action: str,
    key_id: str,
) -> None:
    if store_dir is None:
        return
    with Store(store_dir, kek, keyring) as store:
        store.record_key_event(env, action, key_id, actor=getpass.getuser())


def _sealing_keys_yaml(infos: Sequence[KeyInfo]) -> str:
    entries = [
        {"id": info.key_id, "publicKey": info.public_key}
        for info in infos
        if info.status is KeyStatus.ACTIVE
    ]
    return yaml.safe_dump({"sealingKeys": entries}, sort_keys=False)


_store_option = click.option(
    "--store",
    "store_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also record the event in this store's audit log.",
)


@click.group("keys")
def keys() -> None:
    """Create, rotate, retire and list the controller's sealing keys; create (for a new
    installation) and rotate the key-encryption key that wraps them."""


@keys.command("init", epilog=SIMPLE)
@click.option("--env", "env", required=True, help="Environment name.")
@click.option(
    "--new-kek",
    is_flag=True,
    help="Also create the key-encryption key of a new installation (back it up!).",
)
@key_dir_option
@_store_option
def init(env: str, new_kek: bool, key_dir: Path | None, store_dir: Path | None) -> None:
    """Create the environment's first key pair and print its sealingKeys entry.

    The key-encryption key must exist already (restore it, or for a new installation
    `sealgate keys kek init` or --new-kek): this never creates one behind your back.
    """
    from controller.cli.keys_kek import create_kek  # noqa: PLC0415 - it imports this module

    try:
        if new_kek:
            directory = key_dir if key_dir is not None else default_key_dir()
            create_kek(directory, directory / KEK_FILE_NAME)
        kek, keyring = open_keyring(key_dir)
        info = keyring.init(env)
        _record_key_event(store_dir, kek, keyring, env=env, action="init", key_id=info.key_id)
    except SealgateError as exc:
        raise fail(exc) from exc
    click.echo(f"# Paste under spec: in environments/{env}.yaml")
    click.echo(_sealing_keys_yaml([info]), nl=False)


@keys.command("rotate", epilog=SIMPLE)
@click.option("--env", "env", required=True, help="Environment name.")
@key_dir_option
@_store_option
def rotate(env: str, key_dir: Path | None, store_dir: Path | None) -> None:
    """Add a new active key; print the new sealingKeys list (newest first)."""
    try:
        kek, keyring = open_keyring(key_dir)
        info = keyring.rotate(env)
        _record_key_event(store_dir, kek, keyring, env=env, action="rotate", key_id=info.key_id)
        current = keyring.list_keys(env)
    except SealgateError as exc:
        raise fail(exc) from exc
    click.echo(f"# New key {info.key_id}; replace sealingKeys in environments/{env}.yaml with:")
    click.echo(_sealing_keys_yaml(current), nl=False)


@keys.command("retire", epilog=SIMPLE)
@click.option("--env", "env", required=True, help="Environment name.")
@click.option("--key-id", required=True, help="The key to retire (see `sealgate keys list`).")
@key_dir_option
@_store_option
def retire(env: str, key_id: str, key_dir: Path | None, store_dir: Path | None) -> None:
    """Stop opening values sealed to a key (keep the file for the record)."""
    try:
        if not KEY_ID.fullmatch(key_id):
            # Not a key id, so perhaps something pasted in the wrong place: not shown.
            raise InputError(
                [Problem("--key-id", "", "is not a key id (see `sealgate keys list`); not shown")]
            )
        kek, keyring = open_keyring(key_dir)
        keyring.retire(env, key_id)
        _record_key_event(store_dir, kek, keyring, env=env, action="retire", key_id=key_id)
        current = keyring.list_keys(env)
    except SealgateError as exc:
        raise fail(exc) from exc
    click.echo(f"# Retired {key_id}; replace sealingKeys in environments/{env}.yaml with:")
    click.echo(_sealing_keys_yaml(current), nl=False)


@keys.command("list", epilog=SIMPLE)
@click.option("--env", "env", default=None, help="Only this environment.")
@key_dir_option
@output_option(
    Format.TABLE,
    Format.WIDE,
    Format.JSON,
    Format.YAML,
    help="table (wide: with the public key); json or yaml: one object per key "
    "(schemas/cli/keys-list.schema.json).",
)
def list_keys(env: str | None, key_dir: Path | None, output: Format) -> None:
    """Environment, key id, created time and status of every key: no private material."""
    try:
        _, keyring = open_keyring(key_dir)
        infos = keyring.list_keys(env)
    except SealgateError as exc:
        raise fail(exc) from exc
    print_keys(infos, output)


def print_keys(infos: Sequence[KeyInfo], output: Format) -> None:
    document = [
        {
            "environment": i.environment,
            "id": i.key_id,
            "createdAt": timestamp(i.created),
            "status": i.status.value,
            "publicKey": i.public_key,
        }
        for i in infos
    ]
    rows = [
        {**d, "createdAt": i.created.strftime("%Y-%m-%d %H:%M:%SZ")}
        for d, i in zip(document, infos, strict=True)
    ]
    columns = (
        Column("environment", "environment"),
        Column("id", "id"),
        Column("created", "createdAt"),
        Column("status", "status"),
        Column("public key", "publicKey", wide=True),
    )
    render(rows, columns, output, document=document)


@keys.command("fingerprint", epilog=SIMPLE)
@click.option("--env", "env", required=True, help="Environment name.")
@click.option("--secret", "secret", required=True, help="Secret as <namespace>/<name>.")
@click.option("--key", "key", required=True, help="Key inside the secret.")
@click.option("--raw", is_flag=True, help="Keep a trailing newline read from stdin.")
@key_dir_option
def fingerprint(env: str, secret: str, key: str, raw: bool, key_dir: Path | None) -> None:
    """Fingerprint a value read from stdin (or a no-echo prompt), as the controller does.

    The fingerprint depends on the secret and key too, so name the place it is stored at.
    """
    value = read_value("Value", raw=raw)
    try:
        problem = key_name_problem(
            "--key", key, fix="pass the key name with --key and the value on stdin"
        )
        if problem is not None:
            raise InputError([problem])
        _, keyring = open_keyring(key_dir)
        click.echo(keyring.fingerprint(value, environment=env, secret=secret, key=key))
    except SealgateError as exc:
        raise fail(exc) from exc


def _add_kek_commands() -> None:
    # Defined in their own module, which imports the helpers above: so not at the top.
    from controller.cli.keys_kek import kek, rewrap  # noqa: PLC0415

    keys.add_command(kek)
    keys.add_command(rewrap)


_add_kek_commands()
