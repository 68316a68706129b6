"""The pull-request summary: one markdown text for the check run and the sticky comment.

Pure: decision, changes and fingerprints in, text out. It never sees a plaintext value and
never prints a sealed one: a key's new value shows only as the keyed fingerprint the caller
computed (``fingerprints[(change.path, key)]``). Everything a person typed (reasons, file
names, logins) is escaped so it cannot break the table or smuggle in markup.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controller.errors import Problem
from controller.github.summary_shape import shape_lines
from controller.model import Decision, DecisionState, RolloutFailure, SecretChange, StepResult, Tier

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


def cell(text: object) -> str:
    """One markdown table cell: no pipes, no line breaks, no HTML, no mentions."""
    value = " ".join(str(text).split())
    for raw, safe in (
        ("\\", "\\\\"),
        ("|", "\\|"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ("@", "@\u200b"),
        ("`", "'"),
    ):
        value = value.replace(raw, safe)
    return value or "—"


def _code(text: str, *, in_table: bool = True) -> str:
    """A code span: shown literally by GitHub, so only backticks, line breaks and (inside a
    table) pipes need care; HTML entities would show up verbatim."""
    value = " ".join(str(text).split()).replace("`", "'")
    if in_table:
        value = value.replace("|", "\\|")
    return f"`{value}`" if value else "—"


def _people(logins: Sequence[str]) -> str:
    return ", ".join(_code(login) for login in logins) if logins else "—"


RestoreRows = Mapping[str, Sequence[tuple[str, str, str | None, str | None]]]
"""Path -> (key, operation, store fingerprint now, store fingerprint restored) per key."""


def _operations(
    change: SecretChange,
    fingerprints: Mapping[tuple[str, str], str],
    restores: RestoreRows | None = None,
) -> list[tuple[str, str, str]]:
    """``(key, operation, fingerprint)`` per key, sorted by key for a stable table."""
    rows: list[tuple[str, str, str]] = []
    resolved = (restores or {}).get(change.path)
    if resolved is not None:
        for key, operation, now, back in resolved:
            # Store fingerprints on both sides, comparable with `sealgate store history`.
            shown = f"{_code(now) if now else 'none'} → {_code(back) if back else 'removed'}"
            rows.append((key, operation, shown))
    elif change.restore_version is not None:
        # Not resolved against the store (a dry run): say what is asked, nothing more.
        rows.append(("(every key)", f"restore (v{change.restore_version})", "—"))
    else:
        rows.extend((key, f"restore (v{n})", "—") for key, n in change.restore_keys.items())
    for key in change.set:
        fp = fingerprints.get((change.path, key))
        rows.append((key, "set", _code(fp) if fp else "—"))
    for key, spec in change.generate.items():
        rows.append((key, f"generate ({spec.length}, {spec.alphabet})", "generated on apply"))
    rows.extend((key, "delete", "—") for key in change.delete)
    return sorted(rows)


def _tier_cell(
    change: SecretChange,
    decision: Decision,
    tier_moves: Mapping[str, tuple[Tier, Tier]] | None,
) -> str:
    judged = decision.tiers.get(change.path)
    move = (tier_moves or {}).get(change.path)
    if move is None:
        return cell(judged or change.tier or "default")
    now, after = move
    text = f"{now} → {after}"
    if judged is not None and judged is not after:
        # A downgrade is judged at the higher tier it leaves; say so next to the arrow.
        text += f" (judged {judged})"
    return cell(text)


def _steps_for(
    change: SecretChange,
    steps: Sequence[StepResult],
    change_policies: Mapping[str, Sequence[str]] | None,
) -> list[StepResult]:
    if change_policies is None:
        return list(steps)
    names = set(change_policies.get(change.path, ()))
    return [s for s in steps if s.policy in names]


def _approvals(steps: Sequence[StepResult]) -> tuple[str, str, str]:
    if not steps:
        return "—", "—", "—"
    policies = ", ".join(dict.fromkeys(cell(s.policy) for s in steps))
    have_need = ", ".join(f"{len(s.approved_by)}/{s.required}" for s in steps)
    remaining = sorted({login for s in steps if not s.satisfied for login in s.eligible_remaining})
    return policies, have_need, _people(remaining)


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
    restores: RestoreRows | None = None,
    others: Sequence[str] = (),
) -> Summary:
    """Render the summary.

    ``change_policies`` maps a change's ``path`` to the names of the policies that apply to
    it; without it every change row lists every applicable policy. ``rollout`` says what a
    failed rollout does per path, so reviewers approve a rollback knowingly; ``warnings``
    are shown whatever the decision (a value reused from the secret's history).
    ``tier_moves`` maps a path to (tier now, tier after the change): every row then shows
    both, so a downgrade is visible. ``restores`` carries what a ``spec.restore`` writes
    back; ``others`` names the other open pull requests changing the same keys.
    """
    headline = "applied" if applied else _HEADLINES[decision.state]
    # Approvals beyond what a step requires do not bring another step closer.
    have = sum(min(len(s.approved_by), s.required) for s in decision.steps)
    need = sum(s.required for s in decision.steps)
    title = f"sealgate: {headline}"
    if decision.steps and decision.state in (DecisionState.PENDING, DecisionState.APPROVED):
        title += f" ({have}/{need} approvals)"
    if decision.bypassed:
        title = "sealgate: bypassed"

    lines = [f"### {cell(title)}", ""]
    if decision.head_sha:
        lines += [f"Decided on head `{cell(decision.head_sha[:12])}`.", ""]
    if decision.bypassed:
        lines += [
            f"**Bypassed** by {_code(decision.bypassed_by or 'unknown')}: "
            f"{cell(decision.bypass_reason or 'no reason given')}",
            "",
        ]
    if decision.expires_at is not None and decision.state is DecisionState.PENDING:
        lines += [f"Expires at {decision.expires_at.isoformat(timespec='minutes')}.", ""]
    fixes = [str(p) for p in problems]
    reasons = [r for r in decision.reasons if r not in fixes]
    # An approved request still waiting for `/sealgate merge` says why the merge commands
    # given so far did not count (edited, quoted, made before the last push).
    waiting_for_merge = not (
        decision.auto_merge or decision.bypassed or decision.merge_requested_by
    )
    if reasons and (decision.state is not DecisionState.APPROVED or waiting_for_merge):
        lines += ["**Why:**", *(f"- {cell(r)}" for r in reasons), ""]
    if warnings:
        lines += ["**Warnings:**", *(f"- :warning: {cell(w)}" for w in warnings), ""]
    if others:
        lines += [
            "**Other open pull requests change the same keys** (the first to be applied "
            "wins; the others become stale and must be re-proposed):",
            *(f"- {cell(o)}" for o in others),
            "",
        ]

    if changes:
        lines += [
            "| Environment | Secret | Key | Operation | Tier | Fingerprint | Policy "
            "| Approvals | Can still approve |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for change in sorted(changes, key=lambda c: (c.environment, c.secret, c.source)):
            tier = _tier_cell(change, decision, tier_moves)
            policy, have_need, remaining = _approvals(
                _steps_for(change, decision.steps, change_policies)
            )
            for key, operation, fp in _operations(change, fingerprints, restores):
                lines.append(
                    f"| {cell(change.environment)} | {cell(change.secret)} | {_code(key)} "
                    f"| {operation} | {tier} | {fp} | {policy} "
                    f"| {have_need} | {remaining} |"
                )
        lines.append("")
        lines += _rollout_lines(rollout or {})
        lines += shape_lines(changes, lambda text: _code(text, in_table=False))

    if decision.steps:
        lines += [
            "| Policy | Step | Approvals | Approved by | Changes requested by "
            "| Can still approve |",
            "|---|---|---|---|---|---|",
        ]
        for s in decision.steps:
            state = f"{len(s.approved_by)}/{s.required}"
            if s.waiting_on_earlier_step:
                state += " (after earlier step)"
            lines.append(
                f"| {cell(s.policy)} | {cell(s.step)} | {state} | {_people(s.approved_by)} "
                f"| {_people(s.changes_requested_by)} "
                f"| {'—' if s.satisfied else _people(s.eligible_remaining)} |"
            )
        lines.append("")

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
    )


def comment_body(summary: Summary) -> str:
    return f"{MARKER}\n{summary.text}"
