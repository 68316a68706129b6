"""``sealgate audit verify|show``: check and read the store's hash-chained audit log."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from controller.cli.audit_grants import ACCESS_EVENTS, describe_access
from controller.cli.audit_query import (
    EVENTS,
    Query,
    parse_events,
    parse_moment,
    secret_prefix,
    subjects_of,
)
from controller.cli.exit_codes import SIMPLE, ExitCode, epilog
from controller.cli.keys import fail, key_dir_option
from controller.cli.output import Column, Format, dump, output_option, render, timestamp
from controller.cli.store import open_store, store_option
from controller.errors import SealgateError
from controller.store import AuditRecord, AuditReport
from controller.store.trailers import one_line


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
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    help="Only records about this secret, or anything under this environment or namespace "
    "(production, production/payments, production/payments/db). Repeatable.",
)
@click.option(
    "--person",
    "people",
    multiple=True,
    help="Only records naming this login as requester, approver, merger, bypasser or actor. "
    "Repeatable.",
)
@click.option("--since", help="From this time on: RFC 3339, or a span back from now (24h, 7d).")
@click.option("--until", help="Up to this time: RFC 3339, or a span back from now.")
@click.option(
    "--grant",
    "grants",
    multiple=True,
    help="Only records about this access grant (its approval, uses, revocation, end, and "
    "refusals naming it). Repeatable.",
)
@click.option(
    "--event",
    "events",
    multiple=True,
    help=f"Only these events, comma-separated or repeated: {', '.join(EVENTS)} (or applied).",
)
@output_option(
    Format.TABLE,
    Format.WIDE,
    Format.JSON,
    Format.YAML,
    legacy_json=True,
    help="table (wide: with each record's hash); json: one object per line (JSON Lines, for "
    "a SIEM; schemas/cli/audit-show.schema.json); yaml: one document per record.",
)
def show(
    *,
    store_dir: Path,
    key_dir: Path | None,
    secrets: tuple[str, ...],
    people: tuple[str, ...],
    since: str | None,
    until: str | None,
    events: tuple[str, ...],
    grants: tuple[str, ...],
    output: Format,
) -> None:
    """Print the records that match every filter given, oldest first."""
    now = datetime.now(UTC)
    query = Query(
        secrets=tuple(secret_prefix(s) for s in secrets),
        people=tuple(p.strip().lstrip("@") for p in people),
        since=parse_moment(since, now=now, option="--since") if since else None,
        until=parse_moment(until, now=now, option="--until") if until else None,
        events=parse_events(events),
        grants=tuple(g.strip() for g in grants),
    )
    try:
        with open_store(store_dir, key_dir) as opened:
            records = query.select(opened.audit_records())
    except SealgateError as exc:
        raise fail(exc) from exc
    print_records(records, output)


def record_json(record: AuditRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "time": timestamp(record.time),
        "event": record.event,
        **record.fields,
        "prev": record.prev,
        "hash": record.hash,
    }


def print_records(records: Sequence[AuditRecord], output: Format) -> None:
    """All of ``audit show``'s printing. Every cell is one line (a reason cannot break a row
    or send control sequences); a terminal wraps long ones, a pipe gets them whole."""
    if output is Format.JSON:
        for record in records:
            click.echo(json.dumps(record_json(record), sort_keys=True))
        return
    if output is Format.YAML:
        for record in records:
            click.echo("---\n" + dump(record_json(record), output))
        return
    by_change = {
        str(r.fields.get("changeId")): subjects_of(r, {}) for r in records if r.event == "apply"
    }
    rows = []
    for record in records:
        subject, people, reason, link = (
            one_line(cell, 1 << 20) for cell in describe(record.event, record.fields, by_change)
        )
        rows.append(
            {
                "seq": record.seq,
                "time": f"{record.time.astimezone(UTC):%Y-%m-%d %H:%M:%SZ}",
                "event": record.event,
                "subject": subject,
                "people": people,
                "reason": reason,
                "pullRequest": link,
                "hash": record.hash,
            }
        )
    render(rows, _COLUMNS, output)


_COLUMNS = (
    Column("seq", "seq"),
    Column("time", "time"),
    Column("event", "event"),
    Column("subject", "subject"),
    Column("people", "people"),
    Column("reason", "reason"),
    Column("pull request", "pullRequest"),
    Column("hash", "hash", wide=True),
)


def describe(
    event: str, fields: Mapping[str, Any], by_change: Mapping[str, Sequence[str]]
) -> tuple[str, str, str, str]:
    """(subject, people, reason, link) of one record."""
    link = str(fields.get("pullRequestUrl") or "")
    if not link and fields.get("pullRequest") is not None:
        link = f"#{fields['pullRequest']}"
    if event in ("apply", "bypass"):
        secrets = fields.get("secrets")
        changed = (
            ", ".join(f"{path} v{entry.get('version')}" for path, entry in secrets.items())
            if isinstance(secrets, dict)
            else ", ".join(by_change.get(str(fields.get("changeId")), ()))
        )
        subject = f"{fields.get('changeId')}: {changed}" if changed else str(fields.get("changeId"))
        return subject, _people(fields), _reasons(event, fields), link or "-"
    if event == "rollback":
        subject = (
            f"{fields.get('path')} v{fields.get('fromVersion')} -> v{fields.get('version')} "
            f"(= v{fields.get('toVersion')})"
        )
        return subject, f"by {fields.get('actor')}", str(fields.get("reason", "")), link or "-"
    if event in ACCESS_EVENTS:
        return (*describe_access(event, fields), link or "-")
    if event == "key":
        subject = f"{fields.get('environment')}: {fields.get('action')} {fields.get('keyId')}"
        return subject, f"by {fields.get('actor')}", "", link or "-"
    if event == "rules-trusted":
        subject = (
            f"{str(fields.get('digest', ''))[:19]} at {fields.get('ref')}@"
            f"{str(fields.get('sha', ''))[:12]} ({fields.get('how')})"
        )
        people = _people(fields) if "requester" in fields else f"by {fields.get('actor')}"
        return subject, people, str(fields.get("reason", "")), link or "-"
    return "", "", json.dumps(dict(fields), sort_keys=True), link or "-"


def _people(fields: Mapping[str, Any]) -> str:
    parts: list[str] = []
    if fields.get("requester"):
        parts.append(f"requested {fields['requester']}")
    approvals = fields.get("approvals")
    if isinstance(approvals, list) and approvals:
        parts.append(
            "approved "
            + ", ".join(f"{a.get('login')} ({a.get('policy')}/{a.get('step')})" for a in approvals)
        )
    elif fields.get("approvedBy"):
        parts.append("approved " + ", ".join(str(p) for p in fields["approvedBy"]))
    merged = fields.get("mergedBy")
    if merged:
        trigger = fields.get("mergeTrigger")
        asked = fields.get("mergeRequestedBy")
        detail = f" (/sealgate {'bypass' if trigger == 'bypass' else 'merge'} by {asked})"
        parts.append(f"merged {merged}{detail if asked else ''}")
    bypasser = fields.get("bypassedBy") or fields.get("by")
    if bypasser:
        parts.append(f"bypassed {bypasser}")
    return "; ".join(parts)


def _reasons(event: str, fields: Mapping[str, Any]) -> str:
    if event == "bypass":
        return f"bypass: {fields.get('reason')}"
    texts: list[str] = []
    reasons = fields.get("reasons")
    if isinstance(reasons, list):
        texts.extend(str(r.get("reason")) for r in reasons if isinstance(r, dict))
    if fields.get("bypassReason"):
        texts.append(f"bypass: {fields['bypassReason']}")
    return "; ".join(dict.fromkeys(texts))
