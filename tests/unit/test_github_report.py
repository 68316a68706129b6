"""The pull-request summary: conclusions, labels, the table, escaping, and no values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controller.errors import Problem
from controller.github.summary import (
    MARKER,
    MAX_TEXT,
    CheckOutcome,
    Label,
    comment_body,
    render_summary,
)
from controller.github.summary_cells import cell
from controller.model import (
    Decision,
    DecisionState,
    GenerateSpec,
    SecretChange,
    StepResult,
    Tier,
    frozen_map,
)

SEALED_CANARY = "sg1:k1:CANARY-SEALED-PAYLOAD-7f3a"
FP = "fp:3b9c0e1d"

CHANGE = SecretChange(
    name="rotate-stripe",
    environment="production",
    secret="payments/stripe",
    reason="rotate after vendor notice",
    set=frozen_map({"api-key": SEALED_CANARY}),
    generate=frozen_map({"webhook-secret": GenerateSpec(length=48)}),
    delete=("old-key",),
    source="changes/production/rotate-stripe.yaml",
)
STEP = StepResult(
    policy="payments-prod",
    step="approvals",
    required=2,
    approved_by=("alice",),
    eligible_remaining=("bob", "carol"),
)


def decision(state: DecisionState, **kwargs: object) -> Decision:
    defaults: dict[str, object] = {
        "reasons": ("payments-prod: 1 of 2 approvals",),
        "steps": (STEP,),
        "head_sha": "a" * 40,
        "tiers": frozen_map({CHANGE.path: Tier.CRITICAL}),
    }
    defaults.update(kwargs)
    return Decision(state=state, **defaults)  # type: ignore[arg-type]


def render(d: Decision, **kwargs: object) -> str:
    summary = render_summary(d, [CHANGE], fingerprints={(CHANGE.path, "api-key"): FP}, **kwargs)  # type: ignore[arg-type]
    return summary.text


@pytest.mark.parametrize(
    ("state", "status", "conclusion", "label"),
    [
        (DecisionState.PENDING, "in_progress", None, Label.PENDING),
        (DecisionState.APPROVED, "completed", "success", Label.APPROVED),
        (DecisionState.REJECTED, "completed", "failure", Label.REJECTED),
        (DecisionState.EXPIRED, "completed", "failure", Label.REJECTED),
        (DecisionState.INVALID, "completed", "failure", Label.REJECTED),
    ],
)
def test_conclusion_and_label_follow_the_decision(
    state: DecisionState, status: str, conclusion: str | None, label: Label
) -> None:
    summary = render_summary(decision(state), [CHANGE], fingerprints={})
    assert summary.outcome == CheckOutcome(status, conclusion)
    assert summary.label is label
    assert state.value in summary.title or "waiting" in summary.title


def test_bypass_and_applied_labels() -> None:
    bypassed = decision(
        DecisionState.APPROVED, bypassed=True, bypassed_by="dave", bypass_reason="outage"
    )
    summary = render_summary(bypassed, [CHANGE], fingerprints={})
    assert summary.label is Label.BYPASSED
    assert "`dave`" in summary.text
    assert "outage" in summary.text
    applied = render_summary(
        decision(DecisionState.APPROVED), [CHANGE], fingerprints={}, applied=True
    )
    assert applied.label is Label.APPLIED
    assert applied.outcome == CheckOutcome("completed", "success")
    assert {label.value for label in Label} == {
        "sealgate:pending",
        "sealgate:approved",
        "sealgate:rejected",
        "sealgate:bypassed",
        "sealgate:applied",
    }


def test_table_lists_every_key_with_its_operation_tier_and_fingerprint() -> None:
    text = render(decision(DecisionState.PENDING))
    rows = [line for line in text.splitlines() if line.startswith("| production")]
    assert len(rows) == 3
    by_key = {row.split("|")[3].strip(): row for row in rows}
    assert set(by_key) == {"`api-key`", "`webhook-secret`", "`old-key`"}
    assert f"`{FP}`" in by_key["`api-key`"]
    assert "| new key |" in by_key["`api-key`"]
    assert "generate (48, alphanumeric)" in by_key["`webhook-secret`"]
    assert "| delete |" in by_key["`old-key`"]
    for row in rows:
        assert "payments/stripe" in row
        assert "critical" in row
    assert "| payments-prod | approvals | 1 of 2 approvals | `alice` |" in text
    assert "needs 1 more approval: one of `bob`, `carol`" in text


def test_no_value_ever_reaches_the_summary() -> None:
    for state in DecisionState:
        text = render(decision(state))
        assert SEALED_CANARY not in text
        assert "CANARY" not in text


def test_reasons_shown_when_blocked_and_fixes_for_invalid_files() -> None:
    problem = Problem(
        "changes/production/bad.yaml", "spec.set.DB PASS", "key must match [-._a-zA-Z0-9]+", 7
    )
    text = render(
        decision(DecisionState.INVALID, reasons=(str(problem), "split the pull request"), steps=()),
        problems=[problem],
    )
    why, fixes = text.split("**Why:**")[1].split("**Fix these files:**")
    assert "split the pull request" in why
    assert "bad.yaml" not in why, "a problem is listed once, as a fix"
    assert (
        "- `changes/production/bad.yaml:7: spec.set.DB PASS: key must match [-._a-zA-Z0-9]+`"
        in fixes
    )
    lookalike = Problem("changes/x.yaml", "spec", "expected '<stream end>' | not `this`")
    fixed = render(decision(DecisionState.INVALID, steps=()), problems=[lookalike])
    assert "- `changes/x.yaml: spec: expected '<stream end>' | not 'this'`" in fixed


def test_an_approval_waiting_for_a_merge_command_says_why_earlier_ones_did_not_count() -> None:
    ignored = "The /sealgate merge comment by dev1 was ignored: the comment was edited."
    waiting = decision(DecisionState.APPROVED, reasons=(ignored,), auto_merge=False)
    assert ignored in render(waiting).split("**Why:**")[1]
    asked = decision(
        DecisionState.APPROVED, reasons=(ignored,), auto_merge=False, merge_requested_by="bob"
    )
    assert "**Why:**" not in render(asked)
    assert "**Why:**" not in render(decision(DecisionState.APPROVED, reasons=(ignored,)))


def test_person_typed_text_is_escaped() -> None:
    hostile = "a | b\n<script>alert(1)</script> @org/admins `x`"
    escaped = cell(hostile)
    assert "\n" not in escaped
    assert "<" not in escaped
    assert ">" not in escaped
    assert "@org" not in escaped
    assert "`" not in escaped
    assert "\\|" in escaped
    text = render(decision(DecisionState.REJECTED, reasons=(hostile,)))
    assert "<script>" not in text
    assert cell("") == "—"


def test_expiry_is_shown_while_pending() -> None:
    when = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert "Expires at 2026-01-02T03:04+00:00" in render(
        decision(DecisionState.PENDING, expires_at=when)
    )


def test_long_summaries_are_truncated_for_github() -> None:
    many = tuple(f"reason {i} " + "x" * 200 for i in range(600))
    text = render(decision(DecisionState.REJECTED, reasons=many))
    assert len(text) <= MAX_TEXT + 100
    assert text.endswith("summary truncated (too long for GitHub)\n")


def test_comment_body_carries_the_marker_first() -> None:
    summary = render_summary(decision(DecisionState.PENDING), [CHANGE], fingerprints={})
    body = comment_body(summary)
    assert body.startswith(MARKER + "\n")
    assert body.endswith(summary.text)


def test_the_title_counts_the_people_still_needed() -> None:
    # Three SREs approved a two-person step; the security step has nobody yet.
    sre = StepResult(
        policy="two-person",
        step="approvals",
        required=2,
        approved_by=("alice", "bob", "dave"),
        eligible_remaining=(),
        satisfied=True,
    )
    security = StepResult(
        policy="critical",
        step="security-sign-off",
        required=1,
        approved_by=(),
        eligible_remaining=("carol",),
    )
    pending = decision(DecisionState.PENDING, steps=(sre, security))
    title = render_summary(pending, [CHANGE], fingerprints={}).title
    assert title.endswith("(needs 1 more approval)"), title


def test_change_policies_fill_the_policy_column() -> None:
    other = StepResult(
        policy="other", step="approvals", required=1, approved_by=(), eligible_remaining=("zed",)
    )
    d = decision(DecisionState.PENDING, steps=(STEP, other))
    narrowed = render(d, change_policies={CHANGE.path: ["payments-prod"]})
    row = next(line for line in narrowed.splitlines() if line.startswith("| production"))
    assert row.endswith("| payments-prod |")
    assert "other" not in row
    assert "zed" not in row
