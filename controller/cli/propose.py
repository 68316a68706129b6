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

from controller.cli.exit_codes import SIMPLE
from controller.cli.keys import fail
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
@click.option("--set", "set_keys", multiple=True, help="Key to set (value from stdin/prompt).")
@click.option("--generate", "generate", multiple=True, help="KEY[:LENGTH] the controller fills.")
@click.option("--delete", "delete", multiple=True, help="Key to remove.")
@click.option("--reason", required=True, help="Why, for reviewers and the audit log.")
@click.option("--tier", type=click.Choice([t.value for t in Tier]), default=None)
@click.option("--base-version", type=int, default=None, help="Store version proposed against.")
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
    secret_type: str | None,
    labels: tuple[str, ...],
    annotations: tuple[str, ...],
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
        if base_version is not None:
            spec["baseVersion"] = base_version
        if values:
            spec["set"] = {
                k: seal_for(environment, key, secret=secret, name=k, value=v)
                for k, v in values.items()
            }
        if generate:
            spec["generate"] = parse_generate(generate)
        if delete:
            spec["delete"] = list(delete)
        spec.update(shape_spec(secret_type, labels, annotations))
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
    click.echo(str(target))
