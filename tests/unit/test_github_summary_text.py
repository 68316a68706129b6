"""Table tests of the summary's words: counts of people, next steps, before/after, caution
first, annotations, expiry, reason and requester."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.documents import PLAINTEXT_MESSAGE
from controller.errors import Problem
from controller.github.summary import render_summary
from controller.github.summary_keys import StoredSecret
from controller.github.summary_next import more_people_needed, relative, step_count
from controller.github.summary_problems import annotations_for
from controller.model import (
    ApprovalStep,
    Decision,
    DecisionState,
    GenerateSpec,
    Policy,
    SecretChange,
    StepResult,
    Tier,
    frozen_map,
)

SEALED = "sg1:k1:CANARY-SEALED-PAYLOAD-7f3a"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CHANGE = SecretChange(
    name="rotate",
    environment="production",
    secret="payments/stripe",
    reason="vendor notice <b>@acme/all</b> | now",
    set=frozen_map({"api-key": SEALED, "fresh": SEALED}),
    generate=frozen_map({"webhook": GenerateSpec(length=48)}),
    delete=("old-key", "ghost"),
    source="changes/production/rotate.yaml",
)
FPS = {(CHANGE.path, "api-key"): "aaaaaaaaaaaa", (CHANGE.path, "fresh"): "bbbbbbbbbbbb"}
BEFORE = {
    CHANGE.path: StoredSecret(
        version=3,
        tier=Tier.CRITICAL,
        fingerprints=frozen_map({"api-key": "111111111111", "old-key": "222222222222"}),
    )
}
POLICIES = (
    Policy(
        name="two-person",
        steps=(ApprovalStep("approvals", 2, users=frozenset({"alice", "bob"})),),
        auto_merge=False,
    ),
    Policy(
        name="security",
        steps=(ApprovalStep("sign-off", 1, teams=frozenset({"acme/security"})),),
    ),
)


def step(
    name: str, required: int, approved: tuple[str, ...], remaining: tuple[str, ...]
) -> StepResult:
    return StepResult(
        policy=name.split("/", maxsplit=1)[0],
        step=name.split("/")[1],
        required=required,
        approved_by=approved,
        eligible_remaining=remaining,
        satisfied=len(approved) >= required,
    )


@pytest.mark.parametrize(
    ("steps", "more"),
    [
        # One person in two steps counts once: "2/4" read as two people missing.
        ((step("a/x", 1, (), ("carol",)), step("b/y", 1, (), ("carol", "dave"))), 1),
        ((step("a/x", 2, ("alice",), ("bob", "carol")), step("b/y", 1, (), ("zed",))), 2),
        ((step("a/x", 2, ("alice", "bob", "dave"), ()), step("b/y", 1, (), ("carol",))), 1),
        ((step("a/x", 2, (), ("bob", "carol")), step("b/y", 2, (), ("bob", "carol"))), 2),
        ((step("a/x", 1, ("alice",), ()),), 0),
        # Nobody left to approve: the need still counts, it is not hidden.
        ((step("a/x", 2, (), ("bob",)),), 2),
    ],
)
def test_more_people_needed_counts_people_not_rules(
    steps: tuple[StepResult, ...], more: int
) -> None:
    assert more_people_needed(steps) == more


def test_many_candidates_fall_back_to_a_greedy_count() -> None:
    crowd = tuple(f"p{i:02}" for i in range(30))
    steps = (step("a/x", 2, (), crowd), step("b/y", 1, (), crowd[:1]))
    assert more_people_needed(steps) == 2


@pytest.mark.parametrize(
    ("result", "text"),
    [
        (step("a/x", 1, ("alice", "bob"), ()), "satisfied (1 approval required, 2 given)"),
        (step("a/x", 2, ("alice",), ("bob",)), "1 of 2 approvals"),
        (step("a/x", 1, (), ("bob",)), "0 of 1 approval"),
    ],
)
def test_step_counts_are_labelled_and_never_more_than_required(
    result: StepResult, text: str
) -> None:
    assert step_count(result) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=2, hours=3), "in 2 days"),
        (timedelta(hours=1, minutes=5), "in 1 hour"),
        (timedelta(minutes=-90), "1 hour ago"),
        (timedelta(seconds=20), "in under a minute"),
        (timedelta(days=-3), "3 days ago"),
    ],
)
def test_relative_time_is_fixed_by_the_evaluation_clock(delta: timedelta, text: str) -> None:
    assert relative(NOW + delta, NOW) == text


def render(decision: Decision, **kwargs: object) -> str:
    return render_summary(
        decision,
        [CHANGE],
        fingerprints=FPS,
        policies=POLICIES,
        requester="dev1",
        now=NOW,
        before=BEFORE,
        **kwargs,  # type: ignore[arg-type]
    ).text


PENDING = Decision(
    state=DecisionState.PENDING,
    reasons=(),
    steps=(
        step("two-person/approvals", 2, ("alice",), ("bob",)),
        step("security/sign-off", 1, (), ("carol", "erin")),
    ),
    expires_at=NOW + timedelta(days=2),
    tiers=frozen_map({CHANGE.path: Tier.CRITICAL}),
)
APPROVED = Decision(
    state=DecisionState.APPROVED,
    reasons=(),
    steps=(step("two-person/approvals", 2, ("alice", "bob"), ()),),
    auto_merge=False,
)


@pytest.mark.parametrize(
    ("decision", "extra", "expected"),
    [
        (
            PENDING,
            {},
            "- `security` / `sign-off`: needs 1 more approval: one of `carol`, `erin` "
            "(team `@acme/security`)",
        ),
        (PENDING, {}, "**Next:** 2 more approvals (people, not rules):"),
        (
            APPROVED,
            {},
            "**Next:** a person who may merge comments `/sealgate merge`: `dev1` (the author), "
            "`alice`, `bob`, or any member of `@acme/security`.",
        ),
        (
            Decision(state=DecisionState.APPROVED, reasons=(), auto_merge=True),
            {},
            "**Next:** sealgate merges this pull request and applies it",
        ),
        (
            Decision(state=DecisionState.EXPIRED, reasons=("expired",)),
            {},
            "**Next:** the approval window closed: open a new pull request",
        ),
        (
            Decision(state=DecisionState.INVALID, reasons=()),
            {"problems": [Problem("changes/production/rotate.yaml", "spec", "bad", 3)]},
            "**Next:** fix the files listed below and push",
        ),
        (
            APPROVED,
            {"applied": True, "after": {CHANGE.path: StoredSecret(4, Tier.CRITICAL)}},
            "**Applied:** `production/payments/stripe` version 4 is in the store",
        ),
    ],
)
def test_the_next_step_is_said_for_every_state(
    decision: Decision, extra: dict[str, object], expected: str
) -> None:
    assert expected in render(decision, **extra)


def test_the_title_names_the_people_needed_and_the_merge_wait() -> None:
    assert render(PENDING).startswith("### sealgate: waiting for approval (needs 2 more approvals)")
    assert render(APPROVED).startswith("### sealgate: approved, waiting for /sealgate merge")


def test_before_and_after_per_key() -> None:
    rows = {
        line.split(" | ")[2]: line
        for line in render(PENDING).splitlines()
        if line.startswith("| production")
    }
    assert "| changed value | `111111111111` | `aaaaaaaaaaaa` | v3 → v4 |" in rows["`api-key`"]
    assert "| new key | — | `bbbbbbbbbbbb` |" in rows["`fresh`"]
    assert "| delete | `222222222222` | deleted |" in rows["`old-key`"]
    assert "not in the secret" in rows["`ghost`"]
    assert "generated on apply" in rows["`webhook`"]
    assert all("critical" in row for row in rows.values())


def test_a_generated_value_shows_the_store_fingerprint_once_applied() -> None:
    after = {CHANGE.path: StoredSecret(4, Tier.CRITICAL, frozen_map({"webhook": "cccccccccccc"}))}
    text = render(APPROVED, applied=True, after=after)
    row = next(line for line in text.splitlines() if "`webhook`" in line)
    assert "`cccccccccccc`" in row
    assert "| v3 → v4 |" in row


def test_deleting_an_absent_key_is_a_warning_and_an_annotation() -> None:
    summary = render_summary(PENDING, [CHANGE], fingerprints=FPS, before=BEFORE, now=NOW)
    assert "key ghost is not in production/payments/stripe" in summary.text
    (warning,) = summary.annotations
    assert (warning.path, warning.level) == ("changes/production/rotate.yaml", "warning")
    unknown = render_summary(PENDING, [CHANGE], fingerprints=FPS, now=NOW)
    assert "ghost is not in" not in unknown.text, "without store state nothing is claimed"


def test_expiry_is_a_time_and_relative() -> None:
    assert "Expires at 2026-03-03T12:00+00:00 (in 2 days)." in render(PENDING)
    expired = Decision(state=DecisionState.EXPIRED, reasons=(), expires_at=NOW - timedelta(hours=5))
    assert "Expired at 2026-03-01T07:00+00:00 (5 hours ago)." in render(expired)


def test_reason_and_requester_are_shown_escaped() -> None:
    text = render(PENDING)
    line = next(line for line in text.splitlines() if line.startswith("Requested by"))
    assert line.startswith("Requested by `dev1`: vendor notice")
    assert "<b>" not in line
    assert "@acme/all" not in line
    assert "\\|" in line


def test_a_plaintext_value_is_the_first_thing_said() -> None:
    leak = Problem("changes/production/rotate.yaml", "spec.set.api-key", PLAINTEXT_MESSAGE, 12)
    other = Problem("changes/production/rotate.yaml", "spec.tier", "tier below floor", 4)
    decision = Decision(state=DecisionState.INVALID, reasons=(str(other), str(leak)))
    summary = render_summary(decision, [CHANGE], fingerprints=FPS, problems=[other, leak])
    lines = summary.text.splitlines()
    assert lines[2] == "> [!CAUTION]"
    assert "> - `changes/production/rotate.yaml:12`: `spec.set.api-key`" in lines
    first, second = summary.annotations
    assert (first.start_line, first.level) == (12, "failure")
    assert "rotate" in first.title.lower()
    assert second.start_line == 4


def test_annotations_only_for_files_and_never_values() -> None:
    problems = [
        Problem("changes/production/a.yaml", "spec.set.k", "value too weak", None),
        Problem("production", "", "no fingerprint key"),
        Problem("policies/", "spec.environments", "keep a governance policy"),
    ]
    (only,) = annotations_for(problems)
    assert (only.path, only.start_line, only.end_line) == ("changes/production/a.yaml", 1, 1)
    assert only.as_json()["annotation_level"] == "failure"
    for state in DecisionState:
        summary = render_summary(
            Decision(state=state, reasons=()), [CHANGE], fingerprints=FPS, problems=problems
        )
        assert "CANARY" not in summary.text
        assert all("CANARY" not in str(a.as_json()) for a in summary.annotations)


def test_several_reasons_are_listed_per_secret_and_long_ones_cut() -> None:
    other = SecretChange(
        name="web",
        environment="production",
        secret="web/session",
        reason="x" * 1000,
        generate=frozen_map({"key": GenerateSpec()}),
        source="changes/production/web.yaml",
    )
    text = render_summary(PENDING, [CHANGE, other], fingerprints=FPS, requester="dev1").text
    assert "Requested by `dev1`, for these reasons:" in text
    assert "- `production/web/session`: " + "x" * 299 + "…" in text
    assert "x" * 300 not in text


def test_contributors_other_than_the_author_are_not_offered_the_merge() -> None:
    text = render(APPROVED, contributors=frozenset({"dev1", "bob"}))
    assert (
        "`dev1` (the author), `alice`, or any member of `@acme/security` who did not push to "
        "this pull request."
    ) in text
