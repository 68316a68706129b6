"""``sealgate status`` and ``sealgate wait``: ask a running controller where a pull request
stands, through ``GET /v1/requests/<owner>/<repo>/<number>``.

``wait`` exits 0 when the wanted status is reached, 5 on a terminal failure (rejected,
expired, invalid, failed, or closed without merging), 4 when the timeout passes first. A
controller that does not know the pull request yet (404), is a standby or restarting (503),
or cannot be reached is waited out: those are transient while a pipeline waits.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import click
import requests

from controller.cli.access_rows import access_table
from controller.cli.exit_codes import ExitCode, epilog
from controller.cli.output import (
    Format,
    cell,
    dump,
    format_table,
    output_option,
    print_text,
    terminal_width,
)

URL_VARIABLE = "SEALGATE_URL"
MILESTONES: Mapping[str, frozenset[str]] = {
    "approved": frozenset({"approved", "merged", "applied", "synced"}),
    "applied": frozenset({"applied", "synced"}),
    "synced": frozenset({"synced"}),
}
FAILED = frozenset({"rejected", "expired", "invalid", "failed", "closed"})
_TARGET = re.compile(r"(?P<repo>[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+)#(?P<number>[0-9]+)")
_DURATION = re.compile(r"(?P<amount>[0-9]+)(?P<unit>[smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
REQUEST_TIMEOUT_S = 10.0


class Unavailable(Exception):
    """The controller did not give an answer worth showing (yet)."""


def _target(target: str | None, repo: str | None, number: int | None) -> tuple[str, int]:
    if target is not None:
        if repo is not None or number is not None:
            raise click.UsageError("give owner/repo#number or --repo and --pr, not both")
        match = _TARGET.fullmatch(target)
        if match is None:
            # Not shown: text in the wrong place may be anything, a pasted token included.
            raise click.UsageError(
                "OWNER/REPO#NUMBER: expected owner/repo#number, e.g. acme/requests#42 "
                "(the argument is not shown)"
            )
        return match["repo"], int(match["number"])
    if repo is None or number is None:
        raise click.UsageError("name the pull request: owner/repo#number, or --repo and --pr")
    if "/" not in repo:
        raise click.UsageError("--repo must be owner/repo")
    return repo, number


def _duration(text: str) -> float:
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise click.BadParameter("expected a duration such as 90s, 30m or 2h (not shown)")
    return float(int(match["amount"]) * _UNITS[match["unit"]])


def shown_url(url: str) -> str:
    """``url`` as it may be printed: scheme, host, port and path, never credentials or a
    query (``https://user:token@host/?key=...``); anything else is not shown at all."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "--url (not shown: not an http(s) URL)"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "--url (not shown: not an http(s) URL)"
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def fetch(session: requests.Session, url: str, repo: str, number: int) -> dict[str, Any] | None:
    """The request status, None when the controller does not know the pull request."""
    endpoint = f"{url.rstrip('/')}/v1/requests/{repo}/{number}"
    url = shown_url(url)
    try:
        response = session.get(endpoint, timeout=REQUEST_TIMEOUT_S)
    except requests.RequestException as exc:
        raise Unavailable(f"cannot reach {url}: {type(exc).__name__}") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        try:
            detail = str(response.json().get("message", ""))
        except ValueError:
            detail = ""
        raise Unavailable(
            f"{url} answered {response.status_code}" + (f": {detail}" if detail else "")
        )
    try:
        body: dict[str, Any] = response.json()
    except ValueError as exc:
        raise Unavailable(f"{url} did not answer JSON; is this a sealgate controller?") from exc
    return body


def _progress(status: Mapping[str, Any]) -> str:
    parts = [str(status.get("status"))]
    approvals = status.get("approvals") or []
    if approvals:
        have = sum(min(a["current"], a["required"]) for a in approvals)
        need = sum(a["required"] for a in approvals)
        parts.append(f"{have}/{need} approvals")
    eligible = status.get("eligibleApprovers") or []
    if eligible and status.get("status") == "pending":
        parts.append("can approve: " + ", ".join(eligible))
    return "; ".join(parts)


def render(status: Mapping[str, Any], output: Format) -> None:
    """The request as people read it; ``-o json|yaml`` prints the API's document unchanged."""
    if not output.is_table:
        click.echo(dump(dict(status), output))
        return
    width = terminal_width()
    head = str(status.get("headSha") or "-")
    summary = [
        ["pull request", f"{status.get('repository')}#{status.get('number')}"],
        ["status", str(status.get("status"))],
        ["decision", str(status.get("decision") or "-")],
        ["head", head if output is Format.WIDE else head[:12]],
        ["updated", str(status.get("updatedAt") or "-")],
        ["expires", str(status.get("expiresAt") or "-")],
        ["can approve", cell(status.get("eligibleApprovers"))],
        ["change ids", cell(status.get("changeIds"))],
    ]
    # Name/value pairs: no header line, so the first column's header is dropped.
    click.echo("\n".join(format_table(["", ""], summary, width=width).splitlines()[1:]))
    approvals = status.get("approvals") or []
    if approvals:
        rows = [
            [
                a["policy"],
                a["step"],
                f"{a['current']}/{a['required']}",
                cell(a.get("satisfied")),
                cell(a.get("approvedBy")),
                cell(a.get("eligible")),
            ]
            for a in approvals
        ]
        headers = ["policy", "step", "approvals", "satisfied", "approved by", "can still approve"]
        _section(format_table(headers, rows, width=width))
    versions = status.get("versions") or {}
    if versions:
        rows = [[path, str(version)] for path, version in sorted(versions.items())]
        _section(format_table(["secret", "store version"], rows, width=width))
    sync = status.get("sync") or []
    if sync:
        rows = [
            [r["cluster"], r["kind"], f"{r['namespace']}/{r['name']}", r["outcome"], r["message"]]
            for r in sync
        ]
        headers = ["cluster", "kind", "namespace/name", "outcome", "message"]
        _section(format_table(headers, rows, width=width))
    access = status.get("access") or []
    if access:
        _section(access_table(access, output, width))
    messages = status.get("messages") or []
    if messages:
        click.echo()
    for message in messages:
        print_text(f"- {message}")


def _section(table: str) -> None:
    click.echo()
    click.echo(table)


url_option = click.option(
    "--url",
    envvar=URL_VARIABLE,
    required=True,
    help=f"The controller, e.g. http://sealgate.sealgate:8080 (or ${URL_VARIABLE}).",
)
target_argument = click.argument("target", required=False, metavar="OWNER/REPO#NUMBER")
repo_option = click.option("--repo", default=None, help="owner/repo (with --pr).")
pr_option = click.option("--pr", "number", type=int, default=None, help="Pull request number.")


@click.command(
    "status",
    epilog=epilog(
        (ExitCode.OK, "shown (whatever the request's status)"),
        (ExitCode.ERROR, "controller unreachable or a standby, or it does not know the PR"),
    ),
)
@url_option
@target_argument
@repo_option
@pr_option
@output_option(
    Format.TABLE,
    Format.WIDE,
    Format.JSON,
    Format.YAML,
    help="table (wide: the whole head SHA, and each grant's id and times); json or yaml: "
    "the document GET /v1/requests/<owner>/<repo>/<number> serves "
    "(schemas/cli/status.schema.json).",
)
def status(
    url: str, target: str | None, repo: str | None, number: int | None, output: Format
) -> None:
    """Show where a pull request stands: status, approvals, who can approve, sync."""
    repo, number = _target(target, repo, number)
    with requests.Session() as session:
        try:
            found = fetch(session, url, repo, number)
        except Unavailable as exc:
            raise click.ClickException(str(exc)) from exc
    if found is None:
        raise click.ClickException(f"the controller knows no pull request {repo}#{number} (yet)")
    render(found, output)


@click.command(
    "wait",
    epilog=epilog(
        (ExitCode.OK, "the status (or a later one) was reached"),
        (ExitCode.TIMED_OUT, "--timeout passed first"),
        (
            ExitCode.INVALID,
            "it ended short: rejected, expired, invalid, failed, closed unmerged",
        ),
    ),
)
@url_option
@target_argument
@repo_option
@pr_option
@click.option(
    "--until",
    type=click.Choice(sorted(MILESTONES)),
    default="synced",
    show_default=True,
    help="The status to wait for (later ones count too: applied implies approved).",
)
@click.option("--timeout", default="30m", show_default=True, help="e.g. 90s, 30m, 2h.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=5.0,
    show_default=True,
    help="Seconds between polls.",
)
def wait(  # noqa: PLR0917 - click passes every option by keyword
    url: str,
    target: str | None,
    repo: str | None,
    number: int | None,
    until: str,
    timeout: str,
    interval: float,
) -> None:
    """Wait for a pull request to reach a status. Exit 0 reached, 5 failed, 4 timed out."""
    repo, number = _target(target, repo, number)
    deadline = time.monotonic() + _duration(timeout)
    wanted = MILESTONES[until]
    last = ""
    with requests.Session() as session:
        while True:
            try:
                found = fetch(session, url, repo, number)
                line = "not known to the controller yet" if found is None else _progress(found)
            except Unavailable as exc:
                found, line = None, str(exc)
            if line != last:
                click.echo(f"{time.strftime('%H:%M:%S')} {repo}#{number}: {line}")
                last = line
            state = None if found is None else found.get("status")
            if state in wanted:
                sys.exit(ExitCode.OK)
            if state in FAILED:
                for message in (found or {}).get("messages") or []:
                    print_text(f"  {message}")
                sys.exit(ExitCode.INVALID)
            left = deadline - time.monotonic()
            if left <= 0:
                click.echo(f"timed out waiting for {until} (last: {line})", err=True)
                sys.exit(ExitCode.TIMED_OUT)
            time.sleep(min(interval, left))
