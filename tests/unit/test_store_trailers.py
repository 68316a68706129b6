"""Trailer values are one bounded line whatever a reason holds; lists are bounded too."""

from __future__ import annotations

import pytest

from controller.crypto.quoting import quotes_any
from controller.store.trailers import (
    MAX_REASON_TRAILERS,
    MAX_TRAILER_CHARS,
    WITHHELD,
    one_line,
    reason_trailers,
    withhold_values,
)
from controller.store.types import ApprovalRecord, ChangeReason


@pytest.mark.parametrize(
    "text",
    [
        "a\nSealgate-Approved-By: mallory",
        "a\r\nb\x00c\x1b[31mred",
        "a\u2028b\u2029c\x85d",
        "left\u202eright\u2066x\u2069\u200b",
        "x" * 5000,
    ],
)
def test_one_line_is_printable_single_and_bounded(text: str) -> None:
    flat = one_line(text)
    assert len(flat) <= MAX_TRAILER_CHARS
    assert flat.isprintable()
    assert flat == " ".join(flat.split())


def test_reason_trailers_are_bounded_in_number() -> None:
    reasons = [ChangeReason(f"production/ns/s{i}", f"reason {i}") for i in range(45)]
    trailers = reason_trailers(reasons)
    assert len(trailers) == MAX_REASON_TRAILERS + 1
    assert trailers[-1] == ("Sealgate-Reason", "and 25 more: see the audit record")


def test_only_reasons_quoting_a_value_are_withheld() -> None:
    record = ApprovalRecord(
        "production/pr-1",
        1,
        "a" * 40,
        (),
        "bot",
        bypass_reason="INC-1 leaked Tr0ub4dor&3",
        bypassed_by="alice",
        reasons=(
            ChangeReason("production/ns/a", "the new one is Tr0ub4dor&3"),
            ChangeReason("production/ns/b", "routine rotation"),
            ChangeReason("production/ns/c", "port 443"),
        ),
    )
    result = withhold_values(record, [b"Tr0ub4dor&3", b"443"])
    assert [r.reason for r in result.reasons] == [WITHHELD, "routine rotation", "port 443"]
    assert result.bypass_reason == WITHHELD
    assert withhold_values(record, []) is record


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("was s3cr3t-v4lue", True),
        ("was czNjcjN0LXY0bHVl", True),  # base64, padding dropped
        ("was 73336372337420763475 6c7565", False),  # hex broken up
        ("was 7333637233742D7634" + "6C7565", True),  # hex, upper case
        ("was S3CR3T-V4LUE", False),  # another value
        ("port prod1", False),  # shorter than a credential: not looked for
    ],
)
def test_quoting_finds_a_value_as_it_is_or_encoded(text: str, quoted: bool) -> None:
    assert quotes_any(text, [b"s3cr3t-v4lue", b"prod1"]) is quoted
