"""Stale bases, restore resolution, overlapping pull requests and their summary rows: the
pure parts, from literal store histories."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controller.documents import check_changes, parse_changes, parse_rules
from controller.github.summary import render_summary
from controller.model import Decision, DecisionState, SecretChange, Tier, frozen_map
from controller.reconciler.overlaps import OpenOverlaps
from controller.reconciler.versions import judge_versions, with_restored_tiers
from controller.store.staleness import describe, stale_against
from controller.store.types import VersionInfo
from tests.unit.test_documents import CHANGE, dump
from tests.unit.test_documents_rules import rules_files

WHEN = datetime(2026, 11, 21, tzinfo=UTC)
PATH = "production/payments/db"


def version(number: int, change_id: str, tier: Tier = Tier.SENSITIVE, **fps: str) -> VersionInfo:
    return VersionInfo(number, "c" * 40, change_id, WHEN, tier, frozen_map(fps))


HISTORY = [  # newest first, as the store returns it
    version(3, "production/pr-12", Tier.STANDARD, A="a3", C="c2"),
    version(2, "rollback-20261121", A="a2", C="c2"),
    version(1, "production/pr-1", Tier.CRITICAL, A="a1", B="b1"),
]


def change(**fields: object) -> SecretChange:
    defaults: dict[str, object] = {"secret": "payments/db", "source": "changes/production/c.yaml"}
    return SecretChange(
        name="c",
        environment="production",
        reason="r",
        **{**defaults, **fields},  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("fields", "first"),
    [
        ({"delete": ("A",), "base_version": 2}, "pull request #12"),
        ({"delete": ("A",), "base_version": 1}, "change rollback-20261121"),
        ({"delete": ("B",), "base_version": 1}, "change rollback-20261121"),
        ({"restore_version": 1, "base_version": 2}, "pull request #12"),
        ({"generate": {}, "delete": ("Z",), "base_version": 0}, "pull request #1"),
    ],
)
def test_a_later_version_touching_the_changes_keys_makes_it_stale(
    fields: dict[str, object], first: str
) -> None:
    stale = stale_against(change(**fields), HISTORY)
    assert stale is not None
    assert f"{first} " in stale.message(change(**fields))
    assert "--base-version 3" in stale.message(change(**fields))


@pytest.mark.parametrize(
    "fields",
    [
        {"delete": ("A",), "base_version": 3},
        {"delete": ("C",), "base_version": 2},  # version 3 changed A only
        {"delete": ("A",)},  # no base: not checked
    ],
)
def test_versions_that_left_the_keys_alone_are_no_conflict(fields: dict[str, object]) -> None:
    assert stale_against(change(**fields), HISTORY) is None


def test_a_store_older_than_the_base_and_a_gap_in_history_are_stale() -> None:
    ahead = stale_against(change(delete=("A",), base_version=5), HISTORY)
    assert ahead is not None
    assert "the store is older than the change" in ahead.message(change())
    gap = stale_against(change(delete=("Z",), base_version=1), [HISTORY[0], HISTORY[2]])
    assert gap is not None


def test_its_own_apply_does_not_make_a_change_stale() -> None:
    mine = change(delete=("A",), base_version=2)
    assert stale_against(mine, HISTORY, own=frozenset({"production/pr-12"})) is None


def test_describe_names_pull_requests_and_other_changes() -> None:
    assert describe("staging/pr-7") == "pull request #7"
    assert describe("rollback-x") == "change rollback-x"


def test_a_restore_resolves_rows_tiers_and_missing_versions() -> None:
    view = judge_versions(
        [change(restore_version=1), change(restore_keys=frozen_map({"B": 3, "C": 9}))],
        lambda env, secret: HISTORY,
    )
    rows = {(r.key, r.operation, r.current, r.restored) for r in view.restores[PATH]}
    assert ("A", "restore (v1)", "a3", "a1") in rows
    assert ("B", "restore (v1)", None, "b1") in rows
    assert ("C", "delete (restore v1)", "c2", None) in rows
    assert view.tiers[PATH] is Tier.CRITICAL
    messages = [p.message for p in view.problems]
    assert any("had no key B at version 3" in m and "versions holding it: 1" in m for m in messages)
    assert any("has no version 9 (its versions: 1, 2, 3)" in m for m in messages)


def test_a_restore_is_judged_and_kept_at_the_restored_tier() -> None:
    changes, moves = with_restored_tiers(
        [change(restore_version=1)], {PATH: (Tier.STANDARD, Tier.STANDARD)}, {PATH: Tier.CRITICAL}
    )
    assert changes[0].tier is Tier.CRITICAL
    assert moves[PATH] == (Tier.STANDARD, Tier.CRITICAL)


def test_overlaps_name_the_others_and_queue_them_once() -> None:
    overlaps = OpenOverlaps()
    assert overlaps.update("o/r", 1, [change(delete=("A",))]) == ()
    assert overlaps.update("o/r", 2, [change(restore_version=1)]) == (f"#1: {PATH} key A",)
    assert overlaps.rechecks("o/r") == {1}
    assert overlaps.update("o/r", 1, [change(delete=("A",))]) == (f"#2: {PATH} key A",)
    assert overlaps.rechecks("o/r") == set()  # nothing changed: no further pass
    assert overlaps.update("o/r", 3, [change(delete=("Q",)), change(secret="payments/x")]) == (
        f"#2: {PATH} key Q",
    )
    assert overlaps.rechecks("o/r") == {2}
    overlaps.keep_only("o/r", [1, 3])
    assert overlaps.rechecks("o/r") == {1, 3}
    assert overlaps.update("o/r", 3, [change(delete=("Q",))]) == ()


def test_the_summary_shows_restores_and_rivals() -> None:
    restore = change(restore_version=1)
    decision = Decision(DecisionState.PENDING, (), tiers=frozen_map({PATH: Tier.CRITICAL}))
    text = render_summary(
        decision,
        [restore],
        fingerprints={},
        restores={
            PATH: [("A", "restore (v1)", "a3", "a1"), ("C", "delete (restore v1)", "c2", None)]
        },
        others=["#4: production/payments/db key A"],
    ).text
    assert "| `A` | restore (v1) | `a3` | `a1` |" in text
    assert "| `C` | delete (restore v1) | `c2` | removed |" in text
    assert "- #4: production/payments/db key A" in text
    dry = render_summary(decision, [restore], fingerprints={}).text
    assert "| `(every key)` | restore (v1) | — | — |" in dry


def test_a_whole_restore_owns_its_secret_in_a_pull_request() -> None:
    whole = {**CHANGE, "spec": {**CHANGE["spec"], "restore": {"version": 2}}}
    del whole["spec"]["set"]
    keyed = {**CHANGE, "spec": {**CHANGE["spec"], "restore": {"keys": {"OLD": 1}}}}
    changes = [
        *parse_changes("changes/production/a.yaml", dump(whole)),
        *parse_changes("changes/production/b.yaml", dump(keyed)),
    ]
    problems = check_changes(changes, parse_rules(rules_files()))
    assert [(p.file, p.field) for p in problems] == [
        ("changes/production/a.yaml", "spec.restore.version")
    ]
    assert "also changes: restore in a pull request of its own" in problems[0].message
    alone = check_changes(changes[1:], parse_rules(rules_files()))
    assert alone == []
