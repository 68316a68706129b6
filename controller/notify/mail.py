"""Render a notification as an email: a subject a person can triage from the inbox list and
a plain-text body that reads well in any client."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from controller.notify.events import Notification, NotificationKind
from controller.notify.text import details, facts, headline, one_line, summary

_SUBJECT_MAX = 200
_FOOTER = "Sent by sealgate. Notifications name secrets and keys but never carry their values."


def email_recipients(
    n: Notification, addresses: Iterable[str], approver_emails: Mapping[str, str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The addresses to mail, and the approvers left out for want of a known address.

    A break-glass bypass reaches every approver personally, not only the policy's list:
    ``approver_emails`` maps GitHub logins to addresses (logins are not addresses, so the
    caller supplies the mapping, e.g. from its configuration or a directory).
    """
    wanted = list(addresses)
    unknown: list[str] = []
    if n.kind is NotificationKind.BYPASSED:
        for login in n.approvers_needed:
            address = approver_emails.get(login)
            if address:
                wanted.append(address)
            else:
                unknown.append(login)
    seen: set[str] = set()
    unique: list[str] = []
    for address in wanted:
        folded = address.strip().lower()
        if folded and folded not in seen:
            seen.add(folded)
            unique.append(address.strip())
    return tuple(unique), tuple(unknown)


def _body(n: Notification) -> str:
    rows = facts(n)
    width = max(len(label) for label, _ in rows) + 2
    lines = [headline(n), "", summary(n), ""]
    lines += [f"{label + ':':<{width}}{value}" for label, value in rows]
    if n.details:
        lines += ["", "Details:"] + [f"  - {d}" for d in details(n)]
    lines += ["", f"Open the pull request: {n.url}", "", "-- ", _FOOTER]
    return "\n".join(lines) + "\n"


def render_email(
    n: Notification, *, sender: str, recipients: tuple[str, ...], now: datetime | None = None
) -> EmailMessage:
    message = EmailMessage()
    subject = f"[sealgate] {headline(n)}: {one_line(n.title)}"
    message["Subject"] = subject if len(subject) <= _SUBJECT_MAX else subject[:199] + "…"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="sealgate.invalid")
    # RFC 3834: vacation responders must not answer a machine.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_body(n))
    return message
