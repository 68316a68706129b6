"""The pull-request summary: one markdown text for the check run and the sticky comment.

Pure: decision, changes and fingerprints in, text out. It never sees a plaintext value and
never prints a sealed one: a key's new value shows only as the keyed fingerprint the caller
computed (``fingerprints[(change.path, key)]``), the value it replaces only as the store's
own fingerprint. Everything a person typed (reasons, file names, logins) is escaped so it
cannot break the table or smuggle in markup.

Order is urgency: a plaintext value pushed to git first, then who asked and why, what happens
next and who must act, and only then the tables (``summary_keys``, ``summary_next``).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from controller.errors import Problem
from controller.github import summary_access
from controller.github.summary_access import AccessView
from controller.github.summary_cells import WITHHELD_REASON, cell
from controller.github.summary_cells import reason_text as _reason
from controller.github.summary_cells import table_code as _code
from controller.github.summary_keys import RestoreRows, StoredSecret, key_table
from controller.github.summary_next import (
    code,
    expiry_line,
    more_people_needed,
    next_step,
    plural,
    step_count,
    step_need,
    step_teams,
)
from controller.github.summary_problems import Annotation, annotations_for, caution_lines
from controller.github.summary_shape import shape_lines
from controller.model import (
    Decision,
    DecisionState,
    Policy,
    RolloutFailure,
    SecretChange,
    Tier,
)

MARKER = "<!-- sealgate:summary -->"
"""Hidden first line of the sticky comment: how sealgate finds it again."""
CHECK_NAME = "sealgate"
MAX_TEXT = 60_000
"""GitHub caps a check run's summary at 65 535 characters and a comment at 65 536."""


class Label(enum.StrEnum):
    PENDING = "sealgate:pending"
    APPROVED = "sealgate:approved"
    REJECTED = "sealgate:rejected"
    BYPASSED = "sealgate:bypassed"
    APPLIED = "sealgate:applied"


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    status: str
    """``in_progress`` or ``completed``."""
    conclusion: str | None
    """``success``/``failure`` when completed."""


@dataclass(frozen=True, slots=True)
class Summary:
    title: str
    text: str
    label: Label
    outcome: CheckOutcome
    annotations: tuple[Annotation, ...] = ()
    """Check-run annotations: every problem that names a file, at its line."""


_HEADLINES = {
    DecisionState.PENDING: "waiting for approval",
    DecisionState.APPROVED: "approved",
    DecisionState.REJECTED: "rejected",
    DecisionState.EXPIRED: "expired",
    DecisionState.INVALID: "invalid",
}


def label_for(decision: Decision, *, applied: bool = False) -> Label:
    """The one ``sealgate:*`` label the pull request should carry.

    Expired and invalid requests carry ``rejected``: neither can be merged as they stand.
    """
    if applied:
        return Label.APPLIED
    if decision.bypassed:
        return Label.BYPASSED
    if decision.state is DecisionState.APPROVED:
        return Label.APPROVED
    if decision.state is DecisionState.PENDING:
        return Label.PENDING
    return Label.REJECTED


def outcome_for(decision: Decision, *, applied: bool = False) -> CheckOutcome:
    """Pending stays ``in_progress``, not ``completed/neutral``.

    Branch protection treats a neutral conclusion as passing; an in-progress check keeps a
    required ``sealgate`` check from letting anyone merge around the controller.
    """
    if applied or decision.state is DecisionState.APPROVED:
        return CheckOutcome("completed", "success")
    if decision.state is DecisionState.PENDING:
        return CheckOutcome("in_progress", None)
    return CheckOutcome("completed", "failure")


def _people(logins: Sequence[str]) -> str:
    return ", ".join(_code(login) for login in logins) if logins else "—"


