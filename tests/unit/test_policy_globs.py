"""Secret-path globs: ``*`` stays inside a segment, ``**`` spans segments."""

from __future__ import annotations

import pytest

from controller.policy import secret_glob_matches

CASES = [
    ("**", "payments/stripe", True),
    ("**", "a/b/c", True),
    ("payments/*", "payments/stripe", True),
    ("payments/*", "payments/team/stripe", False),
    ("payments/*", "billing/stripe", False),
    ("payments/**", "payments/stripe", True),
    ("payments/**", "payments/team/stripe", True),
    ("payments/**", "payments", True),
    ("payments/**", "paymentsx/stripe", False),
    ("*/stripe", "payments/stripe", True),
    ("*/stripe", "a/b/stripe", False),
    ("**/stripe", "a/b/stripe", True),
    ("**/stripe", "stripe", True),
    ("**/stripe", "a/stripe-2", False),
    ("payments/db-*", "payments/db-main", True),
    ("payments/db-*", "payments/db-", True),
    ("payments/db-*", "payments/cache-main", False),
    ("payments/*-key", "payments/stripe-key", True),
    ("payments/*-key", "payments/stripe-key2", False),
    ("payments/a*b*c", "payments/aXbYc", True),
    ("payments/a*b*c", "payments/abc", True),
    ("payments/a*b*c", "payments/acb", False),
    ("payments/ab*ba", "payments/aba", False),
    ("payments/stripe", "payments/stripe", True),
    ("payments/stripe", "payments/stripes", False),
    ("payments/st.ipe", "payments/stripe", False),
    ("*", "payments/stripe", False),
    ("*/*", "payments/stripe", True),
    ("a/**/z", "a/z", True),
    ("a/**/z", "a/b/c/z", True),
    ("a/**/z", "a/b/c/y", False),
]


@pytest.mark.parametrize(
    ("pattern", "path", "expected"), CASES, ids=[f"{p}~{t}" for p, t, _ in CASES]
)
def test_glob(pattern: str, path: str, expected: bool) -> None:
    assert secret_glob_matches(pattern, path) is expected


def test_pathological_pattern_is_fast_enough_to_finish() -> None:
    # A regex-style backtracking matcher takes exponential time here; the DP matcher does not.
    pattern = "ns/" + "a*" * 30 + "b"
    assert secret_glob_matches(pattern, "ns/" + "a" * 200) is False
