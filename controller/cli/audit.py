"""``sealgate audit verify|show``: check and read the store's hash-chained audit log."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import click

from controller.cli.exit_codes import SIMPLE, ExitCode, epilog
from controller.cli.keys import fail, key_dir_option
from controller.cli.output import Column, Format, dump, output_option, render, timestamp
from controller.cli.store import open_store, store_option
from controller.errors import SealgateError
from controller.store import AuditRecord, AuditReport


@click.group("audit")
def audit() -> None:
    """Verify or print the store's audit log."""


@audit.command(
    "verify",
    epilog=epilog(
        (ExitCode.OK, "the log and every secret verify"),
        (ExitCode.ERROR, "the store or the keys cannot be opened"),
        (ExitCode.INVALID, "the log or a secret does not verify (each problem is printed)"),
    ),
)
@store_option
@key_dir_option
@output_option(
    help="table: a line per problem (stderr) and a summary; json or yaml: one document "
    "(schemas/cli/audit-verify.schema.json)."
)
def verify(store_dir: Path, key_dir: Path | None, output: Format) -> None:
    """Check the log and every secret against it; exit 5 on any problem."""
    try:
        with open_store(store_dir, key_dir) as opened:
            report = opened.audit_verify()
    except SealgateError as exc:
        raise fail(exc) from exc
    print_verification(report, output)
    if not report.ok:
        raise SystemExit(ExitCode.INVALID)


def print_verification(report: AuditReport, output: Format) -> None:
    if not output.is_table:
        document = {
            "ok": report.ok,
            "records": report.records,
            "secrets": report.secrets,
            "head": report.head,
            "problems": list(report.problems),
        }
        click.echo(dump(document, output))
        return
    for problem in report.problems:
        click.echo(f"FAIL {problem}", err=True)
    summary = f"{report.records} records, {report.secrets} secrets, head {report.head[:16] or '-'}"
    if report.ok:
        click.echo(f"ok: {summary}")
    else:
        click.echo(f"Error: audit log does not verify ({summary})", err=True)


@audit.command("show", epilog=SIMPLE)
@store_option
@key_dir_option
@output_option(
    Format.TABLE,
    Format.WIDE,
    Format.JSON,
    Format.YAML,
    legacy_json=True,
    help="table (wide: with each record's hash); json: one object per line (JSON Lines, "
    "schemas/cli/audit-show.schema.json); yaml: one document per record.",
)
def show(store_dir: Path, key_dir: Path | None, output: Format) -> None:
    """Print every record, oldest first."""
    try:
        with open_store(store_dir, key_dir) as opened:
            print_records(opened.audit_records(), output)
    except SealgateError as exc:
        raise fail(exc) from exc


def record_json(record: AuditRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "time": timestamp(record.time),
        "event": record.event,
        **record.fields,
        "hash": record.hash,
    }


def print_records(records: Iterable[AuditRecord], output: Format) -> None:
    """JSON and YAML stream a record at a time (the log only grows); a table needs them all."""
    if output is Format.JSON:
        for record in records:
            click.echo(json.dumps(record_json(record), sort_keys=True))
        return
    if output is Format.YAML:
        for record in records:
            click.echo("---\n" + dump(record_json(record), output))
        return
    rows = [
        {
            "seq": record.seq,
            "time": f"{record.time:%Y-%m-%d %H:%M:%SZ}",
            "event": record.event,
            "details": _describe(record.event, record.fields),
            "hash": record.hash,
        }
        for record in records
    ]
    columns = (
        Column("seq", "seq"),
        Column("time", "time"),
        Column("event", "event"),
        Column("details", "details"),
        Column("hash", "hash", wide=True),
    )
    render(rows, columns, output)


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
