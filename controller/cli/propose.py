"""``sealgate propose``: write a ready-to-commit ``SecretChange`` file, offline.

Values to set are sealed here, before anything is written: the file holds sealed strings
only. They come from ``KEY=VALUE`` lines on stdin, no-echo prompts or files
(``--set-file``), never from argv.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import yaml

from controller.cli.exit_codes import SIMPLE
from controller.cli.keys import fail
from controller.cli.propose_input import check_requested, flag_problems, read_values
from controller.cli.restore import add_restore_and_base, note
from controller.cli.seal import load_environment, seal_for, sealing_key
from controller.documents import parse_changes
from controller.errors import DocumentError, InputError, Problem, SealgateError
from controller.model import API_VERSION, Tier


def change_name(secret: str, now: datetime) -> str:
    stem = re.sub(r"[^a-z0-9-]+", "-", secret.lower()).strip("-")[:200]
    return f"{stem}-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def metadata_spec(flag: str, entries: tuple[str, ...]) -> dict[str, str | None]:
    """``KEY=VALUE`` sets, ``KEY-`` removes (as ``kubectl label``). Values are not quoted
    back in errors: an annotation is free text, and could be pasted by mistake."""
    out: dict[str, str | None] = {}
    for position, entry in enumerate(entries, start=1):
        key, separator, value = entry.partition("=")
        if separator and key:
            out[key] = value
        elif not separator and entry.endswith("-") and len(entry) > 1:
            out[entry[:-1]] = None
        else:
            raise InputError(
                [Problem(flag, f"entry {position}", "expected KEY=VALUE to set or KEY- to remove")]
            )
    return out


def shape_spec(
    secret_type: str | None, labels: tuple[str, ...], annotations: tuple[str, ...]
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if secret_type:
        spec["type"] = secret_type
    if labels:
        spec["labels"] = metadata_spec("--label", labels)
    if annotations:
        spec["annotations"] = metadata_spec("--annotation", annotations)
    return spec


@click.command("propose", epilog=SIMPLE)
@click.option(
    "--env-file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="environments/<env>.yaml holding the public sealing keys.",
)
@click.option("--secret", required=True, help="<namespace>/<name> of the secret.")
@click.option(
    "--set",
    "set_keys",
    multiple=True,
    help="Key to set; its value comes from stdin as a KEY=VALUE line (one line per key), "
    "or from a no-echo prompt on a terminal.",
)
@click.option(
    "--set-file",
    "set_files",
    multiple=True,
    metavar="KEY=PATH",
    help="Key to set to the bytes of the file at PATH (KEY=- reads them from stdin), for a "
    "value of several lines such as a PEM key. The bytes are sealed exactly as they are, "
    "a final newline included: strip it first if the value must not end with one.",
)
@click.option("--generate", "generate", multiple=True, help="KEY[:LENGTH] the controller fills.")
@click.option("--delete", "delete", multiple=True, help="Key to remove.")
@click.option("--reason", required=True, help="Why, for reviewers and the audit log.")
@click.option("--tier", type=click.Choice([t.value for t in Tier]), default=None)
@click.option(
    "--type",
    "secret_type",
    default=None,
    help="Secret type of a new secret, e.g. kubernetes.io/tls (default Opaque).",
)
@click.option(
    "--label", "labels", multiple=True, help="KEY=VALUE label of the Secret; KEY- removes."
)
@click.option(
    "--annotation", "annotations", multiple=True, help="KEY=VALUE annotation; KEY- removes."
)
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
    set_files: tuple[str, ...],
    generate: tuple[str, ...],
    delete: tuple[str, ...],
    reason: str,
    tier: str | None,
    base_version: int | None,
    secret_type: str | None,
    labels: tuple[str, ...],
    annotations: tuple[str, ...],
    store: Path | None,
    restore_version: int | None,
    restore_keys: tuple[str, ...],
    name: str | None,
    out_dir: Path,
) -> None:
    """Write changes/<env>/<name>.yaml with sealed values, ready for a pull request."""
    try:
        requested = check_requested(set_keys, set_files, generate, delete)
        if requested.problems:
            raise InputError(requested.problems)
        environment = load_environment(env_file)
        key = sealing_key(environment, None)
        values = read_values(requested)
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
        if requested.generate:
            spec["generate"] = requested.generate
        if requested.delete:
            spec["delete"] = list(requested.delete)
        spec.update(shape_spec(secret_type, labels, annotations))
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
        try:
            parse_changes(relative, data)  # the file must pass the same checks as in a PR
        except DocumentError as exc:
            # Named by flag: the file they would point at is never written.
            raise InputError(
                flag_problems(exc.problems, requested, name_given=name is not None)
            ) from exc
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
