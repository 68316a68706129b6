"""``sealgate seal``: encrypt one value to an environment's public key, offline.

The value comes from stdin or a no-echo prompt, never from the command line (argv is
visible to every user of the machine and lands in shell history).
"""

from __future__ import annotations

from pathlib import Path

import click

from controller.cli.exit_codes import SIMPLE
from controller.cli.keys import fail, read_value
from controller.cli.quiet import key_name_problem
from controller.crypto import load_public_key, seal
from controller.documents import parse_environment
from controller.errors import DocumentError, InputError, Problem, SealgateError
from controller.model import Environment, SealingKey


def load_environment(env_file: Path) -> Environment:
    try:
        data = env_file.read_bytes()
    except OSError as exc:
        raise DocumentError(
            [Problem(str(env_file), "", f"cannot read the environment file ({exc.strerror})")]
        ) from exc
    return parse_environment(str(env_file), data)


def sealing_key(environment: Environment, key_id: str | None) -> SealingKey:
    if key_id is None:
        return environment.sealing_keys[0]
    for candidate in environment.sealing_keys:
        if candidate.id == key_id:
            return candidate
    raise DocumentError(
        [
            Problem(
                environment.source,
                "spec.sealingKeys",
                f"no key with id {key_id!r}; omit --key-id to use the newest key",
            )
        ]
    )


def seal_for(
    environment: Environment, key: SealingKey, *, secret: str, name: str, value: bytes
) -> str:
    public_key = load_public_key(key.public_key, where=environment.source)
    return seal(
        value,
        key_id=key.id,
        public_key=public_key,
        environment=environment.name,
        secret=secret,
        key=name,
    )


@click.command("seal", epilog=SIMPLE)
@click.option(
    "--env-file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="environments/<env>.yaml holding the public sealing keys.",
)
@click.option("--secret", required=True, help="<namespace>/<name> of the secret.")
@click.option("--key", "key_name", required=True, help="The key inside the secret.")
@click.option("--key-id", default=None, help="Seal to this key id (default: the newest).")
@click.option("--raw", is_flag=True, help="Keep a trailing newline read from stdin.")
def seal_command(env_file: Path, secret: str, key_name: str, key_id: str | None, raw: bool) -> None:
    """Seal a value from stdin (or a no-echo prompt) and print the sealed string."""
    try:
        problem = key_name_problem(
            "--key", key_name, fix="pass the key name with --key and the value on stdin"
        )
        if problem is not None:
            raise InputError([problem])
        environment = load_environment(env_file)
        key = sealing_key(environment, key_id)
    except SealgateError as exc:
        raise fail(exc) from exc
    value = read_value(f"Value for {secret} {key_name}", raw=raw)
    if not value:
        raise click.ClickException("the value is empty; nothing to seal")
    try:
        click.echo(seal_for(environment, key, secret=secret, name=key_name, value=value))
    except SealgateError as exc:
        raise fail(exc) from exc
