"""``propose --restore``/``--restore-key``/``--store`` and ``sealgate rollback``.

A rollback is an ordinary ``SecretChange`` with ``spec.restore``: reviewed, applied as a new
version, audited. The base version comes from ``--base-version``, or from a copy of the store
(``--store``: its public versions and key names, no keys needed); without either the CLI
says so and writes no ``baseVersion``, and the change is then applied on top of whatever the
store holds when it merges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import yaml

from controller.cli.exit_codes import SIMPLE
from controller.cli.keys import fail
from controller.cli.output import Format, dump, output_option
from controller.cli.seal import load_environment
from controller.documents import parse_changes
from controller.errors import InputError, Problem, SealgateError
from controller.model import API_VERSION
from controller.store.public import PublicVersion, public_history

_RESTORE_KEY = re.compile(r"([-._a-zA-Z0-9]+):([1-9][0-9]*)")


@dataclass(frozen=True, slots=True)
class Base:
    version: int | None
    note: str
    """What the user should know about it (where it came from, or why there is none)."""


def parse_restore_keys(specs: tuple[str, ...]) -> dict[str, int]:
    keys: dict[str, int] = {}
    problems: list[Problem] = []
    for spec in specs:
        match = _RESTORE_KEY.fullmatch(spec)
        if match is None:
            problems.append(Problem("--restore-key", spec, "expected KEY:VERSION, e.g. API_KEY:3"))
        elif match.group(1) in keys:
            problems.append(Problem("--restore-key", spec, f"{match.group(1)} is given twice"))
        else:
            keys[match.group(1)] = int(match.group(2))
    if problems:
        raise InputError(problems)
    return keys


def restore_spec(
    version: int | None, keys: dict[str, int], *, other_operations: bool
) -> dict[str, Any] | None:
    """``spec.restore`` for the options given, or None without restore options."""
    if version is not None and keys:
        raise InputError(
            [Problem("--restore", str(version), "give --restore or --restore-key, not both")]
        )
    if version is not None and other_operations:
        raise InputError(
            [
                Problem(
                    "--restore",
                    str(version),
                    "restores the whole secret: it cannot be combined with --set, --generate "
                    "or --delete; use --restore-key KEY:VERSION for single keys",
                )
            ]
        )
    if version is not None:
        return {"version": version}
    return {"keys": keys} if keys else None


def resolve_base(
    *,
    env: str,
    secret: str,
    given: int | None,
    store: Path | None,
    restore: dict[str, Any] | None,
) -> Base:
    """The version to write as ``spec.baseVersion``, checking a restore against ``store``."""
    if store is None:
        if given is not None:
            return Base(given, f"baseVersion {given} (from --base-version)")
        return Base(
            None,
            "no baseVersion written: without --store or --base-version the CLI cannot know "
            "the secret's version, so this change will not be checked for staleness and is "
            "applied on top of whatever the store holds when it merges",
        )
    history = public_history(store, env, secret)
    if restore is not None:
        _check_restore(f"{env}/{secret}", restore, history)
    current = history[0].version if history else 0
    if given is not None and given != current:
        raise InputError(
            [
                Problem(
                    "--base-version",
                    str(given),
                    f"the store at --store holds version {current} of {env}/{secret}: drop "
                    "--base-version to use it, or --store to keep yours",
                )
            ]
        )
    if not history:
        return Base(0, f"baseVersion 0 (from --store): {env}/{secret} does not exist yet")
    return Base(current, f"baseVersion {current} (from --store; written by {history[0].change_id})")


def _check_restore(path: str, restore: dict[str, Any], history: list[PublicVersion]) -> None:
    by_number = {v.version: v for v in history}
    known = ", ".join(str(n) for n in sorted(by_number)) or "none: the secret does not exist"
    wanted = (
        {None: int(restore["version"])}
        if "version" in restore
        else {str(k): int(v) for k, v in restore["keys"].items()}
    )
    problems: list[Problem] = []
    for key, number in wanted.items():
        option = "--restore" if key is None else f"--restore-key {key}:{number}"
        old = by_number.get(number)
        if old is None:
            problems.append(
                Problem(option, "", f"{path} has no version {number} (its versions: {known})")
            )
        elif key is not None and key not in old.keys:
            held = ", ".join(str(n) for n, v in sorted(by_number.items()) if key in v.keys)
            problems.append(
                Problem(
                    option,
                    "",
                    f"{path} had no key {key} at version {number} (deleted by then, or not "
                    f"added yet); versions holding it: {held or 'none'}",
                )
            )
    if problems:
        raise InputError(problems)


def add_restore_and_base(
    spec: dict[str, Any],
    *,
    base_version: int | None,
    store: Path | None,
    restore_version: int | None,
    restore_keys: tuple[str, ...],
) -> Base:
    """``propose``'s hook: ``spec.restore`` and ``spec.baseVersion`` from its options."""
    restore = restore_spec(
        restore_version,
        parse_restore_keys(restore_keys),
        other_operations=any(op in spec for op in ("set", "generate", "delete")),
    )
    if restore is not None:
        spec["restore"] = restore
    base = resolve_base(
        env=spec["environment"],
        secret=spec["secret"],
        given=base_version,
        store=store,
        restore=restore,
    )
    if base.version is not None:
        spec["baseVersion"] = base.version
    return base


