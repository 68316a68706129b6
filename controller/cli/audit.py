"""``sealgate audit verify|show``: check and read the store's hash-chained audit log."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from controller.cli.audit_query import (
    EVENTS,
    Query,
    parse_events,
    parse_moment,
    secret_prefix,
    subjects_of,
)
from controller.cli.keys import fail, format_table, key_dir_option
from controller.cli.store import open_store, store_option
from controller.errors import SealgateError
from controller.store import AuditRecord
from controller.store.trailers import one_line


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
    "--event",
    "events",
    multiple=True,
    help=f"Only these events, comma-separated or repeated: {', '.join(EVENTS)} (or applied).",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json: one JSON object per line, camelCase keys (for a SIEM).",
)
@click.option("--json", "as_json", is_flag=True, hidden=True, help="Deprecated: -o json.")
def show(
    *,
    store_dir: Path,
    key_dir: Path | None,
    secrets: tuple[str, ...],
    people: tuple[str, ...],
    since: str | None,
    until: str | None,
    events: tuple[str, ...],
    output: str,
    as_json: bool,
) -> None:
    """Print the records that match every filter given, oldest first."""
    if as_json:
        click.echo("sealgate: --json is deprecated; use -o json", err=True)
        output = "json"
    now = datetime.now(UTC)
    query = Query(
        secrets=tuple(secret_prefix(s) for s in secrets),
        people=tuple(p.strip().lstrip("@") for p in people),
        since=parse_moment(since, now=now, option="--since") if since else None,
        until=parse_moment(until, now=now, option="--until") if until else None,
        events=parse_events(events),
    )
    try:
        with open_store(store_dir, key_dir) as opened:
            records = query.select(opened.audit_records())
    except SealgateError as exc:
        raise fail(exc) from exc
    print_records(records, output, terminal=sys.stdout.isatty())


def print_records(records: Sequence[AuditRecord], output: str, *, terminal: bool) -> None:
    """All of ``audit show``'s printing. A table is cut to fit a terminal; piped, every cell
    is whole (still one line: a reason cannot break a row or send control sequences)."""
    if output == "json":
        for record in records:
            body = {
                "seq": record.seq,
                "time": record.time.isoformat(),
                "event": record.event,
                **record.fields,
                "prev": record.prev,
                "hash": record.hash,
            }
            click.echo(json.dumps(body, sort_keys=True))
        return
    limit = _CELL if terminal else 1 << 20
    by_change = {
        str(r.fields.get("changeId")): subjects_of(r, {}) for r in records if r.event == "apply"
    }
    rows = [
        [
            str(record.seq),
            f"{record.time.astimezone(UTC):%Y-%m-%d %H:%M:%SZ}",
            record.event,
            *(one_line(cell, limit) for cell in describe(record.event, record.fields, by_change)),
        ]
        for record in records
    ]
    click.echo(format_table(_HEADERS, rows))


_HEADERS = ("seq", "time", "event", "subject", "people", "reason", "pull request")
_CELL = 48


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
