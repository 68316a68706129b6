"""``sealgate propose``: write a ready-to-commit ``SecretChange`` file, offline.

Values to set are sealed here, before anything is written: the file holds sealed strings
only. They come from ``KEY=VALUE`` lines on stdin or no-echo prompts, never from argv.
"""

from __future__ import annotations

import re
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import yaml

from controller.cli.keys import fail
from controller.cli.restore import add_restore_and_base, note
from controller.cli.seal import load_environment, seal_for, sealing_key
from controller.documents import parse_changes
from controller.errors import InputError, Problem, SealgateError
from controller.model import API_VERSION, Tier

_GENERATE = re.compile(r"([-._a-zA-Z0-9]+)(?::(\d+))?")


def change_name(secret: str, now: datetime) -> str:
    stem = re.sub(r"[^a-z0-9-]+", "-", secret.lower()).strip("-")[:200]
    return f"{stem}-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def read_set_values(keys: tuple[str, ...]) -> dict[str, bytes]:
    """``KEY=VALUE`` lines from stdin, or one no-echo prompt per key on a terminal."""
    if not keys:
        return {}
    if sys.stdin.isatty():
        return {
            key: str(
                click.prompt(f"Value for {key}", hide_input=True, confirmation_prompt=True)
            ).encode()
            for key in keys
        }
    values: dict[str, bytes] = {}
    problems: list[Problem] = []
    for number, line in enumerate(sys.stdin.buffer.read().splitlines(), start=1):
        if not line.strip():
            continue
        name, separator, value = line.partition(b"=")
        key = name.decode("utf-8", "replace").strip()
        if not separator or key not in keys:
            problems.append(
                Problem("stdin", f"line {number}", "expected KEY=VALUE for a key given with --set")
            )
        elif key in values:
            problems.append(Problem("stdin", f"line {number}", f"{key} is given twice"))
        else:
            values[key] = value
    missing = [key for key in keys if key not in values]
    if missing:
        problems.append(Problem("stdin", "", f"no KEY=VALUE line for {', '.join(missing)}"))
    if problems:
        raise InputError(problems)
    return values


def parse_generate(specs: tuple[str, ...]) -> dict[str, dict[str, int]]:
    generate: dict[str, dict[str, int]] = {}
    for spec in specs:
        match = _GENERATE.fullmatch(spec)
        if match is None:
            raise InputError([Problem("--generate", spec, "expected KEY or KEY:LENGTH")])
        generate[match.group(1)] = {"length": int(match.group(2))} if match.group(2) else {}
    return generate


@click.command("propose")
@click.option(
    "--env-file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="environments/<env>.yaml holding the public sealing keys.",
)
@click.option("--secret", required=True, help="<namespace>/<name> of the secret.")
@click.option("--set", "set_keys", multiple=True, help="Key to set (value from stdin/prompt).")
@click.option("--generate", "generate", multiple=True, help="KEY[:LENGTH] the controller fills.")
@click.option("--delete", "delete", multiple=True, help="Key to remove.")
@click.option("--reason", required=True, help="Why, for reviewers and the audit log.")
@click.option("--tier", type=click.Choice([t.value for t in Tier]), default=None)
@click.option(
    "--base-version",
    type=click.IntRange(min=0),
    default=None,
    help="Store version proposed against (0: a new secret); see also --store.",
)
@click.option(
    "--store",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="A copy of the store (no keys needed): fills in baseVersion, checks --restore.",
)
@click.option(
    "--restore",
    "restore_version",
    type=click.IntRange(min=1),
    default=None,
    help="Return the whole secret to this store version (a rollback).",
)
@click.option("--restore-key", "restore_keys", multiple=True, help="KEY:VERSION to restore.")
@click.option("--name", default=None, help="Change name (default: derived from the secret).")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("changes"),
    show_default=True,
)
def propose(  # click passes options by name
    *,
    env_file: Path,
    secret: str,
    set_keys: tuple[str, ...],
    generate: tuple[str, ...],
    delete: tuple[str, ...],
    reason: str,
    tier: str | None,
    base_version: int | None,
    store: Path | None,
    restore_version: int | None,
    restore_keys: tuple[str, ...],
    name: str | None,
    out_dir: Path,
) -> None:
    """Write changes/<env>/<name>.yaml with sealed values, ready for a pull request."""
    try:
        environment = load_environment(env_file)
        key = sealing_key(environment, None)
        values = read_set_values(set_keys)
        spec: dict[str, Any] = {
            "environment": environment.name,
            "secret": secret,
            "reason": reason,
        }
        if tier is not None:
            spec["tier"] = tier
        if values:
            spec["set"] = {
                k: seal_for(environment, key, secret=secret, name=k, value=v)
                for k, v in values.items()
            }
        if generate:
            spec["generate"] = parse_generate(generate)
        if delete:
            spec["delete"] = list(delete)
        base = add_restore_and_base(
            spec,
            base_version=base_version,
            store=store,
            restore_version=restore_version,
            restore_keys=restore_keys,
        )
        change = change_name(secret, datetime.now(UTC)) if name is None else name
        document = {
            "apiVersion": API_VERSION,
            "kind": "SecretChange",
            "metadata": {"name": change},
            "spec": spec,
        }
        data = yaml.safe_dump(document, sort_keys=False, width=4096).encode()
        relative = f"changes/{environment.name}/{change}.yaml"
        parse_changes(relative, data)  # the file must pass the same checks as in a PR
        target = out_dir / environment.name / f"{change}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with target.open("xb") as handle:
                handle.write(data)
        except FileExistsError as exc:
            raise InputError(
                [Problem(str(target), "", "already exists; choose another --name")]
            ) from exc
    except SealgateError as exc:
        raise fail(exc) from exc
    note(base)
    click.echo(str(target))
