"""``sealgate audit verify|show``: check and read the store's hash-chained audit log."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from controller.cli.keys import fail, key_dir_option
from controller.cli.store import open_store, store_option
from controller.errors import SealgateError


@click.group("audit")
def audit() -> None:
    """Verify or print the store's audit log."""


@audit.command("verify")
@store_option
@key_dir_option
def verify(store_dir: Path, key_dir: Path | None) -> None:
    """Check the log and every secret against it; exit 1 on any problem."""
    try:
        with open_store(store_dir, key_dir) as opened:
            report = opened.audit_verify()
    except SealgateError as exc:
        raise fail(exc) from exc
    for problem in report.problems:
        click.echo(f"FAIL {problem}", err=True)
    summary = f"{report.records} records, {report.secrets} secrets, head {report.head[:16] or '-'}"
    if not report.ok:
        raise click.ClickException(f"audit log does not verify ({summary})")
    click.echo(f"ok: {summary}")


@audit.command("show")
@store_option
@key_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON record per line.")
def show(store_dir: Path, key_dir: Path | None, as_json: bool) -> None:
    """Print every record, oldest first."""
    try:
        with open_store(store_dir, key_dir) as opened:
            for record in opened.audit_records():
                if as_json:
                    body = {
                        "seq": record.seq,
                        "time": record.time.isoformat(),
                        "event": record.event,
                        **record.fields,
                        "hash": record.hash,
                    }
                    click.echo(json.dumps(body, sort_keys=True))
                else:
                    click.echo(
                        f"#{record.seq} {record.time:%Y-%m-%d %H:%M:%SZ} {record.event} "
                        f"{_describe(record.event, record.fields)}"
                    )
    except SealgateError as exc:
        raise fail(exc) from exc


def _describe(event: str, fields: Mapping[str, Any]) -> str:
    if event == "apply":
        secrets = fields.get("secrets", {})
        changed = ", ".join(f"{path} v{entry.get('version')}" for path, entry in secrets.items())
        return (
            f"{fields.get('changeId')} PR #{fields.get('pullRequest')} merged by "
            f"{fields.get('mergedBy')}, approved by {', '.join(fields.get('approvedBy', []))}"
            f": {changed}"
        )
    if event == "bypass":
        return (
            f"{fields.get('changeId')} PR #{fields.get('pullRequest')} bypassed by "
            f"{fields.get('mergedBy')}: {fields.get('reason')}"
        )
    if event == "rollback":
        return (
            f"{fields.get('path')} v{fields.get('fromVersion')} -> v{fields.get('version')} "
            f"(= v{fields.get('toVersion')}) by {fields.get('actor')}: {fields.get('reason')}"
        )
    if event == "key":
        return (
            f"{fields.get('action')} {fields.get('keyId')} in {fields.get('environment')} "
            f"by {fields.get('actor')}"
        )
    return json.dumps(dict(fields), sort_keys=True)
