"""The words of a notification, shared by every channel so Slack, Teams and email agree.

Written for a person on call reading a phone: the headline says what happened and where,
the summary says what it means and what (if anything) to do, the facts answer "which
secrets, who asked, who can approve".
"""

from __future__ import annotations

from controller.notify.events import Notification, NotificationKind

_HEADLINES: dict[NotificationKind, str] = {
    NotificationKind.WAITING: "Approval needed",
    NotificationKind.APPROVED: "Approved",
    NotificationKind.REJECTED: "Rejected",
    NotificationKind.BYPASSED: "BREAK-GLASS merge WITHOUT approval",
    NotificationKind.APPLIED: "Applied",
    NotificationKind.FAILED: "FAILED",
    NotificationKind.EXPIRED: "Expired",
    NotificationKind.REMINDER: "Reminder: approval still needed",
}

_ACTOR_LABELS: dict[NotificationKind, str] = {
    NotificationKind.APPROVED: "Approved by",
    NotificationKind.REJECTED: "Rejected by",
    NotificationKind.BYPASSED: "Bypassed by",
    NotificationKind.APPLIED: "Merged by",
    NotificationKind.FAILED: "Triggered by",
}

# Urgent kinds are the ones where a human must look now; channels colour them accordingly.
URGENT = frozenset({NotificationKind.BYPASSED, NotificationKind.FAILED})
GOOD = frozenset({NotificationKind.APPROVED, NotificationKind.APPLIED})


def one_line(text: str) -> str:
    """Collapse whitespace: titles come from people and may carry newlines."""
    return " ".join(text.split())


def headline(n: Notification) -> str:
    """``Approval needed: acme/secrets#42 (production)``."""
    return f"{_HEADLINES[n.kind]}: {n.reference} ({one_line(n.environment)})"


# Chat payloads have size limits (Teams about 28 KB) and nobody reads a thousand lines.
MAX_DETAILS = 30


def _people(names: tuple[str, ...]) -> str:
    return ", ".join(f"@{name}" for name in names) if names else "nobody listed"


def details(n: Notification) -> list[str]:
    """The detail lines, cut to :data:`MAX_DETAILS` with a note of how many were left out."""
    lines = list(n.details[:MAX_DETAILS])
    if len(n.details) > MAX_DETAILS:
        lines.append(f"… and {len(n.details) - MAX_DETAILS} more on the pull request")
    return lines


def _secret_count(n: Notification) -> str:
    count = len(n.secrets)
    return f"{count} secret" if count == 1 else f"{count} secrets"


def summary(n: Notification) -> str:
    """One or two sentences: what happened and what the reader should do."""
    env = one_line(n.environment)
    actor = f"@{n.actor}" if n.actor else "someone"
    reason = f" Reason: {one_line(n.reason)}." if n.reason else ""
    match n.kind:
        case NotificationKind.WAITING:
            return (
                f"@{n.requester} asks to change {_secret_count(n)} in {env}. "
                f"Can approve: {_people(n.approvers_needed)}. Review the pull request."
            )
        case NotificationKind.REMINDER:
            return (
                f"The request by @{n.requester} to change {_secret_count(n)} in {env} "
                f"is still waiting. Can approve: {_people(n.approvers_needed)}."
            )
        case NotificationKind.APPROVED:
            return f"Approved by {actor}; the change to {env} will be merged and applied."
        case NotificationKind.REJECTED:
            return f"{actor} rejected the change to {env}; it will not be applied.{reason}"
        case NotificationKind.BYPASSED:
            return (
                f"{actor} merged a change to {_secret_count(n)} in {env} without the "
                f"required approvals (break-glass).{reason} Approvers: review it now."
            )
        case NotificationKind.APPLIED:
            return f"The change to {_secret_count(n)} in {env} is in the store and synced."
        case NotificationKind.FAILED:
            return (
                f"Applying the change to {env} failed.{reason} "
                "The pull request shows the details; on-call: check the affected workloads."
            )
        case NotificationKind.EXPIRED:
            return (
                f"The request by @{n.requester} expired without enough approvals. "
                "Push a new commit or open a new pull request to ask again."
            )


def facts(n: Notification) -> list[tuple[str, str]]:
    """Label/value pairs, in reading order. Empty values are left out."""
    rows = [
        ("Pull request", f"{n.reference} {one_line(n.title)}"),
        ("Environment", one_line(n.environment)),
        ("Secrets", ", ".join(n.secrets) or "none listed"),
        ("Requested by", f"@{n.requester}"),
    ]
    if n.actor:
        rows.append((_ACTOR_LABELS.get(n.kind, "By"), f"@{n.actor}"))
    if n.approvers_needed:
        label = "Approvers" if n.kind is NotificationKind.BYPASSED else "Can approve"
        rows.append((label, _people(n.approvers_needed)))
    if n.reason:
        rows.append(("Reason", one_line(n.reason)))
    return rows