def _steps_table(decision: Decision, teams: Mapping[tuple[str, str], Sequence[str]]) -> list[str]:
    if not decision.steps:
        return []
    lines = [
        "| Policy | Step | Approvals | Approved by | Changes requested by | Still needed "
        "| Can still approve |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in decision.steps:
        need = step_need(s, teams.get((s.policy, s.step), ())).replace("|", "\\|")
        lines.append(
            f"| {cell(s.policy)} | {cell(s.step)} | {cell(step_count(s))} "
            f"| {_people(s.approved_by)} | {_people(s.changes_requested_by)} | {need} "
            f"| {'—' if s.satisfied else _people(s.eligible_remaining)} |"
        )
    return [*lines, ""]


def _rollout_lines(rollout: Mapping[str, RolloutFailure]) -> list[str]:
    if not rollout:
        return []
    lines = ["**If a rollout fails** (`spec.onRolloutFailure`):"]
    for path, choice in sorted(rollout.items()):
        if choice is RolloutFailure.ROLLBACK:
            lines.append(
                f"- {_code(path, in_table=False)}: **rollback**: the Secret returns to the "
                "content this change replaces, so the replaced value is in use again. Do not "
                "approve this for the rotation of a leaked credential."
            )
        else:
            lines.append(
                f"- {_code(path, in_table=False)}: keep: the new value stays in store and "
                "cluster and the failure is reported; the workload must be fixed."
            )
    return [*lines, ""]


def _request_lines(
    changes: Sequence[SecretChange],
    requester: str,
    problems: Sequence[Problem] = (),
    withheld: frozenset[str] = frozenset(),
) -> list[str]:
    """Who asked and why (``spec.reason``), escaped: both are typed by the requester.

    A reason a problem names (a credential in it, or a quote of its own value) is not
    shown: the summary must not repeat a value, whatever the file it came from holds."""
    flagged = {p.file for p in problems if p.field == "spec.reason"} | withheld
    changes = [
        dataclasses.replace(c, reason=WITHHELD_REASON) if c.source in flagged else c
        for c in changes
    ]
    reasons = dict.fromkeys(_reason(c.reason) for c in changes if c.reason.strip())
    who = f"Requested by {code(requester)}" if requester else ""
    if len(reasons) <= 1:
        reason = next(iter(reasons), "")
        text = who + (f"{': ' if who else 'Reason: '}{reason}" if reason else "")
        return [text if text.endswith((".", "!", "?")) else text + ".", ""] if text else []
    lines = [f"{who or 'Requested'}, for these reasons:"]
    for change in sorted(changes, key=lambda c: (c.environment, c.secret)):
        if change.reason.strip():
            lines.append(f"- {code(change.path)}: {_reason(change.reason)}")
    return [*lines, ""]


def _title(decision: Decision, applied: bool) -> str:
    if decision.bypassed:
        return "sealgate: bypassed"
    if applied:
        return "sealgate: applied"
    title = f"sealgate: {_HEADLINES[decision.state]}"
    if decision.state is DecisionState.PENDING and decision.steps:
        more = more_people_needed(decision.steps)
        title += f" (needs {plural(more, 'more approval')})"
    elif decision.state is DecisionState.APPROVED and not (
        decision.auto_merge or decision.merge_requested_by
    ):
        title += ", waiting for /sealgate merge"
    return title


def render_summary(
    decision: Decision,
    changes: Sequence[SecretChange],
    *,
    fingerprints: Mapping[tuple[str, str], str],
    problems: Sequence[Problem] = (),
    change_policies: Mapping[str, Sequence[str]] | None = None,
    applied: bool = False,
    rollout: Mapping[str, RolloutFailure] | None = None,
    warnings: Sequence[str] = (),
    tier_moves: Mapping[str, tuple[Tier, Tier]] | None = None,
    policies: Sequence[Policy] = (),
    requester: str = "",
    now: datetime | None = None,
    before: Mapping[str, StoredSecret] | None = None,
    after: Mapping[str, StoredSecret] | None = None,
    clusters: Mapping[str, Sequence[str]] | None = None,
    contributors: frozenset[str] = frozenset(),
    restores: RestoreRows | None = None,
    others: Sequence[str] = (),
    reasons_withheld: frozenset[str] = frozenset(),
    access: AccessView | None = None,
) -> Summary:
    """Render the summary.

    ``change_policies`` maps a change's ``path`` to the names of the policies that apply to
    it (without it the policy column is left empty). ``rollout`` says what
    a failed rollout does per path, so reviewers approve a rollback knowingly; ``warnings``
    are shown whatever the decision (a value reused from the secret's history).
    ``tier_moves`` maps a path to (tier now, tier after the change). ``policies`` are the
    applicable policies (their teams and who may merge); ``requester`` is the pull
    request's author; ``now`` is the evaluation's clock (relative expiry). ``before`` is the
    store's state of each path this change did not write (None: no store was asked);
    ``after``, the version this change applied; ``clusters``, per environment, where it
    goes; ``contributors`` (casefolded), who pushed to the pull request and so may not ask
    to merge it unless the policy allows self-approval. ``restores`` carries what a
    ``spec.restore`` writes back; ``others`` names the other open pull requests changing the
    same keys. ``access`` makes it the summary of an access pull request
    (``summary_access``): its requests and grants replace the change's words.
    """
    title = (access and summary_access.title(decision, access, applied=applied)) or _title(
        decision, applied
    )
    # A recorded grant is to an access request what the store's version is to a change.
    applied = applied or bool(access and access.grants)
    teams = step_teams(policies)
    key_lines, key_warnings = key_table(
        changes,
        decision,
        fingerprints=fingerprints,
        before=before or {},
        after=after or {},
        tier_moves=tier_moves,
        cell=cell,
        code=_code,
        store_known=before is not None,
        policies_of=change_policies,
        restores=restores,
    )

    lines = [f"### {cell(title)}", ""]
    lines += caution_lines(problems, code)
    if access is not None:
        lines += summary_access.request_lines(access, decision, problems)
    else:
        lines += _request_lines(changes, requester, problems, reasons_withheld)
    if decision.head_sha:
        lines += [f"Decided on head `{cell(decision.head_sha[:12])}`.", ""]
    if decision.bypassed:
        lines += [
            f"**Bypassed** by {_code(decision.bypassed_by or 'unknown')}: "
            f"{cell(decision.bypass_reason or 'no reason given')}",
            "",
        ]
    if decision.state in (DecisionState.PENDING, DecisionState.EXPIRED) and not applied:
        expiry = expiry_line(decision, now)
        lines += [expiry, ""] if expiry else []
    if access is not None:
        lines += summary_access.next_lines(
            access,
            decision,
            applied=applied,
            policies=policies,
            author=requester,
            has_problems=bool(problems),
            teams=teams,
            contributors=contributors,
        )
    else:
        lines += next_step(
            decision,
            applied=applied,
            policies=policies,
            author=requester,
            has_problems=bool(problems),
            teams=teams,
            applied_versions={path: s.version for path, s in (after or {}).items()},
            clusters=clusters,
            contributors=contributors,
        )
    lines.append("")
    fixes = [str(p) for p in problems]
    reasons = [r for r in decision.reasons if r not in fixes]
    # An approved request still waiting for `/sealgate merge` says why the merge commands
    # given so far did not count (edited, quoted, made before the last push).
    waiting_for_merge = not (
        decision.auto_merge or decision.bypassed or decision.merge_requested_by
    )
    if reasons and (decision.state is not DecisionState.APPROVED or waiting_for_merge):
        lines += ["**Why:**", *(f"- {cell(r)}" for r in reasons), ""]
    shown_warnings = [*warnings, *(str(w) for w in key_warnings)]
    if shown_warnings:
        lines += ["**Warnings:**", *(f"- :warning: {cell(w)}" for w in shown_warnings), ""]
    if others:
        lines += [
            "**Other open pull requests change the same keys** (the first to be applied "
            "wins; the others become stale and must be re-proposed):",
            *(f"- {cell(o)}" for o in others),
            "",
        ]

    if changes:
        lines += key_lines
        lines += _rollout_lines(rollout or {})
        lines += shape_lines(changes, lambda text: _code(text, in_table=False))
    lines += _steps_table(decision, teams)

    if problems:
        lines += ["**Fix these files:**", *(f"- {_code(p, in_table=False)}" for p in fixes), ""]

    text = "\n".join(lines).rstrip() + "\n"
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT].rsplit("\n", 1)[0] + "\n\n…summary truncated (too long for GitHub)\n"
    return Summary(
        title=title,
        text=text,
        label=label_for(decision, applied=applied),
        outcome=outcome_for(decision, applied=applied),
        annotations=annotations_for(problems, key_warnings),
    )


def comment_body(summary: Summary) -> str:
    return f"{MARKER}\n{summary.text}"