def note(base: Base) -> None:
    """The base version's story goes to stderr: stdout stays the file written."""
    click.echo(f"note: {base.note}", err=True)


# ------------------------------------------------------------------------------ rollback


def _write(env_name: str, name: str, spec: dict[str, Any], out_dir: Path) -> Path:
    document = {
        "apiVersion": API_VERSION,
        "kind": "SecretChange",
        "metadata": {"name": name},
        "spec": spec,
    }
    data = yaml.safe_dump(document, sort_keys=False, width=4096).encode()
    parse_changes(f"changes/{env_name}/{name}.yaml", data)  # the same checks as in a PR
    target = out_dir / env_name / f"{name}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with target.open("xb") as handle:
            handle.write(data)
    except FileExistsError as exc:
        raise InputError(
            [Problem(str(target), "", "already exists; choose another --name")]
        ) from exc
    return target


def _print(output: Format, target: Path, spec: dict[str, Any], base: Base) -> None:
    if not output.is_table:
        document = {
            "file": str(target),
            "secret": spec["secret"],
            "restore": spec["restore"],
            "baseVersion": base.version,
            "note": base.note,
        }
        click.echo(dump(document, output))
        return
    note(base)
    click.echo(str(target))


@click.command("rollback", epilog=SIMPLE)
@click.option(
    "--env-file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="environments/<env>.yaml of the secret's environment.",
)
@click.option("--secret", required=True, help="<namespace>/<name> of the secret.")
@click.option(
    "--to",
    "to_version",
    required=True,
    type=click.IntRange(min=1),
    help="The store version to return to (see `sealgate store history`).",
)
@click.option("--key", "keys", multiple=True, help="Restore only this key (repeatable).")
@click.option("--reason", required=True, help="Why, for reviewers and the audit log.")
@click.option(
    "--store",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="A copy of the store: fills in baseVersion and checks the version exists.",
)
@click.option(
    "--base-version",
    type=click.IntRange(min=0),
    default=None,
    help="The secret's current store version, when no --store is at hand.",
)
@click.option("--name", default=None, help="Change name (default: derived from the secret).")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("changes"),
    show_default=True,
)
@output_option(help="table: the file written; json or yaml: the file, secret, restore and base.")
def rollback(
    *,
    env_file: Path,
    secret: str,
    to_version: int,
    keys: tuple[str, ...],
    reason: str,
    store: Path | None,
    base_version: int | None,
    name: str | None,
    out_dir: Path,
    output: Format,
) -> None:
    """Write a SecretChange restoring a secret (or --key keys) to store version --to.

    The same as `sealgate propose --restore N` (or `--restore-key KEY:N`): the rollback is
    reviewed under the same policies, at least at the secret's tier, and applied as a new
    version; history is never rewritten.
    """
    from controller.cli.propose import change_name  # noqa: PLC0415  (one naming rule)

    try:
        environment = load_environment(env_file)
        restore = restore_spec(
            None if keys else to_version,
            dict.fromkeys(keys, to_version),
            other_operations=False,
        )
        assert restore is not None
        base = resolve_base(
            env=environment.name,
            secret=secret,
            given=base_version,
            store=store,
            restore=restore,
        )
        spec: dict[str, Any] = {"environment": environment.name, "secret": secret}
        spec["reason"] = reason
        if base.version is not None:
            spec["baseVersion"] = base.version
        spec["restore"] = restore
        change = change_name(secret, datetime.now(UTC)) if name is None else name
        target = _write(environment.name, change, spec, out_dir)
    except SealgateError as exc:
        raise fail(exc) from exc
    _print(output, target, spec, base)
