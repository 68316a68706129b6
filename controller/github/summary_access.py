"""The summary of an access pull request: who asks to read what, why, for how long, how it
is delivered, and where the grant stands once there is one.

Pure, like the change summary: requests, decision, grants and the clock in, markdown out.
It names secrets and keys, never a value. A reason is withheld under the change summary's
rules (a problem names ``spec.reason`` of its file, or the caller found it quoting a value
the store holds) and, as a second line of defence, whenever it looks like a credential:
the summary must not depend on every caller having run the document checks, and a
revocation's reason comes from a comment, not a document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controller.documents.reason_check import credential_in
from controller.errors import Problem
from controller.github.summary_cells import WITHHELD_REASON, cell, reason_text, table_code
from controller.github.summary_next import code, mergers, next_step, relative
from controller.model import (
    AccessDelivery,
    AccessRequest,
    Decision,
    DecisionState,
    Grant,
    GrantState,
    KubernetesSubject,
    Policy,
    Tier,
    frozen_map,
)

CREDENTIAL_WITHHELD = "withheld: it looks like it holds a credential"

_TITLES = {
    GrantState.ACTIVE: "sealgate: access active",
    GrantState.APPROVED: "sealgate: access granted",
    GrantState.REVOKED: "sealgate: access revoked",
    GrantState.ENDED: "sealgate: access ended",
    GrantState.LAPSED: "sealgate: access lapsed",
}
"""In order of precedence: with several grants the title names the most live one."""


@dataclass(frozen=True, slots=True)
class AccessView:
    """What the summary of an access pull request needs besides the decision."""

    requests: tuple[AccessRequest, ...]
    now: datetime
    """The clock the grant states are read at (the evaluation's)."""
    grants: tuple[Grant, ...] = ()
    """The grants recorded for these requests; none before the merge."""
    tiers: Mapping[str, Tier] = field(default_factory=frozen_map)
    """``<env>/<namespace>/<name>`` -> the tier each secret was judged at."""
    withheld: frozenset[str] = frozenset()
    """Sources whose reason quotes a value the store holds (found by the caller)."""

    def grant_of(self, request: AccessRequest) -> Grant | None:
        for grant in self.grants:
            if (grant.environment, grant.request_id) == (request.environment, request.request_id):
                return grant
        return None

    def states(self) -> list[GrantState]:
        return [g.state(self.now) for g in self.grants]


def access_view(
    requests: Sequence[AccessRequest],
    decision: Decision,
    tiers: Mapping[str, Tier],
    grant: Grant | None,
    now: datetime,
    *,
    grants: Sequence[Grant] = (),
    withheld: frozenset[str] = frozenset(),
) -> AccessView:
    """The view ``render_summary(access=...)`` takes. ``grant`` is the one grant of a pull
    request with one request file; ``grants`` carries them all when there are several.
    ``tiers`` wins over ``decision.tiers`` for a path both name."""
    every = [*([grant] if grant is not None else []), *grants]
    unique = {g.id: g for g in every}
    return AccessView(
        requests=tuple(requests),
        now=now,
        grants=tuple(unique.values()),
        tiers=frozen_map({**decision.tiers, **tiers}),
        withheld=withheld,
    )


# ------------------------------------------------------------------------------ words


def duration_text(span: timedelta) -> str:
    """``2 hours``, ``1 day 6 hours``, ``90 seconds``: the two largest units, no more."""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{seconds} second" + ("" if seconds == 1 else "s")
    parts: list[str] = []
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {unit}" + ("" if amount == 1 else "s"))
    return " ".join(parts[:2])


def moment(when: datetime, now: datetime) -> str:
    """``2026-03-01T14:00+00:00 (in 2 hours)``, as the expiry line writes times."""
    return f"{when.isoformat(timespec='minutes')} ({relative(when, now)})"


def _reason(request: AccessRequest, flagged: frozenset[str]) -> str:
    if request.source in flagged:
        return WITHHELD_REASON
    if credential_in(request.reason):
        return CREDENTIAL_WITHHELD
    return reason_text(request.reason) if request.reason.strip() else ""


def _subject(subject: KubernetesSubject | None) -> str:
    if subject is None:
        return "no subject named"
    where = f" in namespace {code(subject.namespace)}" if subject.namespace else ""
    return f"{cell(subject.kind)} {code(subject.name)}{where}"


def _delivery(request: AccessRequest | Grant) -> list[str]:
    lines: list[str] = []
    if AccessDelivery.OPEN in request.deliver:
        lines.append(
            f"`sealgate open` / `sealgate exec` by {code(request.requester)}: on each use "
            "the controller seals the values to a fresh key of the caller"
        )
    if AccessDelivery.KUBERNETES in request.deliver:
        text = (
            f"Kubernetes: a Role and RoleBinding for {_subject(request.kubernetes_subject)} "
            f"in every cluster of {code(request.environment)}, removed when access ends"
        )
        if any(item.keys for item in request.secrets):
            # RBAC names whole Secrets: a reviewer approving two keys must know it gives all.
            text += (
                "; :warning: Kubernetes RBAC cannot limit keys: the subject can read every "
                "key of these Secrets"
            )
        lines.append(text)
    return lines


def _commands(grant: Grant) -> str:
    paths = [f"{grant.environment}/{item.secret}" for item in grant.secrets]
    return ", ".join(code(f"sealgate open {path}") for path in sorted(paths))


def _secrets_table(request: AccessRequest, tiers: Mapping[str, Tier]) -> list[str]:
    def tier_of(secret: str) -> Tier | None:
        return tiers.get(f"{request.environment}/{secret}")

    # Highest tier first: the row a reviewer must weigh most is the one read first.
    items = sorted(
        request.secrets,
        key=lambda item: (-(tier_of(item.secret) or Tier.STANDARD).rank, item.secret),
    )
    lines = ["| Environment | Secret | Keys | Tier |", "|---|---|---|---|"]
    for item in items:
        keys = ", ".join(table_code(k) for k in item.keys) if item.keys else "all keys"
        tier = tier_of(item.secret)
        lines.append(
            f"| {cell(request.environment)} | {cell(item.secret)} | {keys} "
            f"| {cell(tier.value if tier else 'unknown')} |"
        )
    return [*lines, ""]


def _granted(request: AccessRequest, decision: Decision, grant: Grant | None) -> timedelta:
    if grant is not None:
        return grant.duration
    if decision.granted_duration is not None:
        return min(request.duration, decision.granted_duration)
    return request.duration


# ----------------------------------------------------------------------------- section


def request_lines(
    view: AccessView, decision: Decision, problems: Sequence[Problem] = ()
) -> list[str]:
    """Who asks, what, why, for how long, within which window, delivered how: per request,
    escaped (the requester typed all of it)."""
    flagged = frozenset({p.file for p in problems if p.field == "spec.reason"} | view.withheld)
    several = len(view.requests) > 1
    lines: list[str] = []
    for request in sorted(view.requests, key=lambda r: (r.environment, r.source, r.name)):
        if several:
            lines += [
                f"**Access request {code(request.request_id)}** "
                f"({code(request.source or request.name)})",
                "",
            ]
        reason = _reason(request, flagged)
        who = f"Access requested by {code(request.requester)}"
        text = f"{who}: {reason}" if reason else who
        lines += [text if text.endswith((".", "!", "?")) else text + ".", ""]
        lines += _secrets_table(request, view.tiers)
        grant = view.grant_of(request)
        granted = _granted(request, decision, grant)
        how_long = f"- **For:** {duration_text(request.duration)} from the first use"
        if granted < request.duration:
            how_long += (
                f"; **granted {duration_text(granted)}**: an approver shortened it with "
                "`/sealgate approve-for`"
            )
        lines.append(how_long + ".")
        lines.append(
            f"- **Activation window:** the first use must come within "
            f"{duration_text(request.activate_within)} of the approval, or the grant lapses "
            "unused."
        )
        delivery = _delivery(request)
        if len(delivery) == 1:
            lines.append(f"- **Delivery:** {delivery[0]}.")
        else:
            lines.append("- **Delivery:**")
            lines += [f"  - {d}." for d in delivery]
        lines.append("")
    return lines


def title(decision: Decision, view: AccessView, *, applied: bool = False) -> str | None:
    """The title once merged or granted (None before: the decision's title stands)."""
    if decision.bypassed:
        return None
    if not view.grants:
        # "applied" would claim a store write that an access request never makes.
        return "sealgate: merged, recording the grant" if applied else None
    states = set(view.states())
    return next(text for state, text in _TITLES.items() if state in states)


def _grant_line(grant: Grant, now: datetime) -> str:
    state = grant.state(now)
    who = code(grant.requester)
    if state is GrantState.APPROVED:
        if AccessDelivery.OPEN in grant.deliver:
            return (
                f"**Next:** {who} can now run {_commands(grant)}: the first use must come "
                f"before {moment(grant.activate_by, now)}, or the grant lapses; access then "
                f"lasts {duration_text(grant.duration)} from the first use."
            )
        return (
            f"**Next:** sealgate binds {_subject(grant.kubernetes_subject)} in the clusters "
            f"of {code(grant.environment)}; access lasts {duration_text(grant.duration)} from "
            f"the binding (it must start before {moment(grant.activate_by, now)})."
        )
    if state is GrantState.ACTIVE:
        used = f"first used at {_iso(grant.first_used_at)}, used {_times(grant.uses)}"
        can = []
        if AccessDelivery.OPEN in grant.deliver:
            can.append(f"{who} can run {_commands(grant)} until then")
        if AccessDelivery.KUBERNETES in grant.deliver:
            can.append(f"the RoleBinding for {_subject(grant.kubernetes_subject)} is removed then")
        return (
            f"**Active:** access ends at {moment(grant.ends_at, now)}: {'; '.join(can)} ({used})."
        )
    if state is GrantState.LAPSED:
        return (
            f"**Lapsed:** never used before {moment(grant.activate_by, now)}; nothing can be "
            "read through it. To read these secrets, open a new access request."
        )
    if state is GrantState.ENDED:
        return (
            f"**Ended** at {moment(grant.ends_at, now)}, {duration_text(grant.duration)} after "
            f"the first use at {_iso(grant.first_used_at)}; used {_times(grant.uses)}. To "
            "read again, open a new access request."
        )
    by = code(grant.revoked_by) if grant.revoked_by else "an operator"
    reason = grant.revoke_reason or ""
    shown = CREDENTIAL_WITHHELD if credential_in(reason) else reason_text(reason)
    at = moment(grant.revoked_at, now) if grant.revoked_at else "—"
    return (
        f"**Revoked** at {at} by {by}"
        + (f": {shown}" if reason.strip() else "")
        + (f"; used {_times(grant.uses)}.")
    )


def _iso(when: datetime | None) -> str:
    return when.isoformat(timespec="minutes") if when is not None else "—"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _facts(grant: Grant) -> str:
    approvers = ", ".join(code(a) for a in grant.approvers) or "—"
    return (
        f"Grant {code(grant.id)}: approved at {_iso(grant.approved_at)} by {approvers}, for "
        f"{duration_text(grant.duration)}."
    )


def next_lines(
    view: AccessView,
    decision: Decision,
    *,
    applied: bool,
    policies: Sequence[Policy],
    author: str,
    has_problems: bool,
    teams: Mapping[tuple[str, str], Sequence[str]],
    contributors: frozenset[str] = frozenset(),
) -> list[str]:
    """The "Next:" paragraph of an access pull request (markdown lines)."""
    if view.grants:
        lines: list[str] = []
        shown: set[str] = set()
        several = len(view.requests) + len(view.grants) > 2
        for request in sorted(view.requests, key=lambda r: (r.environment, r.source)):
            grant = view.grant_of(request)
            if grant is None:
                lines += [f"- {code(request.request_id)}: no grant recorded yet.", ""]
                continue
            shown.add(grant.id)
            prefix = f"{code(request.request_id)}: " if several else ""
            lines += [prefix + _grant_line(grant, view.now), "", _facts(grant), ""]
        # A grant whose request file is gone from the pull request is still reported.
        for grant in sorted((g for g in view.grants if g.id not in shown), key=lambda g: g.id):
            prefix = f"{code(grant.request_id)}: " if several else ""
            lines += [prefix + _grant_line(grant, view.now), "", _facts(grant), ""]
        return lines[:-1] if lines and lines[-1] == "" else lines
    if applied:
        return ["**Merged:** sealgate records the grant; this summary shows it once recorded."]
    state = decision.state
    if state is DecisionState.APPROVED and not has_problems:
        if decision.bypassed or decision.auto_merge:
            return [
                "**Next:** sealgate merges this pull request, then a grant is recorded; nobody "
                "needs to act."
            ]
        if decision.merge_requested_by:
            return [
                f"**Next:** sealgate merges it, as {code(decision.merge_requested_by)} asked, "
                "then a grant is recorded."
            ]
        who = mergers(policies, author, contributors)
        return [
            f"**Next:** a person who may merge comments `/sealgate merge`: {who}; then a "
            "grant is recorded."
        ]
    if state is DecisionState.EXPIRED and not has_problems:
        return [
            "**Next:** the approval window closed: open a new pull request with the same "
            "access request files and collect approvals anew."
        ]
    return next_step(
        decision,
        applied=False,
        policies=policies,
        author=author,
        has_problems=has_problems,
        teams=teams,
        applied_versions={},
        contributors=contributors,
    )
