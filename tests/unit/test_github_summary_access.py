"""The summary of an access pull request, state by state, with literal fixtures: who asks,
what, why (withheld when it may hold a credential), for how long, delivered how, and what
happens next, from waiting for approvals to a revoked grant."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.documents import PLAINTEXT_MESSAGE
from controller.errors import Problem
from controller.github.summary import Label, Summary, render_summary
from controller.github.summary_access import access_view, duration_text
from controller.model import (
    AccessDelivery,
    AccessRequest,
    ApprovalStep,
    Decision,
    DecisionState,
    Grant,
    KubernetesSubject,
    Policy,
    SecretAccess,
    StepResult,
    Tier,
    frozen_map,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CANARY_TOKEN = "ghp_" + "C4N4RYt0k3n" * 4
"""Shaped like a GitHub token: the reason check recognises it by its prefix."""
REQUEST = AccessRequest(
    name="incident-4711-stripe",
    environment="production",
    secrets=(
        SecretAccess("payments/db"),
        SecretAccess("payments/stripe", ("STRIPE_API_KEY",)),
    ),
    requester="dev1",
    reason="Investigating failed payouts <b>@acme/all</b> | incident 4711",
    duration=timedelta(hours=2),
    activate_within=timedelta(hours=24),
    source="access/production/incident-4711.yaml",
)
TIERS = {
    "production/payments/stripe": Tier.CRITICAL,
    "production/payments/db": Tier.SENSITIVE,
}
POLICY = Policy(
    name="access-two-person",
    steps=(ApprovalStep("approvals", 2, users=frozenset({"alice", "bob"})),),
    auto_merge=False,
)
PENDING = Decision(
    state=DecisionState.PENDING,
    reasons=("needs 2 approvals",),
    steps=(
        StepResult(
            policy="access-two-person",
            step="approvals",
            required=2,
            approved_by=("alice",),
            eligible_remaining=("bob", "carol"),
        ),
    ),
    expires_at=NOW + timedelta(days=2),
    access=True,
    tiers=frozen_map(TIERS),
    head_sha="a" * 40,
)
APPROVED = Decision(
    state=DecisionState.APPROVED,
    reasons=(),
    steps=(
        StepResult(
            policy="access-two-person",
            step="approvals",
            required=2,
            approved_by=("alice", "bob"),
            eligible_remaining=(),
            satisfied=True,
        ),
    ),
    access=True,
    tiers=frozen_map(TIERS),
    granted_duration=timedelta(hours=1),
    auto_merge=False,
)
GRANT = Grant(
    id="production-pr-7-incident-4711",
    environment="production",
    repo="acme/requests",
    pull_request=7,
    request_id="incident-4711",
    requester="dev1",
    secrets=REQUEST.secrets,
    deliver=frozenset({AccessDelivery.OPEN}),
    approvers=("alice", "bob"),
    approved_at=NOW - timedelta(hours=1),
    duration=timedelta(hours=1),
    activate_by=NOW + timedelta(hours=23),
    reason=REQUEST.reason,
    tier=Tier.CRITICAL,
)
ACTIVE = dataclasses.replace(GRANT, first_used_at=NOW - timedelta(minutes=15), uses=3)
LAPSED = dataclasses.replace(GRANT, activate_by=NOW - timedelta(hours=2))
ENDED = dataclasses.replace(GRANT, first_used_at=NOW - timedelta(hours=3), uses=1)
REVOKED = dataclasses.replace(
    ACTIVE,
    revoked_at=NOW - timedelta(minutes=5),
    revoked_by="secops",
    revoke_reason="incident closed",
)


def render(
    decision: Decision,
    grant: Grant | None = None,
    request: AccessRequest = REQUEST,
    **extra: Any,
) -> str:
    return summarize(decision, grant, request, **extra).text


def summarize(
    decision: Decision,
    grant: Grant | None = None,
    request: AccessRequest = REQUEST,
    withheld: frozenset[str] = frozenset(),
    **extra: Any,
) -> Summary:
    view = access_view([request], decision, TIERS, grant, NOW, withheld=withheld)
    return render_summary(
        decision,
        [],
        fingerprints={},
        policies=[POLICY],
        requester="dev1",
        now=NOW,
        access=view,
        **extra,
    )


def test_who_asks_what_and_why_highest_tier_first() -> None:
    text = render(PENDING)
    lines = text.splitlines()
    who = next(line for line in lines if line.startswith("Access requested by"))
    assert who.startswith("Access requested by `dev1`: Investigating failed payouts")
    assert "<b>" not in who
    assert "@acme/all" not in who
    assert "\\|" in who
    rows = [line for line in lines if line.startswith("| production")]
    assert rows == [
        "| production | payments/stripe | `STRIPE_API_KEY` | critical |",
        "| production | payments/db | all keys | sensitive |",
    ]
    assert "- **For:** 2 hours from the first use." in lines
    assert (
        "- **Activation window:** the first use must come within 1 day of the approval, or "
        "the grant lapses unused."
    ) in lines
    assert any(
        line.startswith("- **Delivery:** `sealgate open` / `sealgate exec`") for line in lines
    )


def test_waiting_for_approvals_names_who_can_approve() -> None:
    summary = summarize(PENDING)
    assert summary.title == "sealgate: waiting for approval (needs 1 more approval)"
    assert summary.label is Label.PENDING
    assert summary.outcome.status == "in_progress"
    assert "**Next:** 1 more approval (people, not rules):" in summary.text
    assert (
        "- `access-two-person` / `approvals`: needs 1 more approval: one of `bob`, `carol`"
        in summary.text
    )
    assert "Expires at 2026-03-03T12:00+00:00 (in 2 days)." in summary.text
    assert "applies it" not in summary.text, "an access request is never applied"


def test_approved_says_a_grant_follows_the_merge() -> None:
    waiting = render(APPROVED)
    assert "**Next:** a person who may merge comments `/sealgate merge`: `dev1` (the author)" in (
        waiting
    )
    assert "then a grant is recorded." in waiting
    auto = render(dataclasses.replace(APPROVED, auto_merge=True))
    assert (
        "**Next:** sealgate merges this pull request, then a grant is recorded; nobody needs "
        "to act."
    ) in auto
    asked = render(dataclasses.replace(APPROVED, merge_requested_by="bob"))
    assert "**Next:** sealgate merges it, as `bob` asked, then a grant is recorded." in asked


def test_a_shortened_duration_says_both() -> None:
    text = render(APPROVED)
    assert (
        "- **For:** 2 hours from the first use; **granted 1 hour**: an approver shortened it "
        "with `/sealgate approve-for`."
    ) in text
    assert (
        "granted" not in render(PENDING).split("**Next:**")[0].split("**For:**")[1].split("\n")[0]
    )


def test_granted_tells_the_requester_what_to_run() -> None:
    summary = summarize(APPROVED, GRANT)
    assert summary.title == "sealgate: access granted"
    assert summary.label is Label.APPLIED
    assert summary.outcome.conclusion == "success"
    assert (
        "**Next:** `dev1` can now run `sealgate open production/payments/db`, "
        "`sealgate open production/payments/stripe`: the first use must come before "
        "2026-03-02T11:00+00:00 (in 23 hours), or the grant lapses; access then lasts 1 hour"
    ) in summary.text
    assert (
        "Grant `production-pr-7-incident-4711`: approved at 2026-03-01T11:00+00:00 by "
        "`alice`, `bob`, for 1 hour."
    ) in summary.text


def test_active_says_when_it_ends() -> None:
    summary = summarize(APPROVED, ACTIVE)
    assert summary.title == "sealgate: access active"
    assert (
        "**Active:** access ends at 2026-03-01T12:45+00:00 (in 45 minutes): `dev1` can run "
        "`sealgate open production/payments/db`, `sealgate open production/payments/stripe` "
        "until then (first used at 2026-03-01T11:45+00:00, used 3 times)."
    ) in summary.text


@pytest.mark.parametrize(
    ("grant", "title", "line"),
    [
        (
            LAPSED,
            "sealgate: access lapsed",
            "**Lapsed:** never used before 2026-03-01T10:00+00:00 (2 hours ago); nothing can "
            "be read through it.",
        ),
        (
            ENDED,
            "sealgate: access ended",
            "**Ended** at 2026-03-01T10:00+00:00 (2 hours ago), 1 hour after the first use at "
            "2026-03-01T09:00+00:00; used once.",
        ),
        (
            REVOKED,
            "sealgate: access revoked",
            "**Revoked** at 2026-03-01T11:55+00:00 (5 minutes ago) by `secops`: incident "
            "closed; used 3 times.",
        ),
    ],
)
def test_a_grant_that_ended_says_when_and_by_whom(grant: Grant, title: str, line: str) -> None:
    summary = summarize(APPROVED, grant)
    assert summary.title == title
    assert line in summary.text
    assert "can now run" not in summary.text


def test_merged_before_the_grant_is_recorded() -> None:
    summary = summarize(APPROVED, applied=True)
    assert summary.title == "sealgate: merged, recording the grant"
    assert "**Merged:** sealgate records the grant" in summary.text
    assert "applied" not in summary.text


def test_expired_asks_for_a_new_pull_request_with_the_access_files() -> None:
    expired = Decision(
        state=DecisionState.EXPIRED, reasons=("expired",), expires_at=NOW - timedelta(hours=1)
    )
    text = render(expired)
    assert "same access request files" in text
    assert "Expired at 2026-03-01T11:00+00:00 (1 hour ago)." in text


def test_kubernetes_delivery_warns_that_rbac_reveals_every_key() -> None:
    request = dataclasses.replace(
        REQUEST,
        deliver=frozenset({AccessDelivery.OPEN, AccessDelivery.KUBERNETES}),
        kubernetes_subject=KubernetesSubject("User", "dev1@acme.example"),
    )
    text = render(PENDING, request=request)
    assert "- **Delivery:**" in text.splitlines()
    assert (
        "  - Kubernetes: a Role and RoleBinding for User `dev1@acme.example` in every cluster "
        "of `production`, removed when access ends; :warning: Kubernetes RBAC cannot limit "
        "keys: the subject can read every key of these Secrets."
    ) in text.splitlines()
    whole = dataclasses.replace(
        request,
        secrets=(SecretAccess("payments/db"),),
        deliver=frozenset({AccessDelivery.KUBERNETES}),
    )
    assert "cannot limit keys" not in render(PENDING, request=whole)


def test_a_reason_quoting_a_credential_is_never_shown() -> None:
    request = dataclasses.replace(REQUEST, reason=f"need it, old one was {CANARY_TOKEN}")
    problem = Problem(REQUEST.source, "spec.reason", "looks like it holds a GitHub token", 8)
    invalid = Decision(state=DecisionState.INVALID, reasons=(str(problem),), access=True)
    for decision, problems in ((invalid, [problem]), (PENDING, [])):
        summary = summarize(decision, request=request, problems=problems)
        assert CANARY_TOKEN not in summary.text
        assert "C4N4RY" not in summary.text
        assert all("C4N4RY" not in str(a.as_json()) for a in summary.annotations)
        assert "Access requested by `dev1`: withheld:" in summary.text
    grant = dataclasses.replace(
        REVOKED, reason=request.reason, revoke_reason=f"leaked {CANARY_TOKEN}"
    )
    text = render(APPROVED, grant, request=request)
    assert "C4N4RY" not in text
    assert "by `secops`: withheld: it looks like it holds a credential" in text


def test_a_reason_the_caller_found_quoting_a_value_is_withheld() -> None:
    text = summarize(PENDING, withheld=frozenset({REQUEST.source})).text
    assert "Investigating" not in text
    assert "Access requested by `dev1`: withheld: it may hold a value" in text


def test_a_plaintext_value_still_comes_first() -> None:
    leak = Problem(REQUEST.source, "spec.secrets", PLAINTEXT_MESSAGE, 5)
    invalid = Decision(state=DecisionState.INVALID, reasons=(str(leak),), access=True)
    lines = render(invalid, problems=[leak]).splitlines()
    assert lines[2] == "> [!CAUTION]"
    assert "**Next:** fix the files listed below and push" in "\n".join(lines)


def test_several_requests_each_get_their_block_and_grant() -> None:
    other = dataclasses.replace(
        REQUEST,
        name="db",
        secrets=(SecretAccess("payments/db"),),
        reason="db migration",
        source="access/production/db-migration.yaml",
    )
    view = access_view([REQUEST, other], APPROVED, TIERS, ACTIVE, NOW)
    text = render_summary(
        APPROVED, [], fingerprints={}, requester="dev1", now=NOW, access=view
    ).text
    assert "**Access request `db-migration`** (`access/production/db-migration.yaml`)" in text
    assert "**Access request `incident-4711`**" in text
    assert "- `db-migration`: no grant recorded yet." in text
    assert "`incident-4711`: **Active:** access ends at" in text


def test_change_summaries_are_untouched_by_the_access_hook() -> None:
    # No access view: the change summary's own words, the "applies it" next step included.
    text = render_summary(
        Decision(state=DecisionState.APPROVED, reasons=()), [], fingerprints={}, now=NOW
    ).text
    assert "sealgate merges this pull request and applies it" in text
    assert "Access requested" not in text


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(seconds=1), "1 second"),
        (timedelta(seconds=90), "1 minute"),
        (timedelta(hours=2), "2 hours"),
        (timedelta(days=1, hours=6, minutes=5), "1 day 6 hours"),
        (timedelta(days=30), "30 days"),
    ],
)
def test_durations_read_as_words(span: timedelta, text: str) -> None:
    assert duration_text(span) == text


def test_names_typed_by_the_requester_cannot_break_the_markdown() -> None:
    hostile = dataclasses.replace(
        REQUEST,
        secrets=(SecretAccess("pay|ments/str`ipe\n| x |", ("K|E`Y",)),),
        requester="dev1`<img src=x>",
        reason="line one\n\n### heading\n| a | b |",
        deliver=frozenset({AccessDelivery.KUBERNETES}),
        kubernetes_subject=KubernetesSubject("User", "@acme/everyone`"),
    )
    text = render(PENDING, request=hostile)
    row = next(line for line in text.splitlines() if line.startswith("| production"))
    assert row.count(" | ") == 3, "still four cells"
    assert "`K\\|E'Y`" in row
    assert "\n### heading" not in text
    assert "<img" not in text.replace("`dev1'<img src=x>`", "")
    assert "`@acme/everyone'`" in text, "a mention inside a code span pings nobody"


def test_several_grants_title_the_most_live_one() -> None:
    other = dataclasses.replace(ENDED, id="production-pr-7-other", request_id="other")
    view = access_view([REQUEST], APPROVED, TIERS, ACTIVE, NOW, grants=[other])
    summary = render_summary(APPROVED, [], fingerprints={}, now=NOW, access=view)
    assert summary.title == "sealgate: access active"
    # The grant whose request file is not in the pull request any more is still reported.
    assert "`other`: **Ended** at" in summary.text
    assert "`incident-4711`: **Active:**" in summary.text


def test_a_kubernetes_grant_says_the_binding_comes_and_goes() -> None:
    kube = dataclasses.replace(
        GRANT,
        deliver=frozenset({AccessDelivery.KUBERNETES}),
        kubernetes_subject=KubernetesSubject("ServiceAccount", "agent", "payments"),
    )
    waiting = render(APPROVED, kube)
    assert (
        "**Next:** sealgate binds ServiceAccount `agent` in namespace `payments` in the "
        "clusters of `production`; access lasts 1 hour from the binding"
    ) in waiting
    assert "sealgate open" not in waiting.split("**Next:**")[1]
    bound = dataclasses.replace(kube, first_used_at=NOW - timedelta(minutes=30), uses=1)
    assert (
        "the RoleBinding for ServiceAccount `agent` in namespace `payments` is removed then "
        "(first used at 2026-03-01T11:30+00:00, used once)."
    ) in render(APPROVED, bound)


def test_no_state_ever_prints_a_canary_reason() -> None:
    request = dataclasses.replace(REQUEST, reason=f"see {CANARY_TOKEN}")
    for grant in (None, GRANT, ACTIVE, LAPSED, ENDED, REVOKED):
        for decision in (PENDING, APPROVED):
            summary = summarize(decision, grant, request=request)
            assert "C4N4RY" not in summary.text
            assert "C4N4RY" not in summary.title
