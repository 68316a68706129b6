"""What a store commit and its audit record say about the pull request behind a write.

The audit record keeps the whole text, in camelCase JSON fields added beside the older ones
(records written before these fields existed verify unchanged). The commit's ``Sealgate-*``
trailers repeat it for ``git log``: one line each and of bounded length, whatever a reason
holds (newlines, control or bidirectional-override characters, a 4 KiB paragraph), so a
reason can neither forge a trailer nor hide text from whoever reads the log.

A reason is text a person typed, never a value. One that contains a value the write stores
or replaces (or a common encoding of one) is withheld from both the record and the trailers:
the record says it was withheld and why, and the reason itself stays only on the pull
request, whose history already holds it (the value must be rotated).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable
from typing import Any

from controller.crypto.quoting import MIN_QUOTED_BYTES, quotes_any
from controller.store.types import ApprovalRecord, ChangeReason, PullRequestOrigin

MAX_TRAILER_CHARS = 200
MAX_REASON_TRAILERS = 20
MAX_APPROVAL_TRAILERS = 50
_log = logging.getLogger(__name__)
WITHHELD = "withheld: it contains a value this change stores or replaces"

# Line breaks of every kind, other control characters, zero-width and bidirectional
# formatting: none may reach a trailer, where they would split it or disguise it.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]+"
)


def one_line(text: str, limit: int = MAX_TRAILER_CHARS) -> str:
    """``text`` on one line of printable characters, at most ``limit`` long."""
    flat = " ".join(_UNSAFE.sub(" ", text).split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 3].rstrip() + "..."


# ------------------------------------------------------------------------ withholding


def withhold_values(record: ApprovalRecord, values: Iterable[bytes]) -> ApprovalRecord:
    """``record`` with every reason (and bypass reason) that contains one of ``values``
    replaced by a note saying it was withheld. ``values`` are never kept or returned."""
    probes = [v for v in values if len(v) >= MIN_QUOTED_BYTES]
    if not probes:
        return record
    reasons = tuple(
        dataclasses.replace(r, reason=WITHHELD) if quotes_any(r.reason, probes) else r
        for r in record.reasons
    )
    bypass = record.bypass_reason
    if bypass is not None and quotes_any(bypass, probes):
        bypass = WITHHELD
    origin = record.origin
    if origin and origin.bypass_reason and quotes_any(origin.bypass_reason, probes):
        origin = dataclasses.replace(origin, bypass_reason=WITHHELD)
    result = dataclasses.replace(record, reasons=reasons, bypass_reason=bypass, origin=origin)
    if result != record:
        _log.warning(
            "change %s: a reason (of %s) contains a value the change stores or replaces: it "
            "is withheld from the audit log and the commit; the value is in the pull "
            "request's history, so rotate it",
            record.change_id,
            ", ".join(withheld_secrets(result)) or "the bypass",
        )
    return result


def withheld_secrets(record: ApprovalRecord) -> tuple[str, ...]:
    """The secrets whose reason ``withhold_values`` withheld (names only, for the log)."""
    return tuple(r.secret for r in record.reasons if r.reason == WITHHELD)


# ------------------------------------------------------------------------ audit fields


def origin_fields(
    origin: PullRequestOrigin | None, *, bypass_reason: bool = True
) -> dict[str, Any]:
    """The audit fields naming the pull request and its people (camelCase, whole text).

    ``bypass_reason=False`` where the write opens no value the reason could be checked
    against (a rollback): the apply's own record holds the reason, checked."""
    if origin is None:
        return {}
    fields = {
        "repository": origin.repository,
        "pullRequest": origin.number,
        "pullRequestUrl": origin.url,
        "headSha": origin.head_sha,
        "requester": origin.requester,
        "approvals": [
            {"login": a.login, "policy": a.policy, "step": a.step} for a in origin.approvals
        ],
        "approvedBy": sorted({a.login for a in origin.approvals}),
        "mergedBy": origin.merged_by,
        "mergeTrigger": origin.merge_trigger,
        "mergeRequestedBy": origin.merge_requested_by,
        "bypassedBy": origin.bypassed_by,
        "bypassReason": origin.bypass_reason,
    }
    if not bypass_reason:
        del fields["bypassReason"]
    return fields


def reason_fields(reasons: Iterable[ChangeReason]) -> list[dict[str, Any]]:
    return [
        {
            "secret": r.secret,
            "source": r.source,
            "reason": r.reason,
            "withheld": r.reason == WITHHELD,
        }
        for r in reasons
    ]


# ------------------------------------------------------------------------ trailers


def _trigger_text(origin: PullRequestOrigin) -> str:
    who = origin.merge_requested_by or "unknown"
    if origin.merge_trigger == "command":
        return f"/sealgate merge by {who}"
    if origin.merge_trigger == "bypass":
        return f"/sealgate bypass by {who}"
    if origin.merge_trigger == "outside":
        return "merged on GitHub, not by sealgate"
    return origin.merge_trigger or "unknown"


def origin_trailers(
    origin: PullRequestOrigin | None, *, bypass_reason: bool = True
) -> list[tuple[str, str]]:
    if origin is None:
        return []
    trailers = [
        ("Sealgate-Pull-Request", origin.url or f"{origin.repository}#{origin.number}"),
        ("Sealgate-Head-Sha", origin.head_sha),
        ("Sealgate-Requester", origin.requester),
    ]
    approvals = origin.approvals[:MAX_APPROVAL_TRAILERS]
    trailers.extend(("Sealgate-Approved-By", f"{a.login} ({a.policy}/{a.step})") for a in approvals)
    if len(origin.approvals) > len(approvals):
        more = len(origin.approvals) - len(approvals)
        trailers.append(("Sealgate-Approved-By", f"and {more} more: see the audit record"))
    trailers.append(("Sealgate-Merged-By", origin.merged_by or "unknown"))
    trailers.append(("Sealgate-Merge-Trigger", _trigger_text(origin)))
    if origin.bypassed_by is not None:
        trailers.append(("Sealgate-Bypassed-By", origin.bypassed_by))
        if bypass_reason:
            trailers.append(("Sealgate-Bypass-Reason", origin.bypass_reason or ""))
    return [(name, one_line(value)) for name, value in trailers]


def reason_trailers(reasons: Iterable[ChangeReason]) -> list[tuple[str, str]]:
    listed = list(reasons)
    shown = listed[:MAX_REASON_TRAILERS]
    trailers = [("Sealgate-Reason", one_line(f"{r.secret}: {r.reason}")) for r in shown]
    if len(listed) > len(shown):
        more = len(listed) - len(shown)
        trailers.append(("Sealgate-Reason", f"and {more} more: see the audit record"))
    return trailers


def record_trailers(record: ApprovalRecord) -> list[tuple[str, str]]:
    """Every ``Sealgate-*`` trailer of an apply commit."""
    return [*origin_trailers(record.origin), *reason_trailers(record.reasons)]
